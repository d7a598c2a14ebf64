package kms_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/clocktest"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/protecttest"
	"github.com/coffer-vault/coffer/internal/keyprotect/software"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/secrets"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// The secrets domain wraps its data keys through the KMS service.
var _ secrets.KeyUser = (*kms.Service)(nil)

var ctx = context.Background()

func newService(t testing.TB) (*kms.Service, kms.Vault, *clocktest.Clock) {
	t.Helper()
	c := clocktest.New(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	s := kms.New(memstore.New(), "test", c.Now)
	seal := protecttest.NewSealer()
	emu := software.NewEmulatedHSM(seal)
	s.SetProtections(kms.Protections{Software: software.New(seal), HSM: emu})
	v, err := s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: "ocid1.tenancy.oc1..t", DisplayName: "v", VaultType: kms.VaultTypeDefault})
	if err != nil {
		t.Fatal(err)
	}
	return s, v, c
}

func createKey(t testing.TB, s *kms.Service, v kms.Vault, shape keyprotect.Shape, mode string) kms.Key {
	t.Helper()
	k, err := s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: v.CompartmentID, DisplayName: "k", Shape: shape, ProtectionMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var aes256 = keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}

func TestKeyUser(t *testing.T) {
	s, v, _ := newService(t)
	k := createKey(t, s, v, aes256, kms.ModeHSM)
	if !k.HSMEmulated {
		t.Fatal("emulated HSM key not marked")
	}
	dek := bytes.Repeat([]byte{7}, 32)
	aad := []byte("secret-ocid/1")
	wrapped, ver, err := s.WrapDataKey(ctx, v.ID, k.ID, dek, aad)
	if err != nil || ver != k.CurrentVersion {
		t.Fatalf("WrapDataKey: %v %s", err, ver)
	}
	if bytes.Contains(wrapped, dek) {
		t.Fatal("wrapped data key contains the data key")
	}
	// Rotation: the recorded version still unwraps.
	if _, err := s.CreateKeyVersion(ctx, v.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.UnwrapDataKey(ctx, k.ID, ver, wrapped, aad)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("UnwrapDataKey after rotation: %v", err)
	}
	if _, err := s.UnwrapDataKey(ctx, k.ID, ver, wrapped, []byte("other")); !errs.Is(err, errs.Invalid) {
		t.Fatalf("wrong aad: %v", err)
	}

	other, _ := s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: v.CompartmentID, DisplayName: "o", VaultType: kms.VaultTypeDefault})
	rsaKey := createKey(t, s, v, keyprotect.Shape{Algorithm: keyprotect.RSA, Length: 256}, kms.ModeSoftware)
	for _, tc := range []struct {
		name         string
		vault, keyID string
		kind         errs.Kind
	}{
		{"other vault", other.ID, k.ID, errs.RelatedNotFound},
		{"no such key", v.ID, "ocid1.key.oc1..nope", errs.RelatedNotFound},
		{"RSA key", v.ID, rsaKey.ID, errs.Invalid},
	} {
		if _, _, err := s.WrapDataKey(ctx, tc.vault, tc.keyID, dek, aad); !errs.Is(err, tc.kind) {
			t.Errorf("%s: WrapDataKey error %v, want kind %d", tc.name, err, tc.kind)
		}
	}

	if _, err := s.DisableKey(ctx, v.ID, k.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.WrapDataKey(ctx, v.ID, k.ID, dek, aad); !errs.Is(err, errs.Disabled) {
		t.Fatalf("wrap with a disabled key: %v", err)
	}
	if _, err := s.UnwrapDataKey(ctx, k.ID, ver, wrapped, aad); !errs.Is(err, errs.Disabled) {
		t.Fatalf("unwrap with a disabled key: %v", err)
	}
	if _, err := s.EnableKey(ctx, v.ID, k.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScheduleKeyDeletion(ctx, v.ID, k.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UnwrapDataKey(ctx, k.ID, ver, wrapped, aad); !errs.Is(err, errs.Disabled) {
		t.Fatalf("unwrap with a key pending deletion: %v", err)
	}
}

func TestDeletedKeyMaterialIsDestroyed(t *testing.T) {
	s, v, c := newService(t)
	k := createKey(t, s, v, aes256, kms.ModeSoftware)
	wrapped, ver, err := s.WrapDataKey(ctx, v.ID, k.ID, []byte("0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScheduleKeyDeletion(ctx, v.ID, k.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	c.Advance(29 * 24 * time.Hour)
	if res, err := s.RunKeyJobs(ctx); err != nil || res.KeysDeleted != 0 {
		t.Fatalf("deleted early: %+v %v", res, err)
	}
	c.Advance(2 * 24 * time.Hour)
	if res, err := s.RunKeyJobs(ctx); err != nil || res.KeysDeleted != 1 {
		t.Fatalf("not deleted: %+v %v", res, err)
	}
	_, kv, err := s.GetKeyVersion(ctx, v.ID, k.ID, ver)
	if err != nil || kv.State != kms.KeyDeleted || len(kv.Blob) != 0 {
		t.Fatalf("version after key deletion: %v %s blob %d", err, kv.State, len(kv.Blob))
	}
	if _, err := s.UnwrapDataKey(ctx, k.ID, ver, wrapped, nil); !errs.Is(err, errs.Disabled) {
		t.Fatalf("unwrap after deletion: %v", err)
	}
	u, err := s.GetVaultUsage(ctx, v.ID)
	if err != nil || u != (kms.VaultUsage{}) {
		t.Fatalf("usage after deletion: %+v %v", u, err)
	}
}

// FuzzDecrypt feeds arbitrary ciphertexts to Decrypt: whatever the input,
// the answer is a plaintext or a classified caller error, never an
// internal error (a 500) or a panic.
func FuzzDecrypt(f *testing.F) {
	s, v, _ := newService(f)
	k := createKey(f, s, v, aes256, kms.ModeSoftware)
	t0, err := s.LoadCryptoTarget(ctx, v.ID, k.ID, "")
	if err != nil {
		f.Fatal(err)
	}
	ct, _, err := s.Encrypt(ctx, t0, "", []byte("seed"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct)
	f.Add(ct[:len(ct)-1])
	f.Add([]byte{1, 1, 0, 1, 'x'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tgt, err := s.LoadCryptoTarget(ctx, v.ID, k.ID, kms.DecryptVersion("", b))
		if err != nil {
			if !errs.Is(err, errs.NotFound) {
				t.Fatalf("load: %v", err)
			}
			return
		}
		pt, _, err := s.Decrypt(ctx, tgt, "", b, nil)
		if err != nil && errs.KindOf(err) == errs.Internal {
			t.Fatalf("internal error for caller input: %v", err)
		}
		if err == nil && !bytes.Equal(pt.Bytes(), []byte("seed")) {
			t.Fatalf("forged plaintext %q", pt.Bytes())
		}
	})
}
