package identityapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// explain posts a signed explain request as the administrator.
func explain(t *testing.T, env *coffertest.Env, body string) identityapi.ExplainResponse {
	t.Helper()
	ans, status := explainAs(t, env, env.Provider, body)
	if status != http.StatusOK {
		t.Fatalf("explain: status %d", status)
	}
	return ans
}

func explainAs(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider, body string) (identityapi.ExplainResponse, int) {
	t.Helper()
	var ans identityapi.ExplainResponse
	status := callJSON(t, identityClient(t, env, p), http.MethodPost, identityapi.ExplainPath, body, &ans)
	return ans, status
}

// callJSON sends a signed request with a JSON body through the SDK client
// (for calls the SDK's models cannot express) and decodes a 2xx answer
// into out. It returns the HTTP status.
func callJSON(t *testing.T, c identity.IdentityClient, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Call(context.Background(), req)
	if err != nil {
		return keystest.ServiceError(t, err).GetHTTPStatusCode()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s answer %s: %v", method, path, b, err)
	}
	return resp.StatusCode
}

func identityClient(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider) identity.IdentityClient {
	t.Helper()
	c, err := identity.NewIdentityClientWithConfigurationProvider(p)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&c.BaseClient, env.URL)
	return c
}

func wantError(t *testing.T, what string, err error, status int, code string) common.ServiceError {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %d %s", what, status, code)
	}
	se := keystest.ServiceError(t, err)
	if se.GetHTTPStatusCode() != status || se.GetCode() != code {
		t.Fatalf("%s: got %d %s %q, want %d %s", what, se.GetHTTPStatusCode(), se.GetCode(), se.GetMessage(), status, code)
	}
	return se
}

// newKey returns a fresh RSA key and its public half in PEM.
func newKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// principal is a user made through the SDK, with an API key and a
// configuration provider that signs as that user.
type principal struct {
	User        identity.User
	Fingerprint string
	Provider    common.ConfigurationProvider
}

// newUser creates a user with one API key and adds it to the groups.
func newUser(t *testing.T, admin identity.IdentityClient, tenancy, name string, groups ...string) principal {
	t.Helper()
	ctx := context.Background()
	u, err := admin.CreateUser(ctx, identity.CreateUserRequest{CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: common.String(tenancy), Name: common.String(name), Description: common.String("test user " + name)}})
	if err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	key, pub := newKey(t)
	k, err := admin.UploadApiKey(ctx, identity.UploadApiKeyRequest{UserId: u.Id, CreateApiKeyDetails: identity.CreateApiKeyDetails{Key: common.String(pub)}})
	if err != nil {
		t.Fatalf("UploadApiKey %s: %v", name, err)
	}
	for _, g := range groups {
		if _, err := admin.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{
			UserId: u.Id, GroupId: common.String(g)}}); err != nil {
			t.Fatalf("AddUserToGroup %s: %v", name, err)
		}
	}
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	return principal{User: u.User, Fingerprint: *k.Fingerprint,
		Provider: common.NewRawConfigurationProvider(tenancy, *u.Id, "local", *k.Fingerprint, privPEM, nil)}
}

func newGroup(t *testing.T, admin identity.IdentityClient, tenancy, name string) identity.Group {
	t.Helper()
	g, err := admin.CreateGroup(context.Background(), identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: common.String(tenancy), Name: common.String(name), Description: common.String("group " + name)}})
	if err != nil {
		t.Fatalf("CreateGroup %s: %v", name, err)
	}
	return g.Group
}

func newPolicy(t *testing.T, admin identity.IdentityClient, compartment, name string, stmts ...string) identity.Policy {
	t.Helper()
	p, err := admin.CreatePolicy(context.Background(), identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: common.String(compartment), Name: common.String(name), Description: common.String("policy " + name), Statements: stmts}})
	if err != nil {
		t.Fatalf("CreatePolicy %s: %v", name, err)
	}
	return p.Policy
}

func newCompartment(t *testing.T, admin identity.IdentityClient, parent, name string) identity.Compartment {
	t.Helper()
	c, err := admin.CreateCompartment(context.Background(), identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
		CompartmentId: common.String(parent), Name: common.String(name), Description: common.String("compartment " + name)}})
	if err != nil {
		t.Fatalf("CreateCompartment %s: %v", name, err)
	}
	return c.Compartment
}

func newVault(t *testing.T, c keymanagement.KmsVaultClient, compartment, name string) keymanagement.Vault {
	t.Helper()
	resp, err := c.CreateVault(context.Background(), keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(compartment), DisplayName: common.String(name), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatalf("CreateVault: %v", err)
	}
	return resp.Vault
}
