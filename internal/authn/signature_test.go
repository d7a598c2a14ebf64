package authn

import (
	"strings"
	"testing"
)

func TestParseAuthorizationAnyOrder(t *testing.T) {
	goStyle := `Signature version="1",headers="date (request-target) host",keyId="t/u/aa:bb",algorithm="rsa-sha256",signature="c2ln"`
	tsStyle := `Signature version="1",keyId="t/u/aa:bb",algorithm="rsa-sha256",headers="x-date (request-target) host",signature="c2ln"`
	for _, h := range []string{goStyle, tsStyle} {
		p, err := ParseAuthorization(h)
		if err != nil {
			t.Fatalf("ParseAuthorization(%q): %v", h, err)
		}
		if p.KeyID != "t/u/aa:bb" || p.Signature != "c2ln" || p.Algorithm != "rsa-sha256" || len(p.Headers) != 3 {
			t.Fatalf("unexpected params %+v", p)
		}
	}
}

func TestParseAuthorizationRejects(t *testing.T) {
	for _, h := range []string{
		``,
		`Basic abc`,
		`Signature keyId="a/b/c"`,
		`Signature keyId="a/b/c",signature="x",keyId="d/e/f"`,
		`Signature keyId=a/b/c,signature="x"`,
		`Signature keyId="a/b/c" signature="x"`,
		`Signature keyId="a/b/c",signature="x`,
		`Signature keyId="a/b/c",signature="x",headers=""`,
		`Signature ` + strings.Repeat("a", maxAuthorizationLen),
	} {
		if _, err := ParseAuthorization(h); err == nil {
			t.Errorf("ParseAuthorization(%q) succeeded, want error", h)
		}
	}
}

func TestParseAuthorizationDefaultsHeadersToDate(t *testing.T) {
	p, err := ParseAuthorization(`Signature keyId="a/b/c",signature="x"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Headers) != 1 || p.Headers[0] != "date" {
		t.Fatalf("headers = %v, want [date]", p.Headers)
	}
}

func TestParseKeyID(t *testing.T) {
	if _, err := ParseKeyID("ST$token"); err == nil {
		t.Error("session token accepted as API key")
	}
	if _, err := ParseKeyID("a/b"); err == nil {
		t.Error("two-part keyId accepted")
	}
	id, err := ParseKeyID("ocid1.tenancy.oc1..x/ocid1.user.oc1..y/12:34")
	if err != nil || id.Fingerprint != "12:34" || id.UserID != "ocid1.user.oc1..y" {
		t.Fatalf("ParseKeyID = %+v, %v", id, err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(`Signature version="1",headers="date (request-target) host",keyId="t/u/f",algorithm="rsa-sha256",signature="c2ln"`)
	f.Add(`Signature keyId="a",signature="b",headers="x-date (request-target) host content-type content-length x-content-sha256"`)
	f.Add(`Signature ,,,=""`)
	f.Fuzz(func(t *testing.T, h string) {
		p, err := ParseAuthorization(h)
		if err != nil {
			return
		}
		if p.KeyID == "" || p.Signature == "" || len(p.Headers) == 0 {
			t.Fatalf("accepted incomplete params %+v", p)
		}
		for _, name := range p.Headers {
			if name != strings.ToLower(name) || name == "" {
				t.Fatalf("header name %q not normalized", name)
			}
		}
		_, _ = ParseKeyID(p.KeyID)
	})
}
