package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// Every console login computes exactly one hash, whoever it names; only
// the right password of an active user with a password succeeds.
func TestCheckUIPassword(t *testing.T) {
	ctx := context.Background()
	svc, res := bootstrapped(t)
	svc.PasswordParams = PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}
	name, desc := "Alice", "x"
	u, err := svc.CreateUser(ctx, UserInput{CompartmentID: res.TenancyID, Name: &name, Description: &desc})
	if err != nil {
		t.Fatal(err)
	}
	nopw, other := "bob", "y"
	if _, err := svc.CreateUser(ctx, UserInput{CompartmentID: res.TenancyID, Name: &nopw, Description: &other}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreateOrResetUIPassword(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(p.Password) + fmt.Sprintf("%v %+v", p, p); strings.Contains(s, string(p.Password)) {
		t.Fatal("the password prints")
	}
	rec, err := svc.UIPasswordInformation(ctx, u.ID)
	if err != nil || rec.Hash.Algorithm != "argon2id" || rec.Hash.Version != argon2.Version || rec.Hash.Params != svc.PasswordParams ||
		len(rec.Hash.Salt) != 16 || len(rec.Hash.Key) != 32 || rec.Stamp == "" {
		t.Fatalf("stored record %+v (%v)", rec, err)
	}

	for _, tc := range []struct {
		name, password string
		ok             bool
	}{
		{"alice", string(p.Password), true}, // names without regard to case
		{"Alice", string(p.Password), true},
		{"Alice", string(p.Password) + "x", false},
		{"nobody", string(p.Password), false},
		{"bob", "anything", false}, // no console password
	} {
		before := svc.hashes.Load()
		cu, err := svc.CheckUIPassword(ctx, tc.name, []byte(tc.password))
		if n := svc.hashes.Load() - before; n != 1 {
			t.Errorf("login as %s computed %d hashes, want 1", tc.name, n)
		}
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, ErrBadLogin)) {
			t.Errorf("login as %s: %v, want ok=%v", tc.name, err, tc.ok)
		}
		if tc.ok && (cu.UserID != u.ID || cu.Stamp != rec.Stamp) {
			t.Errorf("login as %s = %+v", tc.name, cu)
		}
	}
	if _, err := svc.ConsolePrincipal(ctx, u.ID, rec.Stamp); err != nil {
		t.Fatalf("principal: %v", err)
	}

	// Blocked: no login, and the session's principal is gone.
	if _, err := svc.UpdateUserState(ctx, u.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CheckUIPassword(ctx, "alice", []byte(p.Password)); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("blocked user logs in: %v", err)
	}
	if _, err := svc.ConsolePrincipal(ctx, u.ID, rec.Stamp); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("blocked user's session: %v", err)
	}
	if _, err := svc.UpdateUserState(ctx, u.ID, false, ""); err != nil {
		t.Fatal(err)
	}
	// A reset changes the stamp: older sessions end.
	if _, err := svc.CreateOrResetUIPassword(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConsolePrincipal(ctx, u.ID, rec.Stamp); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("session after a reset: %v", err)
	}
	// Deleting the user deletes the password.
	if err := svc.DeleteUser(ctx, u.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConsolePrincipal(ctx, u.ID, rec.Stamp); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("deleted user's session: %v", err)
	}
	if _, err := svc.CheckUIPassword(ctx, "alice", []byte(p.Password)); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("deleted user logs in: %v", err)
	}
}

// BenchmarkUIPasswordHash measures one login's hash with the default
// parameters.
func BenchmarkUIPasswordHash(b *testing.B) {
	svc := New(nil, testIndex(b), "local", nil)
	salt := make([]byte, 16)
	for b.Loop() {
		if _, err := svc.hash(context.Background(), []byte("password"), salt, DefaultPasswordParams); err != nil {
			b.Fatal(err)
		}
	}
}
