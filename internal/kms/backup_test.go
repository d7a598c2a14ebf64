package kms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/clocktest"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/protecttest"
	"github.com/coffer-vault/coffer/internal/keyprotect/software"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// deployment is a KMS service over its own store, barrier and sealer, as
// one Coffer deployment has.
type deployment struct {
	s     *kms.Service
	b     *barrier.Barrier
	clock *clocktest.Clock
}

func newDeployment(t testing.TB) deployment {
	t.Helper()
	raw := memstore.New()
	root, _ := barrier.GenerateRootKey()
	b, err := barrier.Unseal(context.Background(), raw, root)
	if err != nil {
		t.Fatal(err)
	}
	c := clocktest.New(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	s := kms.New(b.Wrap(raw), "test", c.Now)
	seal := protecttest.NewSealer()
	s.SetProtections(kms.Protections{Software: software.New(seal), HSM: software.NewEmulatedHSM(seal)})
	s.SetBackupSealer(b)
	return deployment{s: s, b: b, clock: c}
}

func (d deployment) vault(t testing.TB, typ string) kms.Vault {
	t.Helper()
	v, err := d.s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: "ocid1.tenancy.oc1..t", DisplayName: "v", VaultType: typ})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func importAES(t testing.TB, s *kms.Service, v kms.Vault, material []byte) kms.Key {
	t.Helper()
	w, err := s.GetWrappingKey(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keyprotect.ParseRSAPublicKeyPEM(w.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := keyprotect.Wrap(keyprotect.RSAOAEPSHA256Wrap, pub, material)
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.ImportKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: v.CompartmentID, DisplayName: "imported", Shape: aes256, ProtectionMode: kms.ModeSoftware},
		kms.WrappedMaterial{Algorithm: keyprotect.RSAOAEPSHA256Wrap, Material: wrapped})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBackupVaultRestoreElsewhere(t *testing.T) {
	a, b := newDeployment(t), newDeployment(t)
	v := a.vault(t, kms.VaultTypeVirtualPrivate)
	material := bytes.Repeat([]byte("CANARY-MATERIAL!"), 2)
	k := importAES(t, a.s, v, material)
	rsa := createKey(t, a.s, v, keyprotect.Shape{Algorithm: keyprotect.RSA, Length: 256}, kms.ModeHSM)
	dek := bytes.Repeat([]byte{7}, 32)
	wrapped, _, err := a.s.WrapDataKey(ctx, v.ID, k.ID, dek, []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	_, blob, err := a.s.BackupVault(ctx, v.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, canary := range [][]byte{material, []byte(base64.StdEncoding.EncodeToString(material))} {
		if bytes.Contains(blob, canary) {
			t.Fatal("the backup holds key material in clear")
		}
	}
	if _, err := b.s.OpenBackup(blob, kms.BackupKindVault); !errs.Is(err, errs.Invalid) {
		t.Fatalf("restore without the backup key: %v, want Invalid", err)
	}
	pass := []byte("correct horse battery staple")
	file, _, err := a.b.ExportBackupKey(ctx, pass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.b.ImportBackupKey(ctx, file, pass); err != nil {
		t.Fatal(err)
	}
	bk, err := b.s.OpenBackup(blob, kms.BackupKindVault)
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Wipe()
	got, err := b.s.RestoreVault(ctx, bk, "ocid1.tenancy.oc1..other")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != v.ID || got.RestoredFromVaultID != v.ID || got.State != kms.VaultActive || got.CompartmentID != "ocid1.tenancy.oc1..other" {
		t.Fatalf("restored vault = %+v", got)
	}
	ks, _ := b.s.GetKey(ctx, v.ID, k.ID)
	pt, err := b.s.UnwrapDataKey(ctx, k.ID, ks.CurrentVersion, wrapped, []byte("aad"))
	if err != nil || !bytes.Equal(pt, dek) {
		t.Fatalf("decrypt after restore: %v", err)
	}
	rk, err := b.s.GetKey(ctx, v.ID, rsa.ID)
	if err != nil || rk.CompartmentID != "ocid1.tenancy.oc1..other" || rk.RestoredFromKeyID != rsa.ID {
		t.Fatalf("restored RSA key = %+v, %v", rk, err)
	}
	// Restoring again: the vault exists.
	if _, err := b.s.RestoreVault(ctx, bk, "ocid1.tenancy.oc1..other"); !errs.Is(err, errs.Conflict) {
		t.Errorf("second restore: %v, want Conflict", err)
	}
}

func TestBackupKeyRestoreAfterDeletion(t *testing.T) {
	d := newDeployment(t)
	v := d.vault(t, kms.VaultTypeVirtualPrivate)
	k := createKey(t, d.s, v, aes256, kms.ModeSoftware)
	_, blob, err := d.s.BackupKey(ctx, v.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := d.s.OpenBackup(blob, kms.BackupKindKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.s.RestoreKey(ctx, bk, v.ID, v.CompartmentID); !errs.Is(err, errs.Conflict) {
		t.Fatalf("restore over an existing key: %v, want Conflict", err)
	}
	if _, err := d.s.OpenBackup(blob, kms.BackupKindVault); !errs.Is(err, errs.Invalid) {
		t.Errorf("key backup as a vault backup: %v", err)
	}
	other := d.vault(t, kms.VaultTypeVirtualPrivate)
	if _, err := d.s.RestoreKey(ctx, bk, other.ID, v.CompartmentID); !errs.Is(err, errs.Invalid) {
		t.Errorf("restore into another vault: %v, want Invalid", err)
	}
	if _, err := d.s.ScheduleVaultDeletion(ctx, v.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	_, err = d.s.RestoreKey(ctx, bk, v.ID, v.CompartmentID)
	if want := "keys can be restored only into an ACTIVE vault"; !errs.Is(err, errs.IncorrectState) || !strings.Contains(errs.Message(err), want) {
		t.Errorf("restore into a vault pending deletion: %v, want IncorrectState saying %q", err, want)
	}
}

func TestBackupRefusals(t *testing.T) {
	d := newDeployment(t)
	def := d.vault(t, kms.VaultTypeDefault)
	if _, _, err := d.s.BackupVault(ctx, def.ID, false); !errs.Is(err, errs.Invalid) {
		t.Errorf("backup of a DEFAULT vault: %v, want Invalid", err)
	}
	// A key in a (non-emulated) token: its material cannot leave.
	raw := memstore.New()
	root, _ := barrier.GenerateRootKey()
	b, _ := barrier.Unseal(ctx, raw, root)
	s := kms.New(b.Wrap(raw), "test", nil)
	seal := protecttest.NewSealer()
	s.SetProtections(kms.Protections{Software: software.New(seal), HSM: software.New(seal)})
	s.SetBackupSealer(b)
	v, _ := s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: "ocid1.tenancy.oc1..t", DisplayName: "v", VaultType: kms.VaultTypeVirtualPrivate})
	k := createKey(t, s, v, aes256, kms.ModeHSM)
	_, _, err := s.BackupVault(ctx, v.ID, true)
	if !errs.Is(err, errs.Invalid) || !bytes.Contains([]byte(errs.Message(err)), []byte(k.ID)) {
		t.Errorf("backup of a vault with a token key: %v, want Invalid naming %s", err, k.ID)
	}
	if _, _, err := s.BackupVault(ctx, v.ID, false); err != nil {
		t.Errorf("backup of the vault without keys: %v", err)
	}
}

func TestOpenBackupTampered(t *testing.T) {
	d := newDeployment(t)
	v := d.vault(t, kms.VaultTypeVirtualPrivate)
	createKey(t, d.s, v, aes256, kms.ModeSoftware)
	_, blob, err := d.s.BackupVault(ctx, v.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(blob); i += max(1, len(blob)/200) {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x20
		if _, err := d.s.OpenBackup(bad, kms.BackupKindVault); !errs.Is(err, errs.Invalid) {
			t.Fatalf("byte %d changed: %v, want Invalid", i, err)
		}
	}
	for _, n := range []int{0, 5, 20, 60, len(blob) - 1} {
		if _, err := d.s.OpenBackup(blob[:n], kms.BackupKindVault); !errs.Is(err, errs.Invalid) {
			t.Fatalf("truncated to %d: %v, want Invalid", n, err)
		}
	}
}

// FuzzOpenBackup: no input makes the decoder panic, and nothing but the
// backup itself opens.
func FuzzOpenBackup(f *testing.F) {
	d := newDeployment(f)
	v := d.vault(f, kms.VaultTypeVirtualPrivate)
	k := createKey(f, d.s, v, aes256, kms.ModeSoftware)
	_, vb, err := d.s.BackupVault(ctx, v.ID, true)
	if err != nil {
		f.Fatal(err)
	}
	_, kb, err := d.s.BackupKey(ctx, v.ID, k.ID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(vb)
	f.Add(kb)
	f.Add([]byte("COFFERBK\x01\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, blob []byte) {
		for _, kind := range []string{kms.BackupKindVault, kms.BackupKindKey} {
			b, err := d.s.OpenBackup(blob, kind)
			if err == nil {
				b.Wipe()
				if !bytes.Equal(blob, vb) && !bytes.Equal(blob, kb) {
					t.Fatalf("a changed backup opened")
				}
				continue
			}
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("OpenBackup: %v, want Invalid", err)
			}
		}
	})
}

// TestRestoreAfterDeletion: a vault pending deletion is a 409; once its
// deletion completed, the backup restores it in the same deployment, with
// its endpoint slot, and its keys decrypt again.
func TestRestoreAfterDeletion(t *testing.T) {
	d := newDeployment(t)
	v := d.vault(t, kms.VaultTypeVirtualPrivate)
	k := createKey(t, d.s, v, aes256, kms.ModeSoftware)
	dek := bytes.Repeat([]byte{9}, 32)
	wrapped, ver, err := d.s.WrapDataKey(ctx, v.ID, k.ID, dek, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, blob, err := d.s.BackupVault(ctx, v.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.s.ScheduleVaultDeletion(ctx, v.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	bk, err := d.s.OpenBackup(blob, kms.BackupKindVault)
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Wipe()
	if _, err := d.s.RestoreVault(ctx, bk, v.CompartmentID); !errs.Is(err, errs.Conflict) {
		t.Fatalf("restore over a vault pending deletion: %v, want Conflict", err)
	}
	d.clock.Advance(31 * 24 * time.Hour)
	if _, err := d.s.RunKeyJobs(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := d.s.CompleteDueDeletions(ctx); err != nil || n != 1 {
		t.Fatalf("CompleteDueDeletions = %d, %v", n, err)
	}
	if _, err := d.s.UnwrapDataKey(ctx, k.ID, ver, wrapped, nil); err == nil {
		t.Fatal("a deleted key still decrypts")
	}
	got, err := d.s.RestoreVault(ctx, bk, v.CompartmentID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Slot != v.Slot || got.State != kms.VaultActive {
		t.Fatalf("restored vault: slot %d (was %d), %s", got.Slot, v.Slot, got.State)
	}
	pt, err := d.s.UnwrapDataKey(ctx, k.ID, ver, wrapped, nil)
	if err != nil || !bytes.Equal(pt, dek) {
		t.Fatalf("decrypt after restore: %v", err)
	}
}
