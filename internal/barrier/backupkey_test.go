package barrier

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

func unsealed(t *testing.T) (*Barrier, store.Store, RootKey) {
	t.Helper()
	ctx := context.Background()
	raw := memstore.New()
	root, _ := GenerateRootKey()
	if err := Initialize(ctx, raw, root, SealConfig{Type: SealShamir, Shares: 3, Threshold: 2}, time.Now()); err != nil {
		t.Fatal(err)
	}
	b, err := Unseal(ctx, raw, root)
	if err != nil {
		t.Fatal(err)
	}
	return b, raw, root
}

// TestBackupKeyKeptAcrossRotateAndRekey: a backup sealed before rotation
// and rekeying opens after both.
func TestBackupKeyKeptAcrossRotateAndRekey(t *testing.T) {
	ctx := context.Background()
	b, raw, _ := unsealed(t)
	id, err := b.ActiveBackupKeyID()
	if err != nil || len(id) != 32 {
		t.Fatalf("ActiveBackupKeyID = %q, %v", id, err)
	}
	ct, err := b.SealBackup(id, []byte("header"), []byte("content"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rotate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	newRoot, _ := GenerateRootKey()
	if err := b.Rekey(ctx, newRoot, nil); err != nil {
		t.Fatal(err)
	}
	again, err := Unseal(ctx, raw, newRoot)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := again.ActiveBackupKeyID(); got != id {
		t.Errorf("backup key id after rotate and rekey = %s, want %s", got, id)
	}
	pt, err := again.OpenBackup(id, []byte("header"), ct)
	if err != nil || string(pt) != "content" {
		t.Fatalf("OpenBackup = %q, %v", pt, err)
	}
	if _, err := again.OpenBackup(id, []byte("other header"), ct); !errors.Is(err, ErrDecrypt) {
		t.Errorf("OpenBackup with another aad: %v, want ErrDecrypt", err)
	}
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	if _, err := again.OpenBackup(id, []byte("header"), bad); !errors.Is(err, ErrDecrypt) {
		t.Errorf("OpenBackup of a changed ciphertext: %v, want ErrDecrypt", err)
	}
	if _, err := again.OpenBackup(id, []byte("header"), ct[:10]); !errors.Is(err, ErrDecrypt) {
		t.Errorf("OpenBackup of a short ciphertext: %v, want ErrDecrypt", err)
	}
	if _, err := again.OpenBackup("0123456789abcdef0123456789abcdef", []byte("header"), ct); !errors.Is(err, ErrUnknownBackupKey) {
		t.Errorf("OpenBackup with an unknown id: %v, want ErrUnknownBackupKey", err)
	}
	again.Close()
	if _, err := again.ActiveBackupKeyID(); !errors.Is(err, ErrSealed) {
		t.Errorf("ActiveBackupKeyID after Close: %v", err)
	}
}

// TestV2KeyringGainsBackupKey: a keyring written before backup keys (v2)
// gains one at unseal and is rewritten as v3, which a v2 binary cannot
// open (it would drop the backup key); the index key is unchanged.
func TestV2KeyringGainsBackupKey(t *testing.T) {
	ctx := context.Background()
	raw := memstore.New()
	root, _ := GenerateRootKey()
	a, _ := newAEAD(root.b[:])
	kr, err := newKeyring(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	index := bytes.Clone(kr.Index)
	kr.Backup, kr.BackupActive = nil, ""
	plain, _ := json.Marshal(kr)
	ct, _ := seal(a, 0, plain, []byte(v2KeyringAAD))
	if err := raw.Update(ctx, func(tx store.Tx) error { return tx.Put(KeyringPath, ct) }); err != nil {
		t.Fatal(err)
	}
	b, err := Unseal(ctx, raw, root)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := b.ActiveBackupKeyID(); id == "" {
		t.Fatal("no backup key after unsealing a v2 keyring")
	}
	stored := storedKeyring(t, raw)
	lookup := func(uint32) (cipher.AEAD, error) { return a, nil }
	if _, err := open(lookup, stored, []byte(v2KeyringAAD)); !errors.Is(err, ErrDecrypt) {
		t.Errorf("the upgraded keyring opens as v2: %v", err)
	}
	got, err := openKeyring(a, stored)
	if err != nil || !bytes.Equal(got.Index, index) {
		t.Errorf("index key changed by the upgrade (%v)", err)
	}
}

// TestBackupKeyExportImport: a second deployment that imports the first's
// backup key opens its backups; a wrong passphrase, a changed file or a
// weak passphrase are refused; the file never holds the key in clear.
func TestBackupKeyExportImport(t *testing.T) {
	ctx := context.Background()
	a, rawA, _ := unsealed(t)
	b, _, _ := unsealed(t)
	idA, _ := a.ActiveBackupKeyID()
	idB, _ := b.ActiveBackupKeyID()
	if idA == idB {
		t.Fatal("two deployments made the same backup key")
	}
	ct, _ := a.SealBackup(idA, []byte("h"), []byte("content"))
	if _, err := b.OpenBackup(idA, []byte("h"), ct); !errors.Is(err, ErrUnknownBackupKey) {
		t.Fatalf("B opened A's backup before the import: %v", err)
	}
	pass := []byte("correct horse battery staple")
	if _, _, err := a.ExportBackupKey(ctx, []byte("short")); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("weak passphrase: %v", err)
	}
	file, id, err := a.ExportBackupKey(ctx, pass)
	if err != nil || id != idA {
		t.Fatalf("ExportBackupKey = %s, %v", id, err)
	}
	var raw []byte
	_ = a.withKeyring(ctx, func(kr *keyring) (bool, error) { raw = bytes.Clone(kr.Backup[idA]); return false, nil })
	if len(raw) != BackupKeySize || bytes.Contains(file, raw) {
		t.Fatal("the exported file holds the backup key in clear")
	}
	_ = rawA
	if _, err := b.ImportBackupKey(ctx, file, []byte("wrong passphrase!!")); !errors.Is(err, ErrBackupKeyFile) {
		t.Errorf("wrong passphrase: %v", err)
	}
	var f keyFile
	_ = json.Unmarshal(file, &f)
	f.KeyID = idB
	changed, _ := json.Marshal(f)
	if _, err := b.ImportBackupKey(ctx, changed, pass); !errors.Is(err, ErrBackupKeyFile) {
		t.Errorf("changed key id: %v", err)
	}
	for _, junk := range [][]byte{nil, []byte("{}"), []byte("not json"), bytes.Repeat([]byte("a"), 5000)} {
		if _, err := b.ImportBackupKey(ctx, junk, pass); !errors.Is(err, ErrBackupKeyFile) {
			t.Errorf("junk file %.10q: %v", junk, err)
		}
	}
	got, err := b.ImportBackupKey(ctx, file, pass)
	if err != nil || got != idA {
		t.Fatalf("ImportBackupKey = %s, %v", got, err)
	}
	if pt, err := b.OpenBackup(idA, []byte("h"), ct); err != nil || string(pt) != "content" {
		t.Fatalf("B cannot open A's backup after the import: %q, %v", pt, err)
	}
	if active, _ := b.ActiveBackupKeyID(); active != idA {
		t.Errorf("active backup key after import = %s, want %s", active, idA)
	}
	// B's own earlier key still opens B's earlier backups.
	if _, err := b.OpenBackup(idB, []byte("h"), mustSeal(t, a, idA)); !errors.Is(err, ErrDecrypt) {
		t.Errorf("a ciphertext of A's key under B's id: %v, want ErrDecrypt", err)
	}
	if _, err := b.backupCipher(idB); err != nil {
		t.Errorf("B lost its own backup key on import: %v", err)
	}
}

func mustSeal(t *testing.T, b *Barrier, id string) []byte {
	t.Helper()
	ct, err := b.SealBackup(id, []byte("h"), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// TestBackupKeyImportSeenByOtherNode: a node sharing the store learns a
// key another node imported when a backup names it.
func TestBackupKeyImportSeenByOtherNode(t *testing.T) {
	ctx := context.Background()
	a, _, _ := unsealed(t)
	b, rawB, rootB := unsealed(t)
	b2, err := Unseal(ctx, rawB, rootB)
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("correct horse battery staple")
	file, idA, _ := a.ExportBackupKey(ctx, pass)
	if _, err := b.ImportBackupKey(ctx, file, pass); err != nil {
		t.Fatal(err)
	}
	ct := mustSeal(t, a, idA)
	if _, err := b2.OpenBackup(idA, []byte("h"), ct); err != nil {
		t.Errorf("the other node does not find the imported key: %v", err)
	}
}
