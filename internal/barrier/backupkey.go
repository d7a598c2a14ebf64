package barrier

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/store"
)

// Backup keys seal vault and key backups (package kms). They live in the
// keyring next to the terms, so they never touch the store in clear and
// survive rotation and rekeying. A keyring holds one or more: the active
// one seals new backups, and every one it holds opens the backups made
// with it. Each has an id derived from the key (an HMAC of a fixed label),
// so two deployments holding the same key name it the same way and a
// backup says which key it needs without saying anything about the key.
//
// Two deployments share a backup key with ExportBackupKey and
// ImportBackupKey: the key leaves the server only wrapped under a
// passphrase (PBKDF2-SHA256, AES-256-GCM), as a small JSON file.

// BackupKeySize is the size of a backup key in bytes.
const BackupKeySize = 32

// ErrUnknownBackupKey is returned by OpenBackup when the keyring holds no
// backup key with the id asked for.
var ErrUnknownBackupKey = errors.New("barrier: no backup key with this id")

// ErrBackupKeyFile is returned when a backup key file does not open: a
// wrong passphrase, a changed file, or not such a file at all.
var ErrBackupKeyFile = errors.New("the passphrase does not open this backup key file, or the file is damaged")

// ErrWeakPassphrase is returned by ExportBackupKey for a passphrase too
// short to protect the key.
var ErrWeakPassphrase = fmt.Errorf("the passphrase must be at least %d characters long", MinPassphraseLen)

// MinPassphraseLen is the shortest passphrase ExportBackupKey accepts.
const MinPassphraseLen = 12

const (
	backupKeyIDLabel = "coffer/backup-key-id/v1"
	backupAADPrefix  = "coffer/backup/v1\x00"
	keyFileType      = "coffer-backup-key"
	keyFileAAD       = "coffer/backup-key-file/v1\x00"
	keyFileKDF       = "PBKDF2-SHA256"
	// keyFileIterations follows OWASP's advice for PBKDF2-HMAC-SHA256.
	keyFileIterations = 600_000
	maxKeyFileIter    = 10_000_000
	maxKeyFileSize    = 4 << 10
)

// backupKeyID names a backup key: the first 16 bytes of HMAC-SHA256 keyed
// by the key over a fixed label, in hex.
func backupKeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(backupKeyIDLabel))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// addBackupKey adds a fresh backup key and makes it the active one.
func (kr *keyring) addBackupKey() error {
	key := make([]byte, BackupKeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return fmt.Errorf("generate backup key: %w", err)
	}
	kr.putBackupKey(key)
	return nil
}

// putBackupKey adds key (the keyring keeps it) and makes it active.
func (kr *keyring) putBackupKey(key []byte) string {
	if kr.Backup == nil {
		kr.Backup = map[string][]byte{}
	}
	id := backupKeyID(key)
	if old, ok := kr.Backup[id]; ok {
		clear(old)
	}
	kr.Backup[id], kr.BackupActive = key, id
	return id
}

// ActiveBackupKeyID returns the id of the backup key new backups are
// sealed with.
func (b *Barrier) ActiveBackupKeyID() (string, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return "", ErrSealed
	}
	return b.backupActive, nil
}

func backupAAD(aad []byte) []byte {
	out := make([]byte, 0, len(backupAADPrefix)+len(aad))
	return append(append(out, backupAADPrefix...), aad...)
}

// backupCipher returns the cipher of backup key id, reloading the keyring
// once when it is not known (another node imported it).
func (b *Barrier) backupCipher(id string) (cipher.AEAD, error) {
	get := func() (cipher.AEAD, bool, error) {
		b.mu.RLock()
		defer b.mu.RUnlock()
		if b.root == nil {
			return nil, false, ErrSealed
		}
		a, ok := b.backup[id]
		return a, ok, nil
	}
	a, ok, err := get()
	if err != nil || ok {
		return a, err
	}
	if err := b.st.View(context.Background(), b.reload); err != nil {
		return nil, err
	}
	if a, ok, err = get(); err != nil || ok {
		return a, err
	}
	return nil, ErrUnknownBackupKey
}

// SealBackup encrypts plaintext with backup key id (AES-256-GCM), binding
// aad: nonce (12 bytes) | ciphertext and tag.
func (b *Barrier) SealBackup(id string, aad, plaintext []byte) ([]byte, error) {
	a, err := b.backupCipher(id)
	if err != nil {
		return nil, err
	}
	out := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	if _, err := io.ReadFull(rand.Reader, out); err != nil {
		return nil, fmt.Errorf("barrier: nonce: %w", err)
	}
	return a.Seal(out, out, plaintext, backupAAD(aad)), nil
}

// OpenBackup decrypts what SealBackup returned: ErrUnknownBackupKey when
// the keyring holds no key id, ErrDecrypt when the ciphertext or aad was
// changed.
func (b *Barrier) OpenBackup(id string, aad, ciphertext []byte) ([]byte, error) {
	a, err := b.backupCipher(id)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < a.NonceSize()+a.Overhead() {
		return nil, ErrDecrypt
	}
	n := a.NonceSize()
	plain, err := a.Open(nil, ciphertext[:n], ciphertext[n:], backupAAD(aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// keyFile is the exported form of a backup key.
type keyFile struct {
	Type       string `json:"type"`
	Version    int    `json:"version"`
	KeyID      string `json:"keyId"`
	KDF        string `json:"kdf"`
	Iterations int    `json:"iterations"`
	Salt       []byte `json:"salt"`
	Sealed     []byte `json:"sealed"` // nonce | AES-256-GCM(key)
}

func passphraseAEAD(passphrase, salt []byte, iterations int) (cipher.AEAD, error) {
	k, err := pbkdf2.Key(sha256.New, string(passphrase), salt, iterations, 32)
	if err != nil {
		return nil, fmt.Errorf("barrier: derive key: %w", err)
	}
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// withKeyring opens the stored keyring for a change: fn may modify it, and
// the result is sealed and stored in the same transaction (save true) and
// installed.
func (b *Barrier) withKeyring(ctx context.Context, fn func(kr *keyring) (save bool, err error)) error {
	b.mu.RLock()
	root := b.root
	b.mu.RUnlock()
	if root == nil {
		return ErrSealed
	}
	var kr keyring
	saved := false
	err := b.st.Update(ctx, func(tx store.Tx) error {
		kr.clear()
		sealed, err := tx.Get(KeyringPath)
		if err != nil {
			return err
		}
		if kr, err = openKeyring(root, sealed); err != nil {
			return err
		}
		save, err := fn(&kr)
		if err != nil || !save {
			return err
		}
		saved = true
		return putKeyring(tx, root, kr)
	})
	defer kr.clear()
	if err != nil || !saved {
		return err
	}
	return b.install(kr)
}

// ExportBackupKey returns the active backup key wrapped under passphrase,
// as a file to give ImportBackupKey on another deployment, and its id.
func (b *Barrier) ExportBackupKey(ctx context.Context, passphrase []byte) (file []byte, id string, err error) {
	if utf8.RuneCount(passphrase) < MinPassphraseLen {
		return nil, "", ErrWeakPassphrase
	}
	err = b.withKeyring(ctx, func(kr *keyring) (bool, error) {
		key := kr.Backup[kr.BackupActive]
		if len(key) != BackupKeySize {
			return false, errors.New("barrier: keyring has no backup key")
		}
		id = kr.BackupActive
		f := keyFile{Type: keyFileType, Version: 1, KeyID: id, KDF: keyFileKDF, Iterations: keyFileIterations, Salt: make([]byte, 16)}
		if _, err := io.ReadFull(rand.Reader, f.Salt); err != nil {
			return false, err
		}
		a, err := passphraseAEAD(passphrase, f.Salt, f.Iterations)
		if err != nil {
			return false, err
		}
		nonce := make([]byte, a.NonceSize())
		if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
			return false, err
		}
		f.Sealed = a.Seal(nonce, nonce, key, []byte(keyFileAAD+id))
		file, err = json.MarshalIndent(f, "", "  ")
		file = append(file, '\n')
		return false, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("barrier: export backup key: %w", err)
	}
	return file, id, nil
}

// ImportBackupKey opens a file ExportBackupKey wrote and adds its key to
// the keyring as the active backup key: new backups are sealed with it,
// and backups made with the keys held before still open. Importing a key
// already held makes it active again. It returns the key's id.
func (b *Barrier) ImportBackupKey(ctx context.Context, file, passphrase []byte) (string, error) {
	key, id, err := openKeyFile(file, passphrase)
	if err != nil {
		return "", err
	}
	err = b.withKeyring(ctx, func(kr *keyring) (bool, error) {
		kr.putBackupKey(key)
		return true, nil
	})
	if err != nil {
		clear(key)
		return "", fmt.Errorf("barrier: import backup key: %w", err)
	}
	return id, nil
}

// openKeyFile checks and unwraps a backup key file.
func openKeyFile(file, passphrase []byte) (key []byte, id string, err error) {
	var f keyFile
	if len(file) > maxKeyFileSize || json.Unmarshal(file, &f) != nil || f.Type != keyFileType {
		return nil, "", fmt.Errorf("%w: not a Coffer backup key file", ErrBackupKeyFile)
	}
	if f.Version != 1 || f.KDF != keyFileKDF {
		return nil, "", fmt.Errorf("%w: unsupported version %d or kdf %q", ErrBackupKeyFile, f.Version, f.KDF)
	}
	if f.Iterations < 100_000 || f.Iterations > maxKeyFileIter || len(f.Salt) < 16 || len(f.Sealed) < 12+16 {
		return nil, "", fmt.Errorf("%w: out-of-range parameters", ErrBackupKeyFile)
	}
	a, err := passphraseAEAD(passphrase, f.Salt, f.Iterations)
	if err != nil {
		return nil, "", err
	}
	n := a.NonceSize()
	key, err = a.Open(nil, f.Sealed[:n], f.Sealed[n:], []byte(keyFileAAD+f.KeyID))
	if err != nil {
		return nil, "", ErrBackupKeyFile
	}
	if len(key) != BackupKeySize || !hmac.Equal([]byte(backupKeyID(key)), []byte(f.KeyID)) {
		clear(key)
		return nil, "", ErrBackupKeyFile
	}
	return key, f.KeyID, nil
}
