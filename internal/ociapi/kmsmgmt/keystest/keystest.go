// Package keystest helps tests of the key management and crypto APIs: it
// makes vaults on a coffertest server and official SDK clients on their
// management and crypto endpoints.
package keystest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/clocktest"
	"github.com/coffer-vault/coffer/internal/coffertest"
)

// Vault is a vault with SDK clients on its endpoints.
type Vault struct {
	keymanagement.Vault
	Mgmt   keymanagement.KmsManagementClient
	Crypto keymanagement.KmsCryptoClient
}

// Tenancy returns the dev tenancy's OCID.
func Tenancy(t testing.TB, env *coffertest.Env) string {
	t.Helper()
	id, err := env.Provider.TenancyOCID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// VaultClient returns an SDK vault client on the server's KMS endpoint that
// signs as provider p.
func VaultClient(t testing.TB, env *coffertest.Env, p common.ConfigurationProvider) keymanagement.KmsVaultClient {
	t.Helper()
	c, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(p)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&c.BaseClient, env.URL)
	return c
}

var vaultSeq atomic.Int64

// NewVault creates a vault of the given type (DEFAULT or VIRTUAL_PRIVATE)
// in the tenancy and returns clients for it.
func NewVault(t testing.TB, env *coffertest.Env, vaultType keymanagement.CreateVaultDetailsVaultTypeEnum) Vault {
	t.Helper()
	// Each vault gets its own name: two identical CreateVault requests
	// signed within one second carry one signature, and the server refuses
	// the second as a replay.
	name := fmt.Sprintf("keys-%d", vaultSeq.Add(1))
	resp, err := VaultClient(t, env, env.Provider).CreateVault(context.Background(), keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(Tenancy(t, env)), DisplayName: common.String(name), VaultType: vaultType,
	}})
	if err != nil {
		t.Fatalf("CreateVault: %v", err)
	}
	return Clients(t, env, resp.Vault)
}

// Clients returns SDK clients for a vault's endpoints.
func Clients(t testing.TB, env *coffertest.Env, v keymanagement.Vault) Vault {
	t.Helper()
	m, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(env.Provider, *v.ManagementEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&m.BaseClient, *v.ManagementEndpoint)
	c, err := keymanagement.NewKmsCryptoClientWithConfigurationProvider(env.Provider, *v.CryptoEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&c.BaseClient, *v.CryptoEndpoint)
	return Vault{Vault: v, Mgmt: m, Crypto: c}
}

// Shape builds a KeyShape.
func Shape(alg keymanagement.KeyShapeAlgorithmEnum, length int, curve keymanagement.KeyShapeCurveIdEnum) *keymanagement.KeyShape {
	return &keymanagement.KeyShape{Algorithm: alg, Length: common.Int(length), CurveId: curve}
}

// CreateKey creates a key and fails the test on error.
func (v Vault) CreateKey(t testing.TB, name string, shape *keymanagement.KeyShape, mode keymanagement.CreateKeyDetailsProtectionModeEnum) keymanagement.Key {
	t.Helper()
	resp, err := v.Mgmt.CreateKey(context.Background(), keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: v.CompartmentId, DisplayName: common.String(name), KeyShape: shape, ProtectionMode: mode,
	}})
	if err != nil {
		t.Fatalf("CreateKey %s: %v", name, err)
	}
	return resp.Key
}

// ServiceError returns err as an SDK service error, failing the test if it
// is not one.
func ServiceError(t testing.TB, err error) common.ServiceError {
	t.Helper()
	var se common.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a service error", err)
	}
	return se
}

// WantError checks an SDK error's status and code, and that its message
// contains every part.
func WantError(t testing.TB, err error, status int, code string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded; want %d %s", status, code)
	}
	se := ServiceError(t, err)
	if se.GetHTTPStatusCode() != status || se.GetCode() != code {
		t.Fatalf("got %d %s (%q); want %d %s", se.GetHTTPStatusCode(), se.GetCode(), se.GetMessage(), status, code)
	}
	for _, p := range parts {
		if !strings.Contains(se.GetMessage(), p) {
			t.Fatalf("message %q does not contain %q", se.GetMessage(), p)
		}
	}
}

// NotFound checks for 404 NotAuthorizedOrNotFound.
func NotFound(t testing.TB, err error) {
	t.Helper()
	WantError(t, err, http.StatusNotFound, "NotAuthorizedOrNotFound")
}

// OpenCiphertext decrypts a Coffer AES ciphertext with the standard
// library (format: keyprotect/ciphertext.go), with no associated data, to
// show that exported or imported key material really is the key.
func OpenCiphertext(t testing.TB, key, ct []byte) []byte {
	t.Helper()
	n := int(binary.BigEndian.Uint16(ct[2:4]))
	header, rest := ct[:4+n], ct[4+n:]
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := cipher.NewGCM(block)
	pt, err := g.Open(nil, rest[:12], rest[12:], header)
	if err != nil {
		t.Fatalf("standard library cannot open the ciphertext: %v", err)
	}
	return pt
}

// Clock is a settable clock for the server.
type Clock = clocktest.Clock

// NewClock starts at now.
func NewClock() *Clock { return clocktest.New(time.Now()) }
