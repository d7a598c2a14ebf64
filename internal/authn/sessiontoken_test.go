package authn

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/internal/authz"
)

var (
	keyOnce sync.Once
	key1    *rsa.PrivateKey
	key2    *rsa.PrivateKey
)

func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if key1, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if key2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return key1, key2
}

var testClaims = ResourceClaims{
	ResourceID:    "ocid1.fnfunc.oc1.local.fn1",
	ResourceType:  "fnfunc",
	TenancyID:     "ocid1.tenancy.oc1..t",
	CompartmentID: "ocid1.compartment.oc1..c",
}

func newTokens(t testing.TB, now *time.Time) *SessionTokens {
	k, err := NewSessionTokenKey()
	if err != nil {
		t.Fatal(err)
	}
	return NewSessionTokens(k, func() time.Time { return *now })
}

func TestSessionTokenRoundTrip(t *testing.T) {
	k1, _ := testKeys(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st := newTokens(t, &now)
	tok, exp, err := st.Mint(testClaims, &k1.PublicKey, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(30 * time.Minute)) {
		t.Errorf("expiry %v", exp)
	}
	pub, p, err := st.LookupSessionToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&k1.PublicKey) {
		t.Error("bound key differs")
	}
	want := authz.Principal{Type: authz.PrincipalResource, ID: testClaims.ResourceID, TenancyID: testClaims.TenancyID,
		CompartmentID: testClaims.CompartmentID, Attributes: map[string]string{
			"resource.id": testClaims.ResourceID, "resource.type": "fnfunc", "resource.compartment.id": testClaims.CompartmentID}}
	if fmt.Sprint(*p) != fmt.Sprint(want) {
		t.Errorf("principal %+v, want %+v", *p, want)
	}

	// Expired: refused at exp.
	now = now.Add(30 * time.Minute)
	if _, _, err := st.LookupSessionToken(context.Background(), tok); !errors.Is(err, ErrBadSessionToken) {
		t.Errorf("expired token: %v", err)
	}
}

func TestSessionTokenRefusals(t *testing.T) {
	k1, _ := testKeys(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st, other := newTokens(t, &now), newTokens(t, &now)
	tok, _, err := st.Mint(testClaims, &k1.PublicKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	forged, _, _ := other.Mint(testClaims, &k1.PublicKey, 0)
	payload := `{"iss":"coffer","sub":"ocid1.fnfunc.oc1..x","exp":9999999999,"res_tenant":"ocid1.tenancy.oc1..t"}`
	for name, bad := range map[string]string{
		"other server's key": forged,
		"payload swapped":    parts[0] + "." + b64.EncodeToString([]byte(payload)) + "." + parts[2],
		"no signature":       parts[0] + "." + parts[1] + ".",
		"alg none":           b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		"two parts":          parts[0] + "." + parts[1],
		"empty":              "",
		"long":               strings.Repeat("a", maxSessionTokenLen+1),
	} {
		if _, _, err := st.LookupSessionToken(context.Background(), bad); !errors.Is(err, ErrBadSessionToken) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]ResourceClaims{
		"no resource id": {ResourceType: "fnfunc", TenancyID: testClaims.TenancyID, CompartmentID: testClaims.CompartmentID},
		"bad type":       {ResourceID: testClaims.ResourceID, ResourceType: "Fn Func", TenancyID: testClaims.TenancyID, CompartmentID: testClaims.CompartmentID},
		"bad tenancy":    {ResourceID: testClaims.ResourceID, ResourceType: "fnfunc", TenancyID: "t", CompartmentID: testClaims.CompartmentID},
	} {
		if _, _, err := st.Mint(c, &k1.PublicKey, 0); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
	if _, _, err := st.Mint(testClaims, &small.PublicKey, 0); err == nil {
		t.Error("minted for a 1024-bit key")
	}
	if _, _, err := st.Mint(testClaims, &k1.PublicKey, 48*time.Hour); err == nil {
		t.Error("minted for 48h")
	}
}

// keyProvider signs with an `ST$` keyId, as the SDK's resource principal
// provider does.
type keyProvider struct {
	id  string
	key *rsa.PrivateKey
}

func (k keyProvider) PrivateRSAKey() (*rsa.PrivateKey, error) { return k.key, nil }
func (k keyProvider) KeyID() (string, error)                  { return k.id, nil }

type noKeys struct{}

func (noKeys) LookupAPIKey(context.Context, APIKeyID) (*rsa.PublicKey, *authz.Principal, error) {
	return nil, nil, errors.New("no api keys")
}

// TestVerifierAcceptsSessionTokens signs requests with the SDK's signer:
// the bound key verifies; another key, or a verifier without Tokens, does
// not.
func TestVerifierAcceptsSessionTokens(t *testing.T) {
	k1, k2 := testKeys(t)
	now := time.Now()
	st := newTokens(t, &now)
	tok, _, err := st.Mint(testClaims, &k1.PublicKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k *rsa.PrivateKey) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "http://coffer.test/20190301/secretbundles/ocid1.vaultsecret.oc1..s", nil)
		r.RequestURI = r.URL.RequestURI() // as a server sees it
		r.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		if err := common.DefaultRequestSigner(keyProvider{"ST$" + tok, k}).Sign(r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	v := &Verifier{Keys: noKeys{}, Tokens: st}
	p, err := v.Verify(context.Background(), sign(k1), nil)
	if err != nil {
		t.Fatalf("bound key: %v", err)
	}
	if p.Type != authz.PrincipalResource || p.ID != testClaims.ResourceID {
		t.Errorf("principal %+v", p)
	}
	if _, err := v.Verify(context.Background(), sign(k2), nil); !errors.Is(err, ErrNotAuthenticated) {
		t.Errorf("another key: %v", err)
	}
	if _, err := (&Verifier{Keys: noKeys{}}).Verify(context.Background(), sign(k1), nil); !errors.Is(err, ErrNotAuthenticated) {
		t.Errorf("no token verifier: %v", err)
	}
}

func TestSessionTokenKeyNeverPrinted(t *testing.T) {
	k, err := SessionTokenKeyFromBytes(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "key", k)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%#v %x %+v", k, k, k), sb.String()} {
		if strings.Contains(s, "0000") || strings.Contains(s, "[0 0") {
			t.Errorf("key printed: %s", s)
		}
	}
	if _, err := SessionTokenKeyFromBytes(make([]byte, 31)); err == nil {
		t.Error("short key accepted")
	}
}

// FuzzSessionToken: arbitrary tokens never panic, and only the minted
// tokens verify, each as its own kind (both kinds share one parser).
func FuzzSessionToken(f *testing.F) {
	k1, _ := testKeys(f)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st := newTokens(f, &now)
	tok, _, err := st.Mint(testClaims, &k1.PublicKey, 0)
	if err != nil {
		f.Fatal(err)
	}
	itok, _, err := st.MintInstance(testInstance, &k1.PublicKey, InstanceTokenTTL)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(itok)
	f.Add(strings.Replace(tok, ".", "..", 1))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		_, p, err := st.LookupSessionToken(context.Background(), s)
		if err == nil && (s != tok || p == nil) {
			t.Fatalf("accepted a token that was not minted: %q", s)
		}
		_, p, err = WorkloadTokens{st}.LookupSessionToken(context.Background(), s)
		switch {
		case err != nil:
		case s == tok && p.Type == authz.PrincipalResource, s == itok && p.Type == authz.PrincipalInstance:
		default:
			t.Fatalf("accepted %q as %+v", s, p)
		}
	})
}

// FuzzParseRSAPublicKeyPEM: the admin APIs' key parser never panics and
// accepts only RSA keys of at least 2048 bits that re-encode to the DER
// of the PEM block it was given.
func FuzzParseRSAPublicKeyPEM(f *testing.F) {
	k1, _ := testKeys(f)
	spki, err := x509.MarshalPKIXPublicKey(&k1.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	good := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	f.Add(good)
	f.Add(strings.Replace(good, "PUBLIC KEY", "RSA PUBLIC KEY", 2))
	f.Add("-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := ParseRSAPublicKeyPEM(s)
		if err != nil {
			if pub != nil {
				t.Fatal("key with an error")
			}
			return
		}
		block, _ := pem.Decode([]byte(s))
		der, _ := x509.MarshalPKIXPublicKey(pub)
		if pub.N.BitLen() < minSessionKeyBits || block == nil || block.Type != "PUBLIC KEY" || !bytes.Equal(der, block.Bytes) {
			t.Fatalf("accepted %q", s)
		}
	})
}

// Instance tokens are bound to the session key: the Verifier refuses a
// request that carries one but is signed with another key.
func TestInstanceTokenBoundToKey(t *testing.T) {
	f := newFedFixture(t)
	tok, _, err := f.tokens.MintInstance(testInstance, &f.session.PublicKey, InstanceTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Keys: oneKey{}, Tokens: WorkloadTokens{f.tokens}, Now: func() time.Time { return f.now }}
	for name, k := range map[string]*rsa.PrivateKey{"session key": f.session, "other key": f.leafKey} {
		r := httptest.NewRequest(http.MethodGet, "http://coffer.test/20190301/secretbundles/x", nil)
		r.Header.Set("Date", f.now.Format(http.TimeFormat))
		if err := common.DefaultRequestSigner(fedKey{keyID: "ST$" + tok, key: k}).Sign(r); err != nil {
			t.Fatal(err)
		}
		r.RequestURI = "/20190301/secretbundles/x"
		p, err := v.Verify(context.Background(), r, nil)
		switch name {
		case "session key":
			if err != nil || p.Type != authz.PrincipalInstance || p.ID != testInstance.InstanceID {
				t.Errorf("%s: %+v %v", name, p, err)
			}
		default:
			if !errors.Is(err, ErrNotAuthenticated) {
				t.Errorf("%s: verified as %+v", name, p)
			}
		}
	}
	for name, tc := range map[string]struct {
		c   InstanceClaims
		ttl time.Duration
	}{
		"too long": {testInstance, InstanceTokenTTL + time.Second},
		"zero":     {testInstance, 0},
		"bad ocid": {InstanceClaims{InstanceID: "x", CompartmentID: testInstance.CompartmentID, TenancyID: testInstance.TenancyID}, time.Minute},
	} {
		if _, _, err := f.tokens.MintInstance(tc.c, &f.session.PublicKey, tc.ttl); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
	// A forged token (another server's key) is refused.
	other := newTokens(t, &f.now)
	forged, _, _ := other.MintInstance(testInstance, &f.session.PublicKey, InstanceTokenTTL)
	if _, _, err := (WorkloadTokens{f.tokens}).LookupSessionToken(context.Background(), forged); !errors.Is(err, ErrBadSessionToken) {
		t.Errorf("forged token: %v", err)
	}
}

// BenchmarkWorkloadTokens is the per-request cost of resolving an ST$
// token of each kind: "instance" and "resource" are a workload's repeated
// requests (the token's second use onwards: a cache hit), the "-parse"
// ones a token's first use (the full verification: MAC, JSON, RSA key).
func BenchmarkWorkloadTokens(b *testing.B) {
	f := newFedFixture(b)
	it, _, err := f.tokens.MintInstance(testInstance, &f.session.PublicKey, InstanceTokenTTL)
	if err != nil {
		b.Fatal(err)
	}
	rt, _, err := f.tokens.Mint(testClaims, &f.session.PublicKey, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	w := WorkloadTokens{f.tokens}
	for _, tc := range []struct{ name, tok string }{{"instance", it}, {"resource", rt}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := w.LookupSessionToken(context.Background(), tc.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"-parse", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.tokens.parse(tc.tok, f.now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("resource-direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := f.tokens.LookupSessionToken(context.Background(), rt); err != nil {
				b.Fatal(err)
			}
		}
	})
}
