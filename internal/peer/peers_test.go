package peer

import (
	"crypto/ed25519"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// testKey returns a fixed identity for name.
func testIdentity(name string) *Identity {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "test-identity-"+name)
	return &Identity{priv: ed25519.NewKeyFromSeed(seed)}
}

func TestCheckRegion(t *testing.T) {
	for _, ok := range []string{"us-ashburn-1", "a", "eu-frankfurt-1", "x" + strings.Repeat("-", 63), "ap-tokyo-1"} {
		if err := CheckRegion(ok); err != nil {
			t.Errorf("CheckRegion(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1us", "-us", "US-ASHBURN-1", "us_ashburn", "us ashburn", "us.ashburn", "a" + strings.Repeat("b", 64), "é", "us\n"} {
		if err := CheckRegion(bad); err == nil {
			t.Errorf("CheckRegion(%q) accepted", bad)
		}
	}
}

func TestParsePeerFlag(t *testing.T) {
	for in, want := range map[string]string{
		"us-ashburn-1=https://vault.example.com":  "https://vault.example.com",
		"us-ashburn-1=https://vault.example.com/": "https://vault.example.com",
		"eu-frankfurt-1=http://10.0.0.1:8200":     "http://10.0.0.1:8200",
		"eu-frankfurt-1=HTTP://[::1]:8200/":       "http://[::1]:8200",
		"r=https://vault.example.com:443":         "https://vault.example.com:443",
	} {
		region, u, err := ParsePeerFlag(in)
		if err != nil {
			t.Errorf("ParsePeerFlag(%q): %v", in, err)
			continue
		}
		if region != in[:strings.IndexByte(in, '=')] || u.String() != want || u.Path != "" {
			t.Errorf("ParsePeerFlag(%q) = %q %q (path %q), want %q", in, region, u, u.Path, want)
		}
	}
	for in, want := range map[string]string{
		"us-ashburn-1":               "REGION=URL",
		"=https://h":                 "region name is empty",
		"US=https://h":               "lowercase",
		"r=":                         "http:// or https://",
		"r=ftp://h":                  "http:// or https://",
		"r=h:80":                     "http:// or https://",
		"r=//h":                      "http:// or https://",
		"r=https://":                 "no host",
		"r=https://:443":             "no host",
		"r=https:h":                  "no host",
		"r=https://user:pw@h":        "user information",
		"r=https://user@h":           "user information",
		"r=https://h?x=1":            "query",
		"r=https://h?":               "query",
		"r=https://h#f":              "fragment",
		"r=https://h#":               "fragment",
		"r=https://h/coffer":         "path",
		"r=https://h//":              "path",
		"r=https://h/%2F":            "path",
		"r=https://h:port":           "does not parse",
		"r=https://h b":              "does not parse",
		"r=https://user:s3cret%zz@h": "does not parse",
	} {
		_, _, err := ParsePeerFlag(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePeerFlag(%q) = %v, want an error with %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParsePeerFlag(%q) error shows the password: %v", in, err)
		}
	}
}

func TestParsePeerKeyFlag(t *testing.T) {
	k := testIdentity("a").PublicKey()
	region, got, err := ParsePeerKeyFlag("eu-frankfurt-1=" + k.String())
	if err != nil || region != "eu-frankfurt-1" || got != k {
		t.Fatalf("got %q %v %v", region, got, err)
	}
	for _, bad := range []string{k.String(), "=" + k.String(), "Eu=" + k.String(), "eu=", "eu=" + k.String() + "x", "eu=" + k.String()[1:]} {
		if _, _, err := ParsePeerKeyFlag(bad); err == nil {
			t.Errorf("ParsePeerKeyFlag(%q) accepted", bad)
		}
	}
}

func TestNewPeers(t *testing.T) {
	u, _ := url.Parse("https://a.example.com")
	ka, kb := testIdentity("a").PublicKey(), testIdentity("b").PublicKey()
	ps, err := NewPeers("us-ashburn-1", []Peer{
		{Region: "eu-frankfurt-1", URL: u, Key: ka},
		{Region: "ap-tokyo-1", Key: kb}, // a replica that only calls us
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ps.Regions(); !slices.Equal(got, []string{"ap-tokyo-1", "eu-frankfurt-1"}) {
		t.Fatalf("Regions = %v", got)
	}
	p, ok := ps.Lookup("eu-frankfurt-1")
	if !ok || p.Key != ka || p.URL.String() != "https://a.example.com" {
		t.Fatalf("Lookup = %+v %v", p, ok)
	}
	p.URL.Host = "evil.example.com"
	u.Host = "evil.example.com"
	if again, _ := ps.Lookup("eu-frankfurt-1"); again.URL.Host != "a.example.com" {
		t.Fatal("Peers shares its URLs with callers")
	}
	if _, ok := ps.Lookup("us-ashburn-1"); ok {
		t.Fatal("own region found as a peer")
	}
	if ps.Self() != "us-ashburn-1" {
		t.Fatal("Self")
	}

	withPath, _ := url.Parse("https://h/x")
	for name, c := range map[string]struct {
		self string
		list []Peer
		want string
	}{
		"duplicate": {"us-ashburn-1", []Peer{{Region: "r", Key: ka}, {Region: "r", Key: kb}}, "named twice"},
		"self":      {"us-ashburn-1", []Peer{{Region: "us-ashburn-1", Key: ka}}, "own region"},
		"no key":    {"us-ashburn-1", []Peer{{Region: "r"}}, "no public key"},
		"bad self":  {"US", nil, "own region"},
		"bad peer":  {"us-ashburn-1", []Peer{{Region: "R", Key: ka}}, "lowercase"},
		"bad url":   {"us-ashburn-1", []Peer{{Region: "r", Key: ka, URL: withPath}}, "path"},
	} {
		if _, err := NewPeers(c.self, c.list); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func FuzzParsePeerFlag(f *testing.F) {
	for _, s := range []string{"us-ashburn-1=https://vault.example.com", "r=http://[::1]:80/", "r=https://u:p@h", "r=https://h?x#y", "=", "r=http://h/%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		region, u, err := ParsePeerFlag(s)
		if err != nil {
			return
		}
		if CheckRegion(region) != nil || u == nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Path != "" {
			t.Fatalf("ParsePeerFlag(%q) accepted %q %#v", s, region, u)
		}
		// What it returns parses again to the same.
		r2, u2, err := ParsePeerFlag(region + "=" + u.String())
		if err != nil || r2 != region || u2.String() != u.String() {
			t.Fatalf("ParsePeerFlag(%q) = %q, which does not parse back: %v", s, u, err)
		}
	})
}
