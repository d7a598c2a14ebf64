package authn

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var testInstance = InstanceClaims{
	InstanceID:    "ocid1.instance.oc1.local.i1",
	CompartmentID: "ocid1.compartment.oc1..c",
	TenancyID:     "ocid1.tenancy.oc1..t",
}

func newCA(t testing.TB, now time.Time) *InstanceCA {
	t.Helper()
	ca, err := NewInstanceCA(now)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// sdkTenancy is how the SDK reads the tenancy from a leaf certificate
// (common/auth extractTenancyIDFromCertificate).
func sdkTenancy(cert *x509.Certificate) string {
	for _, n := range cert.Subject.Names {
		if v := n.Value.(string); strings.HasPrefix(v, "opc-tenant:") {
			return v[len("opc-tenant:"):]
		}
	}
	return ""
}

func TestInstanceCAIssueAndStore(t *testing.T) {
	k1, _ := testKeys(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := newCA(t, now)
	b, err := ca.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := ParseInstanceCA(b)
	if err != nil {
		t.Fatal(err)
	}
	if !ca2.Root().Equal(ca.Root()) || !ca2.Intermediate().Equal(ca.Intermediate()) {
		t.Fatal("certificates differ after a round trip")
	}
	leaf, err := ca2.Issue(testInstance, &k1.PublicKey, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The reloaded CA's leaf verifies under the original root.
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca.Root())
	inters.AddCert(ca.Intermediate())
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("leaf does not chain: %v", err)
	}
	if got := sdkTenancy(leaf); got != testInstance.TenancyID {
		t.Errorf("the SDK would read tenancy %q", got)
	}
	c, err := InstanceClaimsFromCertificate(leaf)
	if err != nil || c != testInstance {
		t.Errorf("claims %+v, %v", c, err)
	}
	if !leaf.NotAfter.Equal(now.Add(time.Hour)) {
		t.Errorf("NotAfter %v", leaf.NotAfter)
	}

	if _, err := ParseInstanceCA([]byte(`{"version":2}`)); err == nil {
		t.Error("unknown version parsed")
	}
	// A stored key that does not match its certificate is refused.
	var s storedCA
	json.Unmarshal(b, &s)
	s.RootKey, s.IntermediateKey = s.IntermediateKey, s.RootKey
	swapped, _ := json.Marshal(s)
	if _, err := ParseInstanceCA(swapped); err == nil {
		t.Error("swapped keys parsed")
	}

	// Never printed.
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("ca", "ca", ca)
	for _, out := range []string{fmt.Sprint(ca), fmt.Sprintf("%+v %#v %s %x", ca, ca, ca, ca), logs.String()} {
		if strings.Contains(out, "BEGIN") || !strings.Contains(out, "REDACTED") {
			t.Errorf("CA printed: %q", out)
		}
	}
}

func TestInstanceCAIssueRefuses(t *testing.T) {
	k1, _ := testKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := newCA(t, now)
	for name, tc := range map[string]struct {
		c   InstanceClaims
		pub *rsa.PublicKey
		ttl time.Duration
	}{
		"small key":        {testInstance, &small.PublicKey, 0},
		"no key":           {testInstance, nil, 0},
		"ttl too short":    {testInstance, &k1.PublicKey, time.Minute},
		"ttl too long":     {testInstance, &k1.PublicKey, 400 * 24 * time.Hour},
		"bad instance":     {InstanceClaims{InstanceID: "i1", CompartmentID: testInstance.CompartmentID, TenancyID: testInstance.TenancyID}, &k1.PublicKey, 0},
		"comma in ocid":    {InstanceClaims{InstanceID: "ocid1.instance.oc1..a,OU=opc-tenant:x", CompartmentID: testInstance.CompartmentID, TenancyID: testInstance.TenancyID}, &k1.PublicKey, 0},
		"no compartment":   {InstanceClaims{InstanceID: testInstance.InstanceID, TenancyID: testInstance.TenancyID}, &k1.PublicKey, 0},
		"colon in tenancy": {InstanceClaims{InstanceID: testInstance.InstanceID, CompartmentID: testInstance.CompartmentID, TenancyID: "ocid1.tenancy:x"}, &k1.PublicKey, 0},
	} {
		if _, err := ca.Issue(tc.c, tc.pub, now, tc.ttl); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
}

func mustCert(t testing.TB, tmpl *x509.Certificate, ca *InstanceCA, pub *rsa.PublicKey) *x509.Certificate {
	t.Helper()
	var err error
	if tmpl.SerialNumber, err = serial(); err != nil {
		t.Fatal(err)
	}
	c, err := createCert(tmpl, ca.inter, pub, ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestInstanceCAShape: the root may have one CA below it, the intermediate
// none; both are CAs, valid from a minute before now, the intermediate
// signed by the root.
func TestInstanceCAShape(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := newCA(t, now)
	root, inter := ca.Root(), ca.Intermediate()
	if !root.IsCA || root.MaxPathLen != 1 || root.MaxPathLenZero {
		t.Errorf("root: IsCA %v MaxPathLen %d zero %v", root.IsCA, root.MaxPathLen, root.MaxPathLenZero)
	}
	if !inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero {
		t.Errorf("intermediate: IsCA %v MaxPathLen %d zero %v", inter.IsCA, inter.MaxPathLen, inter.MaxPathLenZero)
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		t.Errorf("intermediate not signed by the root: %v", err)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root not self-signed: %v", err)
	}
	for _, c := range []*x509.Certificate{root, inter} {
		if !c.NotBefore.Equal(now.Add(-certBackdate)) || c.Subject.Organization[0] != "Coffer" {
			t.Errorf("%s: from %v, subject %v", c.Subject.CommonName, c.NotBefore, c.Subject)
		}
	}
	if root.NotAfter.Sub(root.NotBefore) != caRootTTL || inter.NotAfter.Sub(inter.NotBefore) != caIntermediateTTL {
		t.Error("lifetimes differ from caRootTTL, caIntermediateTTL")
	}
}
