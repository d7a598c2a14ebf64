package devmode_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/devmode"
)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func leaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(read(t, path))
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEnsureTLSRenews: the CA stays for its ten years; the server
// certificate is kept while it covers the names and has a month left, and
// reissued by the same CA otherwise.
func TestEnsureTLSRenews(t *testing.T) {
	dir := t.TempDir()
	spec := devmode.TLSSpec{DNSNames: []string{"*.local.coffer.test", "localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
	now := time.Now()
	files, err := devmode.EnsureTLS(dir, spec, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, cert := read(t, files.CA), read(t, files.Cert)
	ca1 := leaf(t, files.CA)
	if !ca1.IsCA || ca1.NotAfter.Before(now.Add(9*365*24*time.Hour)) {
		t.Fatalf("CA: IsCA %v, until %v", ca1.IsCA, ca1.NotAfter)
	}
	steps := []struct {
		name     string
		at       time.Time
		spec     devmode.TLSSpec
		reissued bool
	}{
		{"restart", now.Add(time.Hour), spec, false},
		{"a month before expiry", now.Add(300 * 24 * time.Hour), spec, false},
		{"within the last month", now.Add(340 * 24 * time.Hour), spec, true},
		{"a new name", now.Add(341 * 24 * time.Hour), devmode.TLSSpec{DNSNames: []string{"*.other.coffer.test"}}, true},
	}
	for _, s := range steps {
		files, err := devmode.EnsureTLS(dir, s.spec, s.at)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !bytes.Equal(read(t, files.CA), ca) {
			t.Fatalf("%s: the CA changed", s.name)
		}
		got := read(t, files.Cert)
		if reissued := !bytes.Equal(got, cert); reissued != s.reissued {
			t.Fatalf("%s: reissued %v, want %v", s.name, reissued, s.reissued)
		}
		cert = got
		l := leaf(t, files.Cert)
		if err := l.CheckSignatureFrom(ca1); err != nil {
			t.Fatalf("%s: not signed by the CA: %v", s.name, err)
		}
		for _, n := range s.spec.DNSNames {
			if err := l.VerifyHostname("x." + n[2:]); n[0] == '*' && err != nil {
				t.Fatalf("%s: %s not covered: %v", s.name, n, err)
			}
		}
	}
	for _, f := range []string{files.Key, dir + "/tls/ca.key"} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi.Mode(), err)
		}
	}
}
