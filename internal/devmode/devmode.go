// Package devmode prepares a data directory for `coffer server --dev`: the
// unseal key file, the administrator's API key pair and an OCI SDK config
// file that points at them, all created with mode 0600 from the first byte.
package devmode

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coffer-vault/coffer/pkg/securefile"
)

// Paths inside a dev data directory.
const (
	UnsealKeyFile = "unseal.key"
	OCIDir        = "oci"
	ConfigFile    = "config"
	PrivateKey    = "admin_api_key.pem"
)

// KeyPair is the administrator's API key. The private key never prints.
type KeyPair struct {
	Private *rsa.PrivateKey
}

// GenerateAdminKey makes a 2048-bit RSA key pair, the size OCI documents
// for API keys.
func GenerateAdminKey() (KeyPair, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return KeyPair{}, fmt.Errorf("devmode: generate API key: %w", err)
	}
	return KeyPair{Private: k}, nil
}

// ConfigSpec is what goes into the OCI config file.
type ConfigSpec struct {
	TenancyID   string
	UserID      string
	Fingerprint string
	Region      string
}

// WriteConfig writes DIR/oci/admin_api_key.pem and DIR/oci/config (profile
// DEFAULT). Both are created with mode 0600 in the open call, written to a
// temporary file, fsynced and renamed into place.
func WriteConfig(dataDir string, key KeyPair, spec ConfigSpec) (configPath string, err error) {
	dir := filepath.Join(dataDir, OCIDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("devmode: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key.Private)
	if err != nil {
		return "", fmt.Errorf("devmode: encode key: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	keyPath := filepath.Join(dir, PrivateKey)
	if _, err := securefile.Write(keyPath, pemBytes, securefile.Options{Mode: 0o600}); err != nil {
		clear(pemBytes)
		return "", fmt.Errorf("devmode: write API key: %w", err)
	}
	clear(pemBytes)
	configPath = filepath.Join(dir, ConfigFile)
	config := fmt.Sprintf("[DEFAULT]\nuser=%s\nfingerprint=%s\ntenancy=%s\nregion=%s\nkey_file=%s\n",
		spec.UserID, spec.Fingerprint, spec.TenancyID, spec.Region, keyPath)
	if _, err := securefile.Write(configPath, []byte(config), securefile.Options{Mode: 0o600}); err != nil {
		return "", fmt.Errorf("devmode: write config: %w", err)
	}
	return configPath, nil
}

// NewDataDir makes a fresh data directory under the system temp dir.
func NewDataDir() (string, error) {
	dir, err := os.MkdirTemp("", "coffer-dev-")
	if err != nil {
		return "", fmt.Errorf("devmode: %w", err)
	}
	return dir, nil
}

// Exists reports whether path exists.
func Exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
