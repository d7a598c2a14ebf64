package kms_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/kms"
)

var rsa2048 = keyprotect.Shape{Algorithm: keyprotect.RSA, Length: 256}

func wantLimit(t *testing.T, err error, parts ...string) {
	t.Helper()
	if !errs.Is(err, errs.LimitExceeded) {
		t.Fatalf("got %v, want LimitExceeded", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("message %q does not name %q", err, p)
		}
	}
}

func rotate(t *testing.T, s *kms.Service, v kms.Vault, k kms.Key, n int) {
	t.Helper()
	for range n {
		if _, err := s.CreateKeyVersion(ctx, v.ID, k.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// OCI's defaults: 100 software-protected versions in a DEFAULT vault.
func TestDefaultKeyVersionLimit(t *testing.T) {
	if d := kms.DefaultLimits(); d != (kms.Limits{SoftwareVersions: 100, HSMVersions: 100, PrivateHSMVersions: 3000}) {
		t.Fatalf("DefaultLimits = %+v", d)
	}
	s, v, _ := newService(t)
	k := createKey(t, s, v, aes256, kms.ModeSoftware)
	rotate(t, s, v, k, 99)
	_, err := s.CreateKeyVersion(ctx, v.ID, k.ID)
	wantLimit(t, err, "100 SOFTWARE-protected", "DEFAULT")
	// The HSM budget is separate.
	createKey(t, s, v, aes256, kms.ModeHSM)
}

func TestKeyVersionLimits(t *testing.T) {
	s, v, c := newService(t)
	s.SetLimits(kms.Limits{SoftwareVersions: 3, HSMVersions: 4, PrivateHSMVersions: 6})

	soft := createKey(t, s, v, aes256, kms.ModeSoftware)
	rotate(t, s, v, soft, 2)
	_, err := s.CreateKeyVersion(ctx, v.ID, soft.ID)
	wantLimit(t, err, "limit of 3 SOFTWARE-protected key versions")
	_, err = s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: v.CompartmentID, DisplayName: "k", Shape: aes256, ProtectionMode: kms.ModeSoftware})
	wantLimit(t, err)
	if vs, _, err := s.ListKeyVersions(ctx, v.ID, soft.ID, kms.ListOptions{}); err != nil || len(vs) != 3 {
		t.Fatalf("versions after refusals: %d %v", len(vs), err)
	}

	// An asymmetric version counts twice: 2 RSA versions fill 4 HSM units.
	rsaKey := createKey(t, s, v, rsa2048, kms.ModeHSM)
	rotate(t, s, v, rsaKey, 1)
	_, err = s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: v.CompartmentID, DisplayName: "k", Shape: aes256, ProtectionMode: kms.ModeHSM})
	wantLimit(t, err, "limit of 4 HSM-protected", "asymmetric versions count twice")

	// Versions pending deletion still count; DELETED ones do not.
	if _, err := s.ScheduleKeyDeletion(ctx, v.ID, soft.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: v.CompartmentID, DisplayName: "k", Shape: aes256, ProtectionMode: kms.ModeSoftware})
	wantLimit(t, err)
	c.Advance(31 * 24 * time.Hour)
	if res, err := s.RunKeyJobs(ctx); err != nil || res.KeysDeleted != 1 {
		t.Fatalf("key jobs: %+v %v", res, err)
	}
	createKey(t, s, v, aes256, kms.ModeSoftware)

	// A VIRTUAL_PRIVATE vault has its own, larger HSM limit.
	pv, err := s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: v.CompartmentID, DisplayName: "p", VaultType: kms.VaultTypeVirtualPrivate})
	if err != nil {
		t.Fatal(err)
	}
	pk := createKey(t, s, pv, aes256, kms.ModeHSM)
	rotate(t, s, pv, pk, 5)
	_, err = s.CreateKeyVersion(ctx, pv.ID, pk.ID)
	wantLimit(t, err, "limit of 6 HSM-protected", "VIRTUAL_PRIVATE")
}
