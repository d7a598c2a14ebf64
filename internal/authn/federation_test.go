package authn

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/internal/authz"
)

// fedKey is the SDK's view of an instance: keyId from the leaf, signed with
// the leaf key.
type fedKey struct {
	keyID string
	key   *rsa.PrivateKey
}

func (k fedKey) KeyID() (string, error) { return k.keyID, nil }

func (k fedKey) PrivateRSAKey() (*rsa.PrivateKey, error) { return k.key, nil }

func fedKeyFor(leaf *x509.Certificate, key *rsa.PrivateKey) fedKey {
	return fedKey{keyID: sdkTenancy(leaf) + "/fed-x509-sha256/" + CertificateFingerprint(leaf), key: key}
}

func b64DER(der []byte) string { return base64.StdEncoding.EncodeToString(der) }

func fedBody(t testing.TB, leaf *x509.Certificate, inters []*x509.Certificate, session *rsa.PublicKey) []byte {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(session)
	if err != nil {
		t.Fatal(err)
	}
	d := FederationDetails{Certificate: b64DER(leaf.Raw), PublicKey: b64DER(spki), FingerprintAlgorithm: "SHA256"}
	for _, c := range inters {
		d.IntermediateCertificates = append(d.IntermediateCertificates, b64DER(c.Raw))
	}
	b, _ := json.Marshal(d)
	return b
}

// signFed signs a federation request as the SDK's federation client does:
// date (request-target) and the body headers, no host.
func signFed(t testing.TB, k common.KeyProvider, body []byte, date time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/x509", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Date", date.UTC().Format(http.TimeFormat))
	r.ContentLength = int64(len(body))
	signer := common.RequestSigner(k, []string{"date", "(request-target)"}, []string{"content-length", "content-type", "x-content-sha256"})
	if err := signer.Sign(r); err != nil {
		t.Fatal(err)
	}
	// The server sees Content-Length as a header (Go's server keeps it).
	r.Header.Set("Content-Length", fmt.Sprint(len(body)))
	r.RequestURI = "/v1/x509"
	return r
}

type fedFixture struct {
	now            time.Time
	ca             *InstanceCA
	fed            *Federation
	leaf           *x509.Certificate
	leafKey        *rsa.PrivateKey
	session        *rsa.PrivateKey
	tokens         *SessionTokens
	activeCompartm map[string]bool
}

func newFedFixture(t testing.TB) *fedFixture {
	k1, k2 := testKeys(t)
	f := &fedFixture{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), leafKey: k1, session: k2}
	f.ca = newCA(t, f.now.Add(-time.Hour))
	f.tokens = newTokens(t, &f.now)
	f.activeCompartm = map[string]bool{testInstance.CompartmentID: true}
	f.fed = &Federation{
		CA: f.ca, Tokens: f.tokens, Now: func() time.Time { return f.now },
		TenancyID: func(context.Context) (string, error) { return testInstance.TenancyID, nil },
		CompartmentActive: func(_ context.Context, id string) (bool, error) {
			return f.activeCompartm[id], nil
		},
	}
	var err error
	if f.leaf, err = f.ca.Issue(testInstance, &k1.PublicKey, f.now, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFederationVerifyAndIssue(t *testing.T) {
	f := newFedFixture(t)
	body := fedBody(t, f.leaf, []*x509.Certificate{f.ca.Intermediate()}, &f.session.PublicKey)
	r := signFed(t, fedKeyFor(f.leaf, f.leafKey), body, f.now)
	p, err := f.fed.Verify(context.Background(), r, body)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if p.Type != authz.PrincipalInstance || p.ID != testInstance.InstanceID || p.CompartmentID != testInstance.CompartmentID ||
		p.TenancyID != testInstance.TenancyID || p.Attributes["instance.compartment.id"] != testInstance.CompartmentID {
		t.Errorf("principal %+v", p)
	}
	tok, exp, err := f.fed.IssueToken(p, body)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK renews 5 minutes before exp: more than that must remain.
	if !exp.Equal(f.now.Add(InstanceTokenTTL)) || exp.Sub(f.now) <= 5*time.Minute {
		t.Errorf("exp %v", exp)
	}
	pub, tp, err := WorkloadTokens{f.tokens}.LookupSessionToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&f.session.PublicKey) || fmt.Sprint(*tp) != fmt.Sprint(*p) {
		t.Errorf("token resolves to %+v", tp)
	}
	// The resource-token lookup alone does not take it for a resource.
	if _, _, err := f.tokens.LookupSessionToken(context.Background(), tok); !errors.Is(err, ErrBadSessionToken) {
		t.Errorf("resource lookup of an instance token: %v", err)
	}
	// Resource tokens still resolve through WorkloadTokens.
	rt, _, err := f.tokens.Mint(testClaims, &f.session.PublicKey, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, rp, err := (WorkloadTokens{f.tokens}).LookupSessionToken(context.Background(), rt); err != nil || rp.Type != authz.PrincipalResource {
		t.Errorf("resource token: %+v %v", rp, err)
	}
	// A token lives no longer than the leaf certificate.
	f.now = f.leaf.NotAfter.Add(-10 * time.Minute)
	r = signFed(t, fedKeyFor(f.leaf, f.leafKey), body, f.now)
	if p, err = f.fed.Verify(context.Background(), r, body); err != nil {
		t.Fatal(err)
	}
	if _, exp, err = f.fed.IssueToken(p, body); err != nil || !exp.Equal(f.leaf.NotAfter.Truncate(time.Second)) {
		t.Errorf("capped exp %v (leaf %v), %v", exp, f.leaf.NotAfter, err)
	}
	// An instance token expires.
	f.now = f.now.Add(time.Hour)
	if _, _, err := (WorkloadTokens{f.tokens}).LookupSessionToken(context.Background(), tok); !errors.Is(err, ErrBadSessionToken) {
		t.Errorf("expired instance token: %v", err)
	}
}

func TestFederationRefuses(t *testing.T) {
	f := newFedFixture(t)
	inter := []*x509.Certificate{f.ca.Intermediate()}
	good := fedBody(t, f.leaf, inter, &f.session.PublicKey)
	other := newCA(t, f.now.Add(-time.Hour))
	foreign, err := other.Issue(testInstance, &f.leafKey.PublicKey, f.now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherTenancy := testInstance
	otherTenancy.TenancyID = "ocid1.tenancy.oc1..other"
	otherLeaf, _ := f.ca.Issue(otherTenancy, &f.leafKey.PublicKey, f.now, time.Hour)
	gone := testInstance
	gone.CompartmentID = "ocid1.compartment.oc1..gone"
	goneLeaf, _ := f.ca.Issue(gone, &f.leafKey.PublicKey, f.now, time.Hour)
	_, k2 := testKeys(t)
	// A leaf without the instance cert type, signed by the real
	// intermediate.
	untyped := mustCert(t, &x509.Certificate{
		Subject:   pkix.Name{OrganizationalUnit: []string{"opc-tenant:" + testInstance.TenancyID, "opc-instance:" + testInstance.InstanceID, "opc-compartment:" + testInstance.CompartmentID}},
		NotBefore: f.now.Add(-time.Minute), NotAfter: f.now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, f.ca, &f.leafKey.PublicKey)
	tampered := bytes.Clone(f.leaf.Raw)
	tampered[len(tampered)-5] ^= 1 // in the signature
	tamperedLeaf, err := x509.ParseCertificate(tampered)
	if err != nil {
		t.Fatal(err)
	}

	type tc struct {
		leaf   *x509.Certificate
		body   []byte
		key    common.KeyProvider
		at     time.Time // request date; zero: f.now
		mutate func(*http.Request)
		clock  time.Time // server time; zero: f.now
	}
	cases := map[string]tc{
		"foreign CA":           {leaf: foreign, body: fedBody(t, foreign, inter, &f.session.PublicKey)},
		"foreign CA own inter": {leaf: foreign, body: fedBody(t, foreign, []*x509.Certificate{other.Intermediate()}, &f.session.PublicKey)},
		"no intermediate":      {leaf: f.leaf, body: fedBody(t, f.leaf, nil, &f.session.PublicKey)},
		"tampered cert":        {leaf: tamperedLeaf, body: fedBody(t, tamperedLeaf, inter, &f.session.PublicKey)},
		"expired":              {leaf: f.leaf, body: good, clock: f.leaf.NotAfter.Add(time.Second), at: f.leaf.NotAfter.Add(time.Second)},
		"not yet valid":        {leaf: f.leaf, body: good, clock: f.leaf.NotBefore.Add(-time.Second), at: f.leaf.NotBefore.Add(-time.Second)},
		"signed by other key":  {leaf: f.leaf, body: good, key: fedKey{keyID: fedKeyFor(f.leaf, nil).keyID, key: k2}},
		"fingerprint of other": {leaf: f.leaf, body: good, key: fedKey{keyID: fedKeyFor(otherLeaf, f.leafKey).keyID, key: f.leafKey}},
		"keyId tenancy":        {leaf: f.leaf, body: good, key: fedKey{keyID: "ocid1.tenancy.oc1..x/fed-x509-sha256/" + CertificateFingerprint(f.leaf), key: f.leafKey}},
		"keyId sha1 form":      {leaf: f.leaf, body: good, key: fedKey{keyID: testInstance.TenancyID + "/fed-x509/" + CertificateFingerprint(f.leaf), key: f.leafKey}},
		"other tenancy":        {leaf: otherLeaf, body: fedBody(t, otherLeaf, inter, &f.session.PublicKey)},
		"inactive compartment": {leaf: goneLeaf, body: fedBody(t, goneLeaf, inter, &f.session.PublicKey)},
		"not instance type":    {leaf: untyped, body: fedBody(t, untyped, inter, &f.session.PublicKey)},
		"intermediate as leaf": {leaf: f.ca.Intermediate(), body: fedBody(t, f.ca.Intermediate(), inter, &f.session.PublicKey)},
		"stale date":           {leaf: f.leaf, body: good, at: f.now.Add(-10 * time.Minute)},
		"body hash header": {leaf: f.leaf, body: good, mutate: func(r *http.Request) {
			r.Header.Set("X-Content-Sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
		}},
		"content-type unsigned": {leaf: f.leaf, body: good, mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), " content-type", "", 1))
		}},
		"no authorization": {leaf: f.leaf, body: good, mutate: func(r *http.Request) { r.Header.Del("Authorization") }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f.now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			key := c.key
			if key == nil {
				key = fedKeyFor(c.leaf, f.leafKey)
			}
			at := c.at
			if at.IsZero() {
				at = f.now
			}
			r := signFed(t, key, c.body, at)
			if c.mutate != nil {
				c.mutate(r)
			}
			if !c.clock.IsZero() {
				f.now = c.clock
			}
			p, err := f.fed.Verify(context.Background(), r, c.body)
			if !errors.Is(err, ErrNotAuthenticated) {
				t.Fatalf("verified as %+v (%v)", p, err)
			}
			t.Log(err)
		})
	}
	// The good request passes with the same fixture (the cases fail for
	// their own reason).
	f.now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := f.fed.Verify(context.Background(), signFed(t, fedKeyFor(f.leaf, f.leafKey), good, f.now), good); err != nil {
		t.Fatalf("good request: %v", err)
	}
	// A body whose session key was swapped after signing fails the body
	// hash.
	swapped := fedBody(t, f.leaf, inter, &f.leafKey.PublicKey)
	if _, err := f.fed.Verify(context.Background(), signFed(t, fedKeyFor(f.leaf, f.leafKey), good, f.now), swapped); err == nil {
		t.Error("swapped body verified")
	}
}

func TestParseFederationRequestForms(t *testing.T) {
	f := newFedFixture(t)
	spki, _ := x509.MarshalPKIXPublicKey(&f.session.PublicKey)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.leaf.Raw}))
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	wrapped := func(s string) string { // 64-column base64, as in PEM
		var b strings.Builder
		for len(s) > 64 {
			b.WriteString(s[:64] + "\n")
			s = s[64:]
		}
		return b.String() + s
	}
	for name, tc := range map[string]struct {
		d  FederationDetails
		ok bool
	}{
		"sdk form":       {FederationDetails{Certificate: b64DER(f.leaf.Raw), PublicKey: b64DER(spki), FingerprintAlgorithm: "SHA256"}, true},
		"pem form":       {FederationDetails{Certificate: certPEM, PublicKey: keyPEM}, true},
		"wrapped base64": {FederationDetails{Certificate: wrapped(b64DER(f.leaf.Raw)), PublicKey: b64DER(spki)}, true},
		"sha1":           {FederationDetails{Certificate: b64DER(f.leaf.Raw), PublicKey: b64DER(spki), FingerprintAlgorithm: "SHA1"}, false},
		"no key":         {FederationDetails{Certificate: b64DER(f.leaf.Raw)}, false},
		"key as cert":    {FederationDetails{Certificate: keyPEM, PublicKey: keyPEM}, false},
		"cert as key":    {FederationDetails{Certificate: certPEM, PublicKey: certPEM}, false},
		"small key":      {FederationDetails{Certificate: certPEM, PublicKey: b64DER(f.leaf.RawSubjectPublicKeyInfo[:10])}, false},
		"too many inter": {FederationDetails{Certificate: certPEM, PublicKey: keyPEM, IntermediateCertificates: []string{certPEM, certPEM, certPEM, certPEM, certPEM}}, false},
		"bad inter":      {FederationDetails{Certificate: certPEM, PublicKey: keyPEM, IntermediateCertificates: []string{"AAAA"}}, false},
		"huge":           {FederationDetails{Certificate: strings.Repeat("A", maxCertB64Len+4), PublicKey: keyPEM}, false},
	} {
		b, _ := json.Marshal(tc.d)
		_, err := ParseFederationRequest(b)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tc.ok)
		}
	}
}

func FuzzParseFederationRequest(f *testing.F) {
	fx := newFedFixture(f)
	spki, _ := x509.MarshalPKIXPublicKey(&fx.session.PublicKey)
	f.Add(fedBody(f, fx.leaf, []*x509.Certificate{fx.ca.Intermediate()}, &fx.session.PublicKey))
	b, _ := json.Marshal(FederationDetails{Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fx.leaf.Raw})),
		PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))})
	f.Add(b)
	f.Add([]byte(`{"certificate":"AAAA","publicKey":"-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----"}`))
	f.Add([]byte(`{"certificate":"","intermediateCertificates":[null,""]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseFederationRequest(body)
		if err != nil {
			if req != nil {
				t.Fatal("request with an error")
			}
			return
		}
		if req.Leaf == nil || req.SessionKey == nil || req.SessionKey.N.BitLen() < minSessionKeyBits || len(req.Intermediates) > maxIntermediates {
			t.Fatalf("accepted %+v", req)
		}
		// Whatever parses can be asked for its claims without panicking.
		_, _ = InstanceClaimsFromCertificate(req.Leaf)
		_ = CertificateFingerprint(req.Leaf)
	})
}

// The federation key id parser takes exactly the SDK's form.
func FuzzParseFederationKeyID(f *testing.F) {
	f.Add("ocid1.tenancy.oc1..t/fed-x509-sha256/" + strings.Repeat("ab:", 31) + "ab")
	f.Add("ocid1.tenancy.oc1..t/fed-x509/ab")
	f.Add("a/b/c/d")
	f.Fuzz(func(t *testing.T, keyID string) {
		tenancy, fp, err := parseFederationKeyID(keyID)
		if err != nil {
			return
		}
		if keyID != tenancy+"/fed-x509-sha256/"+fp || !isOCID(tenancy) || len(fp) != 95 {
			t.Fatalf("parsed %q as %q %q", keyID, tenancy, fp)
		}
	})
}

// FuzzFederationVerify feeds arbitrary Authorization headers and bodies
// (with matching body headers, so parsing is reached) to the federation
// verifier: it must refuse, never panic, and accept nothing unsigned.
func FuzzFederationVerify(f *testing.F) {
	fx := newFedFixture(f)
	body := fedBody(f, fx.leaf, []*x509.Certificate{fx.ca.Intermediate()}, &fx.session.PublicKey)
	signed := signFed(f, fedKeyFor(fx.leaf, fx.leafKey), body, fx.now)
	f.Add(signed.Header.Get("Authorization"), body)
	f.Add(`Signature version="1",headers="date (request-target) content-length content-type x-content-sha256",keyId="`+fedKeyFor(fx.leaf, nil).keyID+`",algorithm="rsa-sha256",signature="AAAA"`, body)
	f.Add("Signature keyId=\"a/b/c\",signature=\"x\"", []byte("{}"))
	f.Fuzz(func(t *testing.T, authorization string, body []byte) {
		r := signFed(t, fedKeyFor(fx.leaf, fx.leafKey), body, fx.now)
		r.Header.Set("Authorization", authorization)
		p, err := fx.fed.Verify(context.Background(), r, body)
		if err == nil && authorization != signed.Header.Get("Authorization") {
			// Only a real signature over this body verifies; the seed's
			// signature is over the seed body.
			t.Fatalf("verified %q as %+v", authorization, p)
		}
	})
}

// BenchmarkFederationVerify is the cost of one federation: signature,
// chain and body checks (the SDK federates every 15 minutes per process).
func BenchmarkFederationVerify(b *testing.B) {
	f := newFedFixture(b)
	body := fedBody(b, f.leaf, []*x509.Certificate{f.ca.Intermediate()}, &f.session.PublicKey)
	r := signFed(b, fedKeyFor(f.leaf, f.leafKey), body, f.now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.fed.Verify(context.Background(), r, body); err != nil {
			b.Fatal(err)
		}
	}
}
