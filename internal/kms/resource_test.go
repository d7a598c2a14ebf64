package kms_test

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/kms"
)

// DeleteCompartment asks the KMS whether a compartment still holds vaults
// or keys.
var _ identity.CompartmentUsage = (*kms.Service)(nil)

const (
	missingVault = "ocid1.vault.oc1..missing"
	missingKey   = "ocid1.key.oc1..missing"
)

func TestResources(t *testing.T) {
	s, v, _ := newService(t)
	k := createKey(t, s, v, aes256, kms.ModeSoftware)
	other, err := s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: v.CompartmentID, DisplayName: "other", VaultType: kms.VaultTypeDefault})
	if err != nil {
		t.Fatal(err)
	}
	wantVault := authz.Resource{ID: v.ID, Name: "v", CompartmentID: v.CompartmentID, VaultID: v.ID}
	wantKey := authz.Resource{ID: k.ID, Name: "k", CompartmentID: k.CompartmentID, VaultID: v.ID}

	if r, err := s.VaultResource(ctx, v.ID); err != nil || *r != wantVault {
		t.Errorf("VaultResource = %+v, %v; want %+v", r, err, wantVault)
	}
	if r, err := s.KeyResource(ctx, v.ID, k.ID); err != nil || *r != wantKey {
		t.Errorf("KeyResource = %+v, %v; want %+v", r, err, wantKey)
	}
	// The explain API reports a missing target: strict lookups are NotFound,
	// and a key is not found through another vault.
	for name, err := range map[string]error{
		"missing vault":      second(s.VaultResource(ctx, missingVault)),
		"missing key":        second(s.KeyResource(ctx, v.ID, missingKey)),
		"key of other vault": second(s.KeyResource(ctx, other.ID, k.ID)),
	} {
		if !errs.Is(err, errs.NotFound) {
			t.Errorf("%s: %v, want NotFound", name, err)
		}
	}

	// Secret operations let the authorizer decide: what is missing comes
	// back as a resource with only its ids.
	for _, tc := range []struct {
		name             string
		vaultID, keyID   string
		wantVault, wantK authz.Resource
	}{
		{"both exist", v.ID, k.ID, wantVault, wantKey},
		{"missing vault", missingVault, k.ID, authz.Resource{ID: missingVault, VaultID: missingVault}, authz.Resource{ID: k.ID, VaultID: missingVault}},
		{"missing key", v.ID, missingKey, wantVault, authz.Resource{ID: missingKey, VaultID: v.ID}},
		{"key of other vault", other.ID, k.ID, *other.Resource(), authz.Resource{ID: k.ID, VaultID: other.ID}},
	} {
		gv, gk, err := s.SecretTargets(ctx, tc.vaultID, tc.keyID)
		if err != nil || *gv != tc.wantVault || *gk != tc.wantK {
			t.Errorf("%s: SecretTargets = %+v, %+v, %v; want %+v, %+v", tc.name, gv, gk, err, tc.wantVault, tc.wantK)
		}
	}
}

func second(_ *authz.Resource, err error) error { return err }

func TestCompartmentInUse(t *testing.T) {
	s, v, _ := newService(t)
	const elsewhere = "ocid1.compartment.oc1..elsewhere"
	what, inUse, err := s.CompartmentInUse(ctx, v.CompartmentID)
	if err != nil || !inUse || what != "vault v (ACTIVE)" {
		t.Errorf("vault's compartment: %q %v %v", what, inUse, err)
	}
	if what, inUse, err := s.CompartmentInUse(ctx, elsewhere); err != nil || inUse {
		t.Errorf("empty compartment: %q %v %v", what, inUse, err)
	}
	// A key may sit in another compartment than its vault.
	if _, err := s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: elsewhere, DisplayName: "far", Shape: aes256, ProtectionMode: kms.ModeSoftware}); err != nil {
		t.Fatal(err)
	}
	what, inUse, err = s.CompartmentInUse(ctx, elsewhere)
	if err != nil || !inUse || what != "key far (ENABLED)" {
		t.Errorf("key's compartment: %q %v %v", what, inUse, err)
	}
}
