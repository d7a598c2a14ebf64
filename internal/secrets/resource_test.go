package secrets

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
)

func TestSecretResource(t *testing.T) {
	e := newEnv(t)
	sec := e.create(t, "db-password", "hunter2")
	r, err := e.s.SecretResource(e.ctx, sec.ID)
	want := authz.Resource{ID: sec.ID, Name: "db-password", CompartmentID: e.comp, VaultID: e.vault, KeyID: e.key}
	if err != nil || *r != want {
		t.Fatalf("SecretResource = %+v, %v; want %+v", r, err, want)
	}
	if _, err := e.s.SecretResource(e.ctx, ocid.New(ocid.Secret, "test")); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing secret: %v, want NotFound", err)
	}
}

func TestCompartmentInUse(t *testing.T) {
	e := newEnv(t)
	if what, inUse, err := e.s.CompartmentInUse(e.ctx, e.comp); err != nil || inUse {
		t.Fatalf("empty compartment: %q %v %v", what, inUse, err)
	}
	sec := e.create(t, "api-token", "v1")
	what, inUse, err := e.s.CompartmentInUse(e.ctx, e.comp)
	if err != nil || !inUse || what != "secret api-token (ACTIVE)" {
		t.Fatalf("with a secret: %q %v %v", what, inUse, err)
	}
	// A secret pending deletion still holds the compartment; a deleted one
	// does not.
	const day = 24 * time.Hour
	if _, err := e.s.ScheduleSecretDeletion(e.ctx, ScheduleDeletionRequest{SecretID: sec.ID, TimeOfDeletion: ptr(e.clock.Now().Add(2 * day))}); err != nil {
		t.Fatal(err)
	}
	if what, inUse, err := e.s.CompartmentInUse(e.ctx, e.comp); err != nil || !inUse || what != "secret api-token (PENDING_DELETION)" {
		t.Fatalf("pending deletion: %q %v %v", what, inUse, err)
	}
	e.clock.Advance(3 * day)
	if _, err := e.s.CompleteDueDeletions(e.ctx); err != nil {
		t.Fatal(err)
	}
	if what, inUse, err := e.s.CompartmentInUse(e.ctx, e.comp); err != nil || inUse {
		t.Fatalf("after deletion: %q %v %v", what, inUse, err)
	}
}
