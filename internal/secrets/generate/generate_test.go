package generate

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/errs"
)

func TestPassphrase(t *testing.T) {
	for _, tc := range []struct {
		template string
		length   int
		wantLen  int
		specials string
	}{
		{SecretsDefaultPassword, 0, 32, secretsSpecials},
		{SecretsDefaultPassword, 8, 8, secretsSpecials},
		{SecretsDefaultPassword, 256, 256, secretsSpecials},
		{DBaaSDefaultPassword, 0, 24, dbaasSpecials},
		{DBaaSDefaultPassword, 12, 12, dbaasSpecials},
		{DBaaSDefaultPassword, 30, 30, dbaasSpecials},
	} {
		alphabet := upper + lower + digits + tc.specials
		seen := map[string]bool{}
		for range 50 {
			p, err := Generate(Context{Type: TypePassphrase, Template: tc.template, PassphraseLength: tc.length})
			if err != nil {
				t.Fatalf("%s/%d: %v", tc.template, tc.length, err)
			}
			if len(p) != tc.wantLen {
				t.Fatalf("%s/%d: length %d, want %d", tc.template, tc.length, len(p), tc.wantLen)
			}
			for _, c := range p {
				if !strings.ContainsRune(alphabet, rune(c)) {
					t.Fatalf("%s: character %q outside the alphabet", tc.template, c)
				}
			}
			for _, cl := range []string{upper, lower, digits, tc.specials} {
				if !strings.ContainsAny(string(p), cl) {
					t.Fatalf("%s: passphrase lacks a character of class %q", tc.template, cl)
				}
			}
			if tc.template == DBaaSDefaultPassword && !isLetter(p[0]) {
				t.Fatalf("DBAAS passphrase starts with %q", p[0])
			}
			seen[string(p)] = true
		}
		if len(seen) < 50 {
			t.Fatalf("%s: only %d distinct passphrases in 50 draws", tc.template, len(seen))
		}
	}
}

func TestPassphraseTemplate(t *testing.T) {
	c := Context{Type: TypePassphrase, Template: SecretsDefaultPassword, PassphraseLength: 20,
		SecretTemplate: `{"user":"app","password":"%GENERATED_PASSPHRASE%"}`}
	out, err := Generate(c)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ User, Password string }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if v.User != "app" || len(v.Password) != 20 {
		t.Fatalf("user %q, password length %d", v.User, len(v.Password))
	}
}

func TestSSHKey(t *testing.T) {
	for _, tc := range []struct {
		template string
		bits     int
	}{{RSA2048, 2048}, {RSA3072, 3072}, {RSA4096, 4096}} {
		out, err := Generate(Context{Type: TypeSSHKey, Template: tc.template})
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ PublicKey, PrivateKey string }
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("default SSH layout is not JSON: %v", err)
		}
		blk, _ := pem.Decode([]byte(v.PrivateKey))
		if blk == nil || blk.Type != "PRIVATE KEY" {
			t.Fatalf("private key is not a PEM PRIVATE KEY")
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		rk := k.(*rsa.PrivateKey)
		if rk.N.BitLen() != tc.bits {
			t.Fatalf("%s: %d bits", tc.template, rk.N.BitLen())
		}
		pb, _ := pem.Decode([]byte(v.PublicKey))
		if pb == nil || pb.Type != "PUBLIC KEY" {
			t.Fatal("public key is not a PEM PUBLIC KEY")
		}
		pk, err := x509.ParsePKIXPublicKey(pb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !pk.(*rsa.PublicKey).Equal(&rk.PublicKey) {
			t.Fatal("public key does not match private key")
		}
	}
}

func TestSSHKeyCustomTemplate(t *testing.T) {
	out, err := Generate(Context{Type: TypeSSHKey, Template: RSA2048,
		SecretTemplate: "PRIV\n%GENERATED_PRIVATE_KEY%PUB\n%GENERATED_PUBLIC_KEY%"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.HasPrefix(s, "PRIV\n-----BEGIN PRIVATE KEY-----\n") || !strings.Contains(s, "PUB\n-----BEGIN PUBLIC KEY-----\n") {
		t.Fatalf("non-JSON template not filled verbatim")
	}
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		template string
		n        int
	}{{Bytes512, 64}, {Bytes1024, 128}} {
		out, err := Generate(Context{Type: TypeBytes, Template: tc.template})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != tc.n {
			t.Fatalf("%s: %d bytes, want %d", tc.template, len(out), tc.n)
		}
		out, err = Generate(Context{Type: TypeBytes, Template: tc.template, SecretTemplate: `{"k":"%GENERATED_BYTES%"}`})
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ K string }
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(v.K)
		if err != nil || len(raw) != tc.n {
			t.Fatalf("templated bytes: %v, %d bytes", err, len(raw))
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Context
		kind errs.Kind
	}{
		{Context{}, errs.Missing},
		{Context{Type: "X"}, errs.Invalid},
		{Context{Type: TypePassphrase, Template: RSA2048}, errs.Invalid},
		{Context{Type: TypePassphrase, Template: SecretsDefaultPassword, PassphraseLength: 7}, errs.Invalid},
		{Context{Type: TypePassphrase, Template: SecretsDefaultPassword, PassphraseLength: 257}, errs.Invalid},
		{Context{Type: TypePassphrase, Template: DBaaSDefaultPassword, PassphraseLength: 31}, errs.Invalid},
		{Context{Type: TypeBytes, Template: Bytes512, PassphraseLength: 10}, errs.Invalid},
		{Context{Type: TypeSSHKey, Template: Bytes512}, errs.Invalid},
		{Context{Type: TypeBytes, Template: "BYTES_2048"}, errs.Invalid},
		{Context{Type: TypePassphrase, Template: SecretsDefaultPassword, SecretTemplate: "no placeholder"}, errs.Invalid},
		{Context{Type: TypePassphrase, Template: SecretsDefaultPassword, SecretTemplate: "%GENERATED_PASSPHRASE% %GENERATED_BYTES%"}, errs.Invalid},
		{Context{Type: TypeSSHKey, Template: RSA2048, SecretTemplate: "%GENERATED_PRIVATE_KEY%"}, errs.Invalid},
		{Context{Type: TypePassphrase, Template: SecretsDefaultPassword, SecretTemplate: "%GENERATED_PASSPHRASE% %GENERATED_"}, errs.Invalid},
		{Context{Type: TypePassphrase, Template: SecretsDefaultPassword, SecretTemplate: strings.Repeat("x", MaxTemplateLen) + "%GENERATED_PASSPHRASE%"}, errs.Invalid},
	} {
		err := tc.c.Validate()
		if !errs.Is(err, tc.kind) {
			t.Errorf("Validate(%+v) = %v, want kind %v", tc.c, err, tc.kind)
		}
	}
	if err := (Context{Type: TypeSSHKey, Template: RSA2048, SecretTemplate: "%GENERATED_PRIVATE_KEY%/%GENERATED_PUBLIC_KEY%"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{
		`{"user":"app","password":"%GENERATED_PASSPHRASE%"}`,
		"%GENERATED_PASSPHRASE%",
		"a%GENERATED_PASSPHRASE%b%GENERATED_%c%%",
		`["%GENERATED_PASSPHRASE%", "%GENERATED_BYTES%"]`,
		"%GENERATED_PASSPHRASE",
		"",
	} {
		f.Add(s, "p\"\\\n\x01ass")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		c := Context{Type: TypePassphrase, Template: SecretsDefaultPassword, SecretTemplate: tmpl}
		if err := c.Validate(); err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("validation error of kind %v", errs.KindOf(err))
			}
			return
		}
		out, err := Render(tmpl, map[string][]byte{PlaceholderPassphrase: []byte(value)})
		if err != nil {
			t.Fatal(err)
		}
		if json.Valid([]byte(tmpl)) && !json.Valid(out) {
			t.Fatalf("JSON template %q rendered invalid JSON %q", tmpl, out)
		}
		if !strings.Contains(value, PlaceholderPassphrase) && strings.Contains(string(out), PlaceholderPassphrase) {
			t.Fatalf("placeholder left in output")
		}
		if json.Valid([]byte(tmpl)) && strings.Count(tmpl, PlaceholderPassphrase) == 1 && tmpl == `"`+PlaceholderPassphrase+`"` && utf8.ValidString(value) {
			var got string
			if err := json.Unmarshal(out, &got); err != nil || got != value {
				t.Fatalf("round trip: %q -> %q (%v)", value, got, err)
			}
		}
	})
}
