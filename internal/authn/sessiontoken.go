package authn

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

// SessionTokenLookup resolves the token of an `ST$<token>` keyId to the
// public key that must have signed the request and the principal it
// stands for. The Verifier uses it when it is set.
type SessionTokenLookup interface {
	LookupSessionToken(ctx context.Context, token string) (*rsa.PublicKey, *authz.Principal, error)
}

// Limits of resource principal session tokens.
const (
	// MaxSessionTokenTTL bounds a token's lifetime. OCI's own RPSTs live
	// from 15 minutes to an hour.
	MaxSessionTokenTTL = 24 * time.Hour
	// DefaultSessionTokenTTL is the lifetime when none is asked for.
	DefaultSessionTokenTTL = time.Hour
	// maxSessionTokenLen bounds what is parsed (an RSA-4096 key claim and
	// the rest fit in well under this).
	maxSessionTokenLen = 8 << 10
	// sessionTokenKeyLen is the HMAC-SHA256 key length.
	sessionTokenKeyLen = 32
	sessionTokenIssuer = "coffer"
	minSessionKeyBits  = 2048
)

// SessionTokenKey is the server's secret for signing session tokens
// (HMAC-SHA256). It is never printed.
type SessionTokenKey struct{ b []byte }

// NewSessionTokenKey returns a fresh random key.
func NewSessionTokenKey() (SessionTokenKey, error) {
	b := make([]byte, sessionTokenKeyLen)
	if _, err := rand.Read(b); err != nil {
		return SessionTokenKey{}, fmt.Errorf("session token key: %w", err)
	}
	return SessionTokenKey{b}, nil
}

// SessionTokenKeyFromBytes wraps stored key material (32 bytes).
func SessionTokenKeyFromBytes(b []byte) (SessionTokenKey, error) {
	if len(b) != sessionTokenKeyLen {
		return SessionTokenKey{}, fmt.Errorf("session token key: want %d bytes, got %d", sessionTokenKeyLen, len(b))
	}
	return SessionTokenKey{bytes.Clone(b)}, nil
}

// Bytes returns the key material, for storage behind the barrier.
func (k SessionTokenKey) Bytes() []byte { return bytes.Clone(k.b) }

// LogValue implements slog.LogValuer: the key is never logged.
func (k SessionTokenKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Format implements fmt.Formatter: every verb prints REDACTED.
func (k SessionTokenKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, "REDACTED") }

// ResourceClaims describe the resource principal a token stands for; they
// become the principal's dynamic-group attributes.
type ResourceClaims struct {
	ResourceID    string // resource.id
	ResourceType  string // resource.type, e.g. "fnfunc"
	TenancyID     string
	CompartmentID string // resource.compartment.id
}

var resourceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

func (c ResourceClaims) check() error {
	for name, v := range map[string]string{"resource id": c.ResourceID, "tenancy id": c.TenancyID, "compartment id": c.CompartmentID} {
		if !strings.HasPrefix(v, "ocid1.") || len(v) > 255 || strings.ContainsAny(v, " \"\\/$") {
			return fmt.Errorf("%s must be an OCID", name)
		}
	}
	if !resourceTypeRE.MatchString(c.ResourceType) {
		return errors.New("resource type must be lower-case letters, digits, _ or - (e.g. fnfunc)")
	}
	return nil
}

// SessionTokens issues and verifies Coffer's resource principal session
// tokens (RPST). A token is a JWT as the SDK expects it (three parts,
// claims exp and res_tenant; reference oci-api.md 6.4), signed with
// HMAC-SHA256 under the server's key. Because the SDK sends no public key
// with its requests, the token carries the session public key it is
// bound to (claim "session_key", base64url SubjectPublicKeyInfo): a
// request signed with any other key is refused, so a token copied
// without its private key is useless.
type SessionTokens struct {
	key SessionTokenKey
	now func() time.Time
}

// NewSessionTokens returns an issuer and verifier; now nil means
// time.Now.
func NewSessionTokens(key SessionTokenKey, now func() time.Time) *SessionTokens {
	if now == nil {
		now = time.Now
	}
	return &SessionTokens{key: key, now: now}
}

type tokenHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

// tokenClaims are the JWT claims. res_* are OCI's names (the SDK reads
// res_tenant); ptype and session_key are Coffer's.
type tokenClaims struct {
	Iss          string `json:"iss"`
	Sub          string `json:"sub"`
	Iat          int64  `json:"iat"`
	Exp          int64  `json:"exp"`
	Jti          string `json:"jti"`
	PType        string `json:"ptype"`
	ResType      string `json:"res_type"`
	ResTenant    string `json:"res_tenant"`
	ResCompart   string `json:"res_compartment"`
	SessionKey   string `json:"session_key"`
	TokenVersion int    `json:"ttype_version"`
}

// b64 encodes token parts; strict decoding refuses non-canonical
// encodings, so one token has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// Mint issues a token for the resource c, bound to pub, valid for ttl
// (DefaultSessionTokenTTL when zero, at most MaxSessionTokenTTL). It
// returns the token and its expiry.
func (s *SessionTokens) Mint(c ResourceClaims, pub *rsa.PublicKey, ttl time.Duration) (string, time.Time, error) {
	if err := c.check(); err != nil {
		return "", time.Time{}, err
	}
	if pub == nil || pub.N.BitLen() < minSessionKeyBits {
		return "", time.Time{}, fmt.Errorf("session key must be RSA of at least %d bits", minSessionKeyBits)
	}
	switch {
	case ttl == 0:
		ttl = DefaultSessionTokenTTL
	case ttl < time.Minute || ttl > MaxSessionTokenTTL:
		return "", time.Time{}, fmt.Errorf("lifetime must be between 1m and %v", MaxSessionTokenTTL)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("session key: %w", err)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", time.Time{}, err
	}
	now := s.now().Truncate(time.Second)
	exp := now.Add(ttl)
	h, _ := json.Marshal(tokenHeader{Alg: "HS256", Typ: "JWT"})
	p, err := json.Marshal(tokenClaims{
		Iss: sessionTokenIssuer, Sub: c.ResourceID, Iat: now.Unix(), Exp: exp.Unix(), Jti: hex.EncodeToString(jti[:]),
		PType: string(authz.PrincipalResource), ResType: c.ResourceType, ResTenant: c.TenancyID, ResCompart: c.CompartmentID,
		SessionKey: b64.EncodeToString(spki), TokenVersion: 1,
	})
	if err != nil {
		return "", time.Time{}, err
	}
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	return signing + "." + b64.EncodeToString(s.mac(signing)), exp, nil
}

func (s *SessionTokens) mac(signing string) []byte {
	m := hmac.New(sha256.New, s.key.b)
	m.Write([]byte(signing))
	return m.Sum(nil)
}

// ErrBadSessionToken is returned for a token that is malformed, not
// Coffer's, tampered with or expired. Its text is for logs only.
var ErrBadSessionToken = errors.New("bad session token")

// LookupSessionToken verifies token and returns the session public key it
// is bound to and the resource principal, whose Attributes carry
// resource.id, resource.type and resource.compartment.id for dynamic-group
// matching rules.
func (s *SessionTokens) LookupSessionToken(_ context.Context, token string) (*rsa.PublicKey, *authz.Principal, error) {
	c, pub, err := s.parse(token)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadSessionToken, err)
	}
	return pub, &authz.Principal{
		Type:          authz.PrincipalResource,
		ID:            c.Sub,
		TenancyID:     c.ResTenant,
		CompartmentID: c.ResCompart,
		Attributes: map[string]string{
			"resource.id":             c.Sub,
			"resource.type":           c.ResType,
			"resource.compartment.id": c.ResCompart,
		},
	}, nil
}

func (s *SessionTokens) parse(token string) (*tokenClaims, *rsa.PublicKey, error) {
	if len(token) > maxSessionTokenLen {
		return nil, nil, errors.New("too long")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("not a three-part JWT")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, nil, errors.New("signature is not base64url")
	}
	// The MAC is checked before anything else is decoded: nothing an
	// outsider wrote reaches the JSON decoder.
	if !hmac.Equal(sig, s.mac(parts[0]+"."+parts[1])) {
		return nil, nil, errors.New("signature does not verify")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, nil, errors.New("header is not base64url")
	}
	var h tokenHeader
	if err := json.Unmarshal(hb, &h); err != nil || h.Alg != "HS256" {
		return nil, nil, errors.New("unexpected header")
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, nil, errors.New("payload is not base64url")
	}
	var c tokenClaims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, nil, errors.New("payload is not JSON claims")
	}
	if c.Iss != sessionTokenIssuer || c.PType != string(authz.PrincipalResource) || c.TokenVersion != 1 {
		return nil, nil, errors.New("not a Coffer resource principal token")
	}
	now := s.now()
	if now.Unix() >= c.Exp {
		return nil, nil, fmt.Errorf("expired at %s", time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	if c.Iat > now.Add(5*time.Minute).Unix() || c.Exp-c.Iat > int64(MaxSessionTokenTTL/time.Second) {
		return nil, nil, errors.New("issued in the future or lives too long")
	}
	rc := ResourceClaims{ResourceID: c.Sub, ResourceType: c.ResType, TenancyID: c.ResTenant, CompartmentID: c.ResCompart}
	if err := rc.check(); err != nil {
		return nil, nil, err
	}
	der, err := b64.DecodeString(c.SessionKey)
	if err != nil {
		return nil, nil, errors.New("session key is not base64url")
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, nil, errors.New("session key is not a public key")
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < minSessionKeyBits {
		return nil, nil, errors.New("session key is not RSA of at least 2048 bits")
	}
	return &c, pub, nil
}
