package console

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecodeLogin: any body and Content-Type decode to a bounded login or
// an error; no error ever holds the password it was given.
func FuzzDecodeLogin(f *testing.F) {
	f.Add("application/json", []byte(`{"userName":"alice","password":"PW-CANARY"}`))
	f.Add("application/json; charset=utf-8", []byte(`{"userName":"a\u0000","password":"PW-CANARY"}`))
	f.Add("application/x-www-form-urlencoded", []byte(`userName=alice&password=PW-CANARY`))
	f.Add("application/x-www-form-urlencoded", []byte(`userName=a&userName=b&password=%zz`))
	f.Add("text/plain", []byte(`x`))
	f.Add("", []byte(nil))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req, err := decodeLogin(contentType, body)
		if err != nil {
			if bytes.Contains(body, []byte("PW-CANARY")) && strings.Contains(err.Error(), "PW-CANARY") {
				t.Fatalf("error holds the password: %v", err)
			}
			return
		}
		if req.UserName == "" || len(req.UserName) > maxUserName || len(req.Password) == 0 || len(req.Password) > maxPassword {
			t.Fatalf("accepted out of bounds: name %q, password of %d bytes", req.UserName, len(req.Password))
		}
	})
}

// FuzzParseSessionID: a cookie value is accepted only as the one canonical
// encoding of a 32-byte id.
func FuzzParseSessionID(f *testing.F) {
	f.Add(newSessionID().encode())
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("_", 43))
	f.Add(strings.Repeat("A", 42) + "B") // non-zero padding bits
	f.Add("")
	f.Add(strings.Repeat("A", 44))
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := parseSessionID(v)
		if !ok {
			return
		}
		if id.encode() != v {
			t.Fatalf("accepted %q, which encodes back as %q", v, id.encode())
		}
	})
}

// FuzzParseOrigin: an accepted origin is http or https with a host and no
// path, query, fragment or user, and parses back to itself.
func FuzzParseOrigin(f *testing.F) {
	for _, s := range []string{"https://vault.example.com", "HTTPS://Vault.Example.com:443/", "http://[::1]:8420",
		"http://10.0.0.1:80", "ftp://x", "https://u:p@x", "https://x/p?q#f", "https://x:0", "https://[fe80::1%25eth0]", "//x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOrigin(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			t.Fatalf("%q accepted as %q", s, o)
		}
		rest := o[strings.Index(o, "://")+3:]
		if rest == "" || strings.ContainsAny(rest, "/?#@%") || strings.ToLower(o) != o {
			t.Fatalf("%q accepted as %q", s, o)
		}
		if again, err := ParseOrigin(o); err != nil || again != o {
			t.Fatalf("%q -> %q -> %q, %v", s, o, again, err)
		}
	})
}

// FuzzDecodeCurrentPassword: any body gives a bounded, non-empty password
// or an error that never holds it.
func FuzzDecodeCurrentPassword(f *testing.F) {
	f.Add([]byte(`{"currentPassword":"PW-CANARY"}`))
	f.Add([]byte(`{"currentPassword":""}`))
	f.Add([]byte(`{"currentPassword":null,"x":"PW-CANARY"}`))
	f.Add([]byte(`["PW-CANARY"]`))
	f.Add([]byte(nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		pw, err := decodeCurrentPassword(body)
		if err != nil {
			if strings.Contains(err.Error(), "PW-CANARY") {
				t.Fatalf("error holds the password: %v", err)
			}
			return
		}
		if len(pw) == 0 || len(pw) > maxPassword {
			t.Fatalf("accepted a password of %d bytes", len(pw))
		}
	})
}
