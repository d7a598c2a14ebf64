package rpstapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/rpstapi"
)

func pubPEM(t *testing.T, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// post signs a request as p and returns the status and decoded body.
func post(t *testing.T, base string, p common.KeyProvider, body any) (int, map[string]any) {
	t.Helper()
	status, rb := coffertest.Post(t, base+rpstapi.Path, p, time.Now(), body)
	var out map[string]any
	_ = json.Unmarshal(rb, &out)
	return status, out
}

type stProvider struct {
	token string
	key   *rsa.PrivateKey
}

func (s stProvider) PrivateRSAKey() (*rsa.PrivateKey, error) { return s.key, nil }
func (s stProvider) KeyID() (string, error)                  { return "ST$" + s.token, nil }

func TestMintAuthorizationAndValidation(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	tenancy := keystest.Tenancy(t, env)
	session := newKey(t)
	good := rpstapi.CreateDetails{ResourceID: "ocid1.fnfunc.oc1.local.fn", ResourceType: "fnfunc", CompartmentID: tenancy,
		PublicKey: pubPEM(t, session), TTLInSeconds: 600}

	status, body := post(t, env.URL, env.Provider, good)
	if status != 200 || body["token"] == "" {
		t.Fatalf("admin mint: %d %v", status, body)
	}
	token := body["token"].(string)
	exp, err := time.Parse(time.RFC3339, body["timeExpires"].(string))
	if err != nil || time.Until(exp) > 11*time.Minute || time.Until(exp) < 9*time.Minute {
		t.Errorf("timeExpires %v (%v)", body["timeExpires"], err)
	}

	for name, d := range map[string]rpstapi.CreateDetails{
		"missing type":    {ResourceID: good.ResourceID, CompartmentID: tenancy, PublicKey: good.PublicKey},
		"bad type":        {ResourceID: good.ResourceID, ResourceType: "Fn Func", CompartmentID: tenancy, PublicKey: good.PublicKey},
		"bad pem":         {ResourceID: good.ResourceID, ResourceType: "fnfunc", CompartmentID: tenancy, PublicKey: "nope"},
		"unknown compart": {ResourceID: good.ResourceID, ResourceType: "fnfunc", CompartmentID: "ocid1.compartment.oc1.local.none", PublicKey: good.PublicKey},
		"ttl too long":    {ResourceID: good.ResourceID, ResourceType: "fnfunc", CompartmentID: tenancy, PublicKey: good.PublicKey, TTLInSeconds: 3 * 86400},
		// Times 1e9 this wraps to exactly an hour.
		"ttl wraps":       {ResourceID: good.ResourceID, ResourceType: "fnfunc", CompartmentID: tenancy, PublicKey: good.PublicKey, TTLInSeconds: 3600 + 1<<55},
		"negative ttl":    {ResourceID: good.ResourceID, ResourceType: "fnfunc", CompartmentID: tenancy, PublicKey: good.PublicKey, TTLInSeconds: -1},
		"bad resource id": {ResourceID: "fn", ResourceType: "fnfunc", CompartmentID: tenancy, PublicKey: good.PublicKey},
	} {
		if status, body := post(t, env.URL, env.Provider, d); status != 400 {
			t.Errorf("%s: %d %v, want 400", name, status, body)
		}
	}

	// A user without manage dynamic-groups is refused (404, as every
	// denial).
	dev := env.NewUser(t, "dev")
	if status, body := post(t, env.URL, dev, good); status != 404 {
		t.Errorf("user without rights: %d %v, want 404", status, body)
	}
	// Nor can a resource principal mint tokens for itself.
	if status, body := post(t, env.URL, stProvider{token, session}, good); status != 404 {
		t.Errorf("resource principal minting: %d %v, want 404", status, body)
	}
	// A forged token is 401.
	if status, _ := post(t, env.URL, stProvider{token + "x", session}, good); status != 401 {
		t.Errorf("forged token: %d, want 401", status)
	}

	// The signing key is in the store: a token outlives a restart.
	u2, _ := url.Parse(env.URL)
	env.Stop()
	env2 := coffertest.Start(t, coffertest.Options{DataDir: env.DataDir, Listen: u2.Host})
	// Authenticated (404: denied), not 401: the token still verifies.
	if status, body := post(t, env2.URL, stProvider{token, session}, good); status != 404 {
		t.Errorf("token after restart: %d %v, want 404", status, body)
	}
}
