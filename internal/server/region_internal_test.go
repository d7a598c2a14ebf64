package server

import (
	"net"
	"slices"
	"strings"
	"testing"
)

func TestRealmClassify(t *testing.T) {
	r, err := newRealm("Coffer.Example.COM:8443", "local")
	if err != nil {
		t.Fatal(err)
	}
	if r.domain != "coffer.example.com:8443" || r.vaultDomain() != "local.coffer.example.com:8443" {
		t.Fatalf("domain %q vault domain %q", r.domain, r.vaultDomain())
	}
	for host, want := range map[string]hostKind{
		"kms.local.coffer.example.com":                hostService,
		"kms.local.coffer.example.com:8443":           hostService,
		"KMS.Local.Coffer.Example.Com":                hostService,
		"kms.local.coffer.example.com.":               hostService,
		"kms.local.coffer.example.com.:443":           hostService,
		"vaults.local.oci.coffer.example.com":         hostService,
		"secrets.vaults.local.oci.coffer.example.com": hostService,
		"identity.local.oci.coffer.example.com:8443":  hostService,
		"localhost":                             hostDirect,
		"localhost:8443":                        hostDirect,
		"127.0.0.1:8443":                        hostDirect,
		"[::1]:8443":                            hostDirect,
		"10.1.2.3":                              hostDirect,
		"":                                      hostUnknown,
		"coffer.example.com":                    hostUnknown,
		"kms.coffer.example.com":                hostUnknown,
		"kms.other.coffer.example.com":          hostUnknown,
		"identity.local.coffer.example.com":     hostUnknown,
		"xkms.local.coffer.example.com":         hostUnknown,
		"kms.local.coffer.example.com.evil.net": hostUnknown,
		"a.secrets.vaults.local.oci.coffer.example.com": hostUnknown,
		"abc-management.kms.local.coffer.example.com":   hostUnknown, // vault endpoints are routed before
	} {
		if got := r.classify(host); got != want {
			t.Errorf("classify(%q) = %d, want %d", host, got, want)
		}
	}
}

func TestRealmMetadata(t *testing.T) {
	r, err := newRealm("coffer.test", "eu-home-1")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"realmDomainComponent":"coffer.test","realmKey":"coffer","regionIdentifier":"eu-home-1","regionKey":"EU-HOME-1"}`
	if got := r.metadata(); got != want {
		t.Fatalf("metadata %s, want %s", got, want)
	}
}

// FuzzRealmClassify feeds Host headers, which any client chooses, to the
// region router: it must not panic, and it may send a request to the
// services only for one of their exact names.
func FuzzRealmClassify(f *testing.F) {
	r, err := newRealm("coffer.test:8443", "local")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"", ":", "[", "[::1", "[::1]:443", "]", "kms.local.coffer.test", "KMS.LOCAL.COFFER.TEST.:8443",
		"kms.local.coffer.test:99999", "kms.local.coffer.test:", "kms.local.coffer.test..",
		"kms.local.coffer.t\u0435st", // Cyrillic e
		"kms.local.coffer.test\x00.evil", "kms.local.coffer.test%2e", "evil.com#kms.local.coffer.test",
		"x-management.kms.local.coffer.test", "identity.local.oci.coffer.test.evil.com", "localhost.", "0x7f000001",
		strings.Repeat("a.", 5000) + "kms.local.coffer.test",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, host string) {
		kind := r.classify(host)
		if kind != hostService {
			return
		}
		h := host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			h = hh
		}
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !slices.Contains(r.serviceHosts(), h) {
			t.Fatalf("%q classified as a service host", host)
		}
	})
}
