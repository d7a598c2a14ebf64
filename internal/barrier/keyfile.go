package barrier

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/coffer-vault/coffer/internal/fsperm"
)

// ParseRootKey decodes a root key written as standard base64 (as in a key
// file or the COFFER_UNSEAL_KEY environment variable).
func ParseRootKey(text []byte) (RootKey, error) {
	text = bytes.TrimSpace(text)
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(raw, text)
	defer clear(raw)
	if err != nil {
		return RootKey{}, errors.New("barrier: root key is not valid base64")
	}
	return NewRootKey(raw[:n])
}

// ReadKeyFile reads a root key file. It refuses a file that others can read.
func ReadKeyFile(path string) (RootKey, error) {
	if err := fsperm.CheckPrivate(path, "unseal key file"); err != nil {
		return RootKey{}, fmt.Errorf("barrier: %w", err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return RootKey{}, fmt.Errorf("barrier: unseal key file: %w", err)
	}
	defer clear(text)
	return ParseRootKey(text)
}

// CreateKeyFile generates a root key and writes it to path, which must not
// exist. The file is created with mode 0600 in the open call itself, so the
// key is never readable by others, not even for an instant.
func CreateKeyFile(path string) (RootKey, error) {
	key, err := GenerateRootKey()
	if err != nil {
		return key, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return RootKey{}, fmt.Errorf("barrier: unseal key file %s already exists", path)
		}
		return RootKey{}, fmt.Errorf("barrier: create unseal key file: %w", err)
	}
	text := make([]byte, base64.StdEncoding.EncodedLen(RootKeySize)+1)
	base64.StdEncoding.Encode(text, key.b[:])
	text[len(text)-1] = '\n'
	defer clear(text)
	if _, err := f.Write(text); err != nil {
		f.Close()
		return RootKey{}, fmt.Errorf("barrier: write unseal key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return RootKey{}, fmt.Errorf("barrier: sync unseal key file: %w", err)
	}
	return key, f.Close()
}
