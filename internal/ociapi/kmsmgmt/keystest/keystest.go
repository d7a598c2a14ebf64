// Package keystest helps tests of the key management and crypto APIs: it
// makes vaults on a coffertest server and official SDK clients on their
// management and crypto endpoints, and finds SoftHSM2 for HSM tests.
package keystest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/keyprotect"
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

// NewVault creates a vault of the given type (DEFAULT or VIRTUAL_PRIVATE)
// in the tenancy and returns clients for it.
func NewVault(t testing.TB, env *coffertest.Env, vaultType keymanagement.CreateVaultDetailsVaultTypeEnum) Vault {
	t.Helper()
	vc, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&vc.BaseClient, env.URL)
	resp, err := vc.CreateVault(context.Background(), keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(Tenancy(t, env)), DisplayName: common.String("keys"), VaultType: vaultType,
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

// Clock is a settable clock for the server.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at now.
func NewClock() *Clock { return &Clock{t: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// SoftHSMModule is where Debian's softhsm2 package installs the module;
// COFFER_SOFTHSM_MODULE overrides it.
func SoftHSMModule() string {
	if m := os.Getenv("COFFER_SOFTHSM_MODULE"); m != "" {
		return m
	}
	return "/usr/lib/softhsm/libsofthsm2.so"
}

// SoftHSM makes a fresh SoftHSM2 token in t.TempDir() (SOFTHSM2_CONF is set
// for the test) and returns the config for it. Without SoftHSM2 the test
// skips, unless COFFER_REQUIRE_SOFTHSM=1 (CI), where it fails.
func SoftHSM(t *testing.T) keyprotect.HSMConfig {
	t.Helper()
	module := SoftHSMModule()
	util, err := exec.LookPath("softhsm2-util")
	_, modErr := os.Stat(module)
	if err != nil || modErr != nil {
		msg := "SoftHSM2 is not installed (need softhsm2-util and " + module + "; apt-get install -y softhsm2)"
		if os.Getenv("COFFER_REQUIRE_SOFTHSM") == "1" {
			t.Fatal(msg + ", and COFFER_REQUIRE_SOFTHSM=1")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", "coffer-server-test", "--pin", "1234", "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return keyprotect.HSMConfig{ModulePath: module, TokenLabel: "coffer-server-test", PIN: "1234"}
}
