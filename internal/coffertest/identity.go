package coffertest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
)

// Identity returns an SDK identity client on the server that acts as the
// dev administrator.
func (e *Env) Identity(t testing.TB) identity.IdentityClient {
	t.Helper()
	ic, err := identity.NewIdentityClientWithConfigurationProvider(e.Provider)
	if err != nil {
		t.Fatal(err)
	}
	Configure(&ic.BaseClient, e.URL)
	return ic
}

// Tenancy returns the dev tenancy's OCID.
func (e *Env) Tenancy(t testing.TB) string {
	t.Helper()
	id, err := e.Provider.TenancyOCID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// AllowDynamicGroup creates, as the administrator, a dynamic group name
// in the tenancy with matchingRule, and a policy that allows it each of
// grants ("read secret-family in tenancy" becomes "allow dynamic-group
// <name> to read secret-family in tenancy"): what every workload-identity
// test sets up before a principal that the rule matches calls.
func (e *Env) AllowDynamicGroup(t testing.TB, name, matchingRule string, grants ...string) {
	t.Helper()
	ic := e.Identity(t)
	tenancy := e.Tenancy(t)
	ctx := context.Background()
	if _, err := ic.CreateDynamicGroup(ctx, identity.CreateDynamicGroupRequest{CreateDynamicGroupDetails: identity.CreateDynamicGroupDetails{
		CompartmentId: &tenancy, Name: common.String(name), Description: common.String("test workloads: " + name),
		MatchingRule: common.String(matchingRule),
	}}); err != nil {
		t.Fatalf("CreateDynamicGroup %s: %v", name, err)
	}
	statements := make([]string, len(grants))
	for i, g := range grants {
		statements[i] = "allow dynamic-group " + name + " to " + g
	}
	if _, err := ic.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &tenancy, Name: common.String(name + "-grants"), Description: common.String(strings.Join(grants, "; ")),
		Statements: statements,
	}}); err != nil {
		t.Fatalf("CreatePolicy for %s: %v", name, err)
	}
}

// NewUser creates, as the administrator, a user in no group with a fresh
// API key, and returns a configuration provider that signs as that user:
// a caller that no policy allows anything.
func (e *Env) NewUser(t testing.TB, name string) common.ConfigurationProvider {
	t.Helper()
	ic := e.Identity(t)
	tenancy := e.Tenancy(t)
	ctx := context.Background()
	u, err := ic.CreateUser(ctx, identity.CreateUserRequest{CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: &tenancy, Name: common.String(name), Description: common.String("test user without rights")}})
	if err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	k, err := ic.UploadApiKey(ctx, identity.UploadApiKeyRequest{UserId: u.Id, CreateApiKeyDetails: identity.CreateApiKeyDetails{Key: &pub}})
	if err != nil {
		t.Fatalf("UploadApiKey for %s: %v", name, err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	region, err := e.Provider.Region()
	if err != nil {
		t.Fatal(err)
	}
	return common.NewRawConfigurationProvider(tenancy, *u.Id, region, *k.Fingerprint, keyPEM, nil)
}
