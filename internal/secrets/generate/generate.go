// Package generate makes secret content for secrets with automatic
// generation enabled: passphrases, SSH key pairs and random bytes, optionally
// laid out by a caller-supplied secretTemplate.
//
// OCI documents the generation types, their templates and the placeholders
// but not the passphrase lengths, character sets or sizes; the choices made
// here are Coffer's and are listed on each constant.
package generate

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"

	"github.com/coffer-vault/coffer/internal/errs"
)

// Generation types, as the SDK's generationType discriminator spells them.
const (
	TypePassphrase = "PASSPHRASE"
	TypeSSHKey     = "SSH_KEY"
	TypeBytes      = "BYTES"
)

// Generation templates (the SDK's generationTemplate values).
const (
	// SecretsDefaultPassword: upper, lower, digits and the specials in
	// secretsSpecials, at least one of each; 8–256 characters, default 32.
	SecretsDefaultPassword = "SECRETS_DEFAULT_PASSWORD"
	// DBaaSDefaultPassword: Oracle Database rules: 12–30 characters, default
	// 24, starts with a letter, at least one upper, lower, digit and one of
	// "#_" (no quotes, so it works unquoted in SQL).
	DBaaSDefaultPassword = "DBAAS_DEFAULT_PASSWORD"
	RSA2048              = "RSA_2048"
	RSA3072              = "RSA_3072"
	RSA4096              = "RSA_4096"
	// Bytes512 and Bytes1024 name the size in bits: 64 and 128 random bytes.
	// [UNCONFIRMED against OCI, which does not say bits or bytes.]
	Bytes512  = "BYTES_512"
	Bytes1024 = "BYTES_1024"
)

// Placeholders replaced in a secretTemplate.
const (
	PlaceholderPassphrase = "%GENERATED_PASSPHRASE%"
	PlaceholderPublicKey  = "%GENERATED_PUBLIC_KEY%"
	PlaceholderPrivateKey = "%GENERATED_PRIVATE_KEY%"
	PlaceholderBytes      = "%GENERATED_BYTES%"
)

// MaxTemplateLen bounds a secretTemplate; the generated content must also fit
// the secret content limit, which the caller checks.
const MaxTemplateLen = 25 * 1024

// DefaultSSHTemplate is the layout of SSH_KEY content without a template:
// a JSON object holding the PEM public key (PKIX) and private key (PKCS #8).
const DefaultSSHTemplate = `{"publicKey": "` + PlaceholderPublicKey + `", "privateKey": "` + PlaceholderPrivateKey + `"}`

// Context says how to generate content; it mirrors the SDK's
// SecretGenerationContext subtypes.
type Context struct {
	// Type is the generationType discriminator.
	Type string `json:"generationType"`
	// Template is the generationTemplate.
	Template string `json:"generationTemplate"`
	// PassphraseLength is the passphrase length (PASSPHRASE only); 0 means
	// the template's default.
	PassphraseLength int `json:"passphraseLength,omitempty"`
	// SecretTemplate lays out the generated values; empty means the default
	// structure (the bare value; the JSON object for SSH_KEY).
	SecretTemplate string `json:"secretTemplate,omitempty"`
}

type passphraseRule struct {
	min, max, def int
	specials      string
	letterFirst   bool
}

const (
	upper           = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower           = "abcdefghijklmnopqrstuvwxyz"
	digits          = "0123456789"
	secretsSpecials = "!#$%&*+-.:=?@^_~"
	dbaasSpecials   = "#_"
)

var passphraseRules = map[string]passphraseRule{
	SecretsDefaultPassword: {min: 8, max: 256, def: 32, specials: secretsSpecials},
	DBaaSDefaultPassword:   {min: 12, max: 30, def: 24, specials: dbaasSpecials, letterFirst: true},
}

var rsaBits = map[string]int{RSA2048: 2048, RSA3072: 3072, RSA4096: 4096}

var byteLens = map[string]int{Bytes512: 64, Bytes1024: 128}

// placeholders lists, per type, the placeholders a template may use and
// whether each is required when a template is given.
var placeholders = map[string][]string{
	TypePassphrase: {PlaceholderPassphrase},
	TypeSSHKey:     {PlaceholderPublicKey, PlaceholderPrivateKey},
	TypeBytes:      {PlaceholderBytes},
}

// Validate checks c and returns an errs.Invalid error naming the bad field.
func (c Context) Validate() error {
	switch c.Type {
	case TypePassphrase:
		r, ok := passphraseRules[c.Template]
		if !ok {
			return errs.E(errs.Invalid, "secretGenerationContext.generationTemplate %q is not valid for PASSPHRASE; use SECRETS_DEFAULT_PASSWORD or DBAAS_DEFAULT_PASSWORD", c.Template)
		}
		if c.PassphraseLength != 0 && (c.PassphraseLength < r.min || c.PassphraseLength > r.max) {
			return errs.E(errs.Invalid, "secretGenerationContext.passphraseLength must be between %d and %d for %s", r.min, r.max, c.Template)
		}
	case TypeSSHKey:
		if _, ok := rsaBits[c.Template]; !ok {
			return errs.E(errs.Invalid, "secretGenerationContext.generationTemplate %q is not valid for SSH_KEY; use RSA_2048, RSA_3072 or RSA_4096", c.Template)
		}
	case TypeBytes:
		if _, ok := byteLens[c.Template]; !ok {
			return errs.E(errs.Invalid, "secretGenerationContext.generationTemplate %q is not valid for BYTES; use BYTES_512 or BYTES_1024", c.Template)
		}
	case "":
		return errs.E(errs.Missing, "secretGenerationContext.generationType is required")
	default:
		return errs.E(errs.Invalid, "secretGenerationContext.generationType %q is not valid; use PASSPHRASE, SSH_KEY or BYTES", c.Type)
	}
	if c.Type != TypePassphrase && c.PassphraseLength != 0 {
		return errs.E(errs.Invalid, "secretGenerationContext.passphraseLength applies only to PASSPHRASE")
	}
	if c.SecretTemplate != "" {
		if err := checkTemplate(c.SecretTemplate, placeholders[c.Type]); err != nil {
			return err
		}
	}
	return nil
}

// Generate returns fresh content for c. The caller owns the returned slice
// and should clear it after use.
func Generate(c Context) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Type {
	case TypePassphrase:
		r := passphraseRules[c.Template]
		n := c.PassphraseLength
		if n == 0 {
			n = r.def
		}
		p, err := passphrase(n, r)
		if err != nil {
			return nil, err
		}
		if c.SecretTemplate == "" {
			return p, nil
		}
		defer clear(p)
		return render(c.SecretTemplate, map[string][]byte{PlaceholderPassphrase: p})
	case TypeSSHKey:
		pub, priv, err := rsaPair(rsaBits[c.Template])
		if err != nil {
			return nil, err
		}
		defer clear(priv)
		t := c.SecretTemplate
		if t == "" {
			t = DefaultSSHTemplate
		}
		return render(t, map[string][]byte{PlaceholderPublicKey: pub, PlaceholderPrivateKey: priv})
	case TypeBytes:
		b := make([]byte, byteLens[c.Template])
		if _, err := rand.Read(b); err != nil {
			return nil, errs.Wrap(errs.Internal, err, "random generation failed")
		}
		if c.SecretTemplate == "" {
			return b, nil
		}
		enc := []byte(base64.StdEncoding.EncodeToString(b))
		clear(b)
		defer clear(enc)
		return render(c.SecretTemplate, map[string][]byte{PlaceholderBytes: enc})
	}
	return nil, errs.E(errs.Internal, "unreachable generation type")
}

// passphrase draws n characters uniformly from the rule's alphabet and
// rejects draws that miss a required class, so the result is uniform over
// the valid passphrases.
func passphrase(n int, r passphraseRule) ([]byte, error) {
	alphabet := upper + lower + digits + r.specials
	classes := []string{upper, lower, digits, r.specials}
	out := make([]byte, n)
	for range 1000 {
		for i := range out {
			j, err := randIndex(len(alphabet))
			if err != nil {
				clear(out)
				return nil, err
			}
			out[i] = alphabet[j]
		}
		if r.letterFirst && !isLetter(out[0]) {
			continue
		}
		if hasAll(out, classes) {
			return out, nil
		}
	}
	clear(out)
	return nil, errs.E(errs.Internal, "passphrase generation did not converge")
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

func hasAll(p []byte, classes []string) bool {
	for _, cl := range classes {
		found := false
		for _, c := range p {
			for i := 0; i < len(cl); i++ {
				if cl[i] == c {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// randIndex returns a uniform integer in [0, n), n <= 256, by rejection.
func randIndex(n int) (int, error) {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, errs.Wrap(errs.Internal, err, "random generation failed")
		}
		if int(b[0]) < limit {
			return int(b[0]) % n, nil
		}
	}
}

// rsaPair returns a fresh RSA key pair as PEM: PKIX public, PKCS #8 private.
func rsaPair(bits int) (pub, priv []byte, err error) {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, errs.Wrap(errs.Internal, err, "SSH key generation failed")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, errs.Wrap(errs.Internal, err, "SSH key encoding failed")
	}
	pder, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		clear(der)
		return nil, nil, errs.Wrap(errs.Internal, err, "SSH key encoding failed")
	}
	priv = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	pub = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder})
	return pub, priv, nil
}
