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
	"encoding/pem"
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

// Principal is the resource principal these claims stand for; its
// Attributes carry what dynamic-group matching rules test.
func (c ResourceClaims) Principal() *authz.Principal {
	return &authz.Principal{
		Type:          authz.PrincipalResource,
		ID:            c.ResourceID,
		TenancyID:     c.TenancyID,
		CompartmentID: c.CompartmentID,
		Attributes: map[string]string{
			"resource.id":             c.ResourceID,
			"resource.type":           c.ResourceType,
			"resource.compartment.id": c.CompartmentID,
		},
	}
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

// SessionTokens issues and verifies Coffer's session tokens: resource
// principal session tokens (RPST, Mint) and instance principal tokens
// (MintInstance, from federation), one format told apart by the "ptype"
// claim. A token is a JWT as the SDK expects it (three parts,
// claims exp and res_tenant; docs/oci-behaviours.md#session-tokens-and-workload-identity), signed with
// HMAC-SHA256 under the server's key. Because the SDK sends no public key
// with its requests, the token carries the session public key it is
// bound to (claim "session_key", base64url SubjectPublicKeyInfo): a
// request signed with any other key is refused, so a token copied
// without its private key is useless.
//
// Verified tokens are cached (see tokenCache), so a workload's repeated
// requests with one token cost a hash and a map lookup.
type SessionTokens struct {
	key   SessionTokenKey
	now   func() time.Time
	cache tokenCache
}

// NewSessionTokens returns an issuer and verifier; now nil means
// time.Now.
func NewSessionTokens(key SessionTokenKey, now func() time.Time) *SessionTokens {
	if now == nil {
		now = time.Now
	}
	return &SessionTokens{key: key, now: now, cache: tokenCache{max: sessionTokenCacheSize}}
}

type tokenHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

// tokenClaims are the JWT claims of both kinds of session token, told
// apart by ptype (Coffer's claim, as is session_key). Each kind carries
// the names OCI uses for it: res_* for resource principals (the SDK reads
// res_tenant), opc-* for instance principals; the other kind's names are
// absent.
type tokenClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	Jti   string `json:"jti"`
	PType string `json:"ptype"`

	ResType    string `json:"res_type,omitempty"`
	ResTenant  string `json:"res_tenant,omitempty"`
	ResCompart string `json:"res_compartment,omitempty"`

	Tenant      string `json:"opc-tenant,omitempty"`
	Compartment string `json:"opc-compartment,omitempty"`
	Instance    string `json:"opc-instance,omitempty"`

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
	if err := checkRSAKey(pub, "session key"); err != nil {
		return "", time.Time{}, err
	}
	switch {
	case ttl == 0:
		ttl = DefaultSessionTokenTTL
	case ttl < time.Minute || ttl > MaxSessionTokenTTL:
		return "", time.Time{}, fmt.Errorf("lifetime must be between 1m and %v", MaxSessionTokenTTL)
	}
	return s.mint(tokenClaims{
		Sub: c.ResourceID, PType: string(authz.PrincipalResource),
		ResType: c.ResourceType, ResTenant: c.TenancyID, ResCompart: c.CompartmentID,
	}, pub, ttl)
}

// mint completes c (issuer, times, id, session key, version), signs it and
// returns the token and its expiry. The caller has checked the kind's
// claims, pub and ttl.
func (s *SessionTokens) mint(c tokenClaims, pub *rsa.PublicKey, ttl time.Duration) (string, time.Time, error) {
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
	c.Iss, c.Iat, c.Exp, c.Jti = sessionTokenIssuer, now.Unix(), exp.Unix(), hex.EncodeToString(jti[:])
	c.SessionKey, c.TokenVersion = b64.EncodeToString(spki), 1
	h, _ := json.Marshal(tokenHeader{Alg: "HS256", Typ: "JWT"})
	p, err := json.Marshal(c)
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
// Coffer's, tampered with, expired, or of another kind than asked for.
// Its text is for logs only.
var ErrBadSessionToken = errors.New("bad session token")

// LookupSessionToken verifies a resource principal token and returns the
// session public key it is bound to and the resource principal, whose
// Attributes carry resource.id, resource.type and resource.compartment.id
// for dynamic-group matching rules. An instance token is refused: use
// WorkloadTokens to accept both kinds.
func (s *SessionTokens) LookupSessionToken(_ context.Context, token string) (*rsa.PublicKey, *authz.Principal, error) {
	return s.lookup(token, authz.PrincipalResource)
}

// lookup verifies token, of the kind asked for ("" for either), and
// returns its session key and a principal of the caller's own.
func (s *SessionTokens) lookup(token string, kind authz.PrincipalType) (*rsa.PublicKey, *authz.Principal, error) {
	v, err := s.verify(token)
	if err == nil && kind != "" && v.principal.Type != kind {
		err = fmt.Errorf("a %s principal token, not a %s one", v.principal.Type, kind)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadSessionToken, err)
	}
	return v.pub, v.newPrincipal(), nil
}

// verify returns what token stands for: from the cache when the very same
// token verified before and is still within its lifetime, else by parsing
// it in full (and caching the result).
func (s *SessionTokens) verify(token string) (*verifiedToken, error) {
	if len(token) > maxSessionTokenLen {
		return nil, errors.New("too long")
	}
	now := s.now()
	id := sha256.Sum256([]byte(token))
	if v := s.cache.get(id, now); v != nil {
		return v, nil
	}
	v, err := s.parse(token, now)
	if err != nil {
		return nil, err
	}
	s.cache.put(id, v, now)
	return v, nil
}

// parse verifies a token of either kind in full: MAC (in constant time,
// before anything else is decoded), header, claims of its kind, lifetime
// and the session key it is bound to.
func (s *SessionTokens) parse(token string, now time.Time) (*verifiedToken, error) {
	if len(token) > maxSessionTokenLen {
		return nil, errors.New("too long")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a three-part JWT")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("signature is not base64url")
	}
	// The MAC is checked before anything else is decoded: nothing an
	// outsider wrote reaches the JSON decoder.
	if !hmac.Equal(sig, s.mac(parts[0]+"."+parts[1])) {
		return nil, errors.New("signature does not verify")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("header is not base64url")
	}
	var h tokenHeader
	if err := json.Unmarshal(hb, &h); err != nil || h.Alg != "HS256" {
		return nil, errors.New("unexpected header")
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("payload is not base64url")
	}
	var c tokenClaims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, errors.New("payload is not JSON claims")
	}
	if c.Iss != sessionTokenIssuer || c.TokenVersion != 1 {
		return nil, errors.New("not a Coffer session token")
	}
	var p *authz.Principal
	var maxTTL time.Duration
	switch c.PType {
	case string(authz.PrincipalResource):
		if c.Tenant != "" || c.Compartment != "" || c.Instance != "" {
			return nil, errors.New("resource principal token with instance claims")
		}
		rc := ResourceClaims{ResourceID: c.Sub, ResourceType: c.ResType, TenancyID: c.ResTenant, CompartmentID: c.ResCompart}
		if err := rc.check(); err != nil {
			return nil, err
		}
		p, maxTTL = rc.Principal(), MaxSessionTokenTTL
	case ptypeInstance:
		if c.ResType != "" || c.ResTenant != "" || c.ResCompart != "" || c.Sub != c.Instance {
			return nil, errors.New("not a Coffer instance principal token")
		}
		ic := InstanceClaims{InstanceID: c.Instance, CompartmentID: c.Compartment, TenancyID: c.Tenant}
		if err := ic.check(); err != nil {
			return nil, err
		}
		p, maxTTL = ic.Principal(), InstanceTokenTTL
	default:
		return nil, errors.New("not a Coffer resource or instance principal token")
	}
	v := &verifiedToken{principal: *p, iat: c.Iat, exp: c.Exp}
	if now.Unix() >= c.Exp {
		return nil, fmt.Errorf("expired at %s", time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	if !v.validAt(now) || c.Exp-c.Iat > int64(maxTTL/time.Second) {
		return nil, errors.New("issued in the future or lives too long")
	}
	der, err := b64.DecodeString(c.SessionKey)
	if err != nil {
		return nil, errors.New("session key is not base64url")
	}
	if v.pub, err = parseRSAPublicKeyDER(der); err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	return v, nil
}

// checkRSAKey refuses a key the SDK cannot sign with or that is too small;
// what names it in the error.
func checkRSAKey(pub *rsa.PublicKey, what string) error {
	if pub == nil || pub.N.BitLen() < minSessionKeyBits {
		return fmt.Errorf("%s must be RSA of at least %d bits", what, minSessionKeyBits)
	}
	return nil
}

// parseRSAPublicKeyDER parses a SubjectPublicKeyInfo holding an RSA key of
// at least 2048 bits: what a session key, a federation request's key and
// a workload's key in the administrator APIs must be.
func parseRSAPublicKeyDER(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("not a SubjectPublicKeyInfo")
	}
	pub, _ := k.(*rsa.PublicKey)
	if err := checkRSAKey(pub, "the key"); err != nil {
		return nil, err
	}
	return pub, nil
}

// ParseRSAPublicKeyPEM parses a workload's public key as the
// administrator APIs take it (instance certificates, resource principal
// tokens): one PEM PUBLIC KEY block (SubjectPublicKeyInfo), RSA of at
// least 2048 bits, since the SDK signs with RSA only.
func ParseRSAPublicKeyPEM(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY (SubjectPublicKeyInfo)")
	}
	return parseRSAPublicKeyDER(block.Bytes)
}

// Instance session tokens: minted by federation for an instance principal,
// in the same form as resource principal tokens, told apart by ptype.
const (
	// InstanceTokenTTL is the lifetime of an instance session token (at
	// most the leaf's remaining lifetime). The SDK renews 5 minutes
	// before exp, so this is about one federation every 15 minutes.
	InstanceTokenTTL = 20 * time.Minute

	ptypeInstance = string(authz.PrincipalInstance)
)

// MintInstance issues an instance session token for c, bound to pub,
// valid for ttl (at most InstanceTokenTTL and at least a second). It has
// the form of a resource principal token (see SessionTokens) with the
// opc-* claims of OCI's instance tokens.
func (s *SessionTokens) MintInstance(c InstanceClaims, pub *rsa.PublicKey, ttl time.Duration) (string, time.Time, error) {
	if err := c.check(); err != nil {
		return "", time.Time{}, err
	}
	if err := checkRSAKey(pub, "session key"); err != nil {
		return "", time.Time{}, err
	}
	if ttl < time.Second || ttl > InstanceTokenTTL {
		return "", time.Time{}, fmt.Errorf("instance token lifetime must be between 1s and %v", InstanceTokenTTL)
	}
	return s.mint(tokenClaims{
		Sub: c.InstanceID, PType: ptypeInstance, Tenant: c.TenancyID, Compartment: c.CompartmentID, Instance: c.InstanceID,
	}, pub, ttl)
}

// WorkloadTokens resolves the `ST$` session tokens of both workload kinds
// Coffer issues: instance principal tokens (from federation) and resource
// principal tokens. Give it to Verifier.Tokens.
type WorkloadTokens struct{ Tokens *SessionTokens }

// LookupSessionToken implements SessionTokenLookup: the token is parsed
// once, its kind read from its claims, and the result cached for the
// token's next request.
func (w WorkloadTokens) LookupSessionToken(_ context.Context, token string) (*rsa.PublicKey, *authz.Principal, error) {
	return w.Tokens.lookup(token, "")
}
