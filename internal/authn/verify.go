package authn

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

// KeyLookup resolves an API key to its public key and principal.
type KeyLookup interface {
	LookupAPIKey(ctx context.Context, id APIKeyID) (*rsa.PublicKey, *authz.Principal, error)
}

// Verifier checks request signatures.
type Verifier struct {
	Keys KeyLookup
	// Tokens, if set, resolves `ST$<token>` key ids (session tokens of
	// resource and instance principals: WorkloadTokens); nil refuses them.
	Tokens SessionTokenLookup
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far the request date may be from now; 0 means 5 minutes.
	MaxSkew time.Duration

	moduli moduli
}

var bodyMethods = map[string]bool{http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true}

// Verify authenticates r, whose body has already been read into body. The
// returned error always matches ErrNotAuthenticated; its text is for logs.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (*authz.Principal, error) {
	p, err := v.verify(ctx, r, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAuthenticated, err)
	}
	return p, nil
}

func (v *Verifier) verify(ctx context.Context, r *http.Request, body []byte) (*authz.Principal, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, fmt.Errorf("no Authorization header")
	}
	params, err := ParseAuthorization(auth)
	if err != nil {
		return nil, err
	}
	if params.Algorithm != "" && params.Algorithm != "rsa-sha256" {
		return nil, fmt.Errorf("unsupported signature algorithm")
	}
	signed := map[string]bool{}
	for _, h := range params.Headers {
		signed[h] = true
	}
	required := []string{"(request-target)", "host"}
	if bodyMethods[r.Method] {
		required = append(required, "content-length", "content-type", "x-content-sha256")
	}
	for _, h := range required {
		if !signed[h] {
			return nil, fmt.Errorf("header %s is not signed", h)
		}
	}
	dateHeader, err := signedDateHeader(signed)
	if err != nil {
		return nil, err
	}
	if err := v.checkDate(r.Header.Get(dateHeader)); err != nil {
		return nil, err
	}
	if bodyMethods[r.Method] {
		if err := checkBody(r, body); err != nil {
			return nil, err
		}
	}
	signingString, err := buildSigningString(r, params.Headers)
	if err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(params.Signature)
	if err != nil {
		return nil, fmt.Errorf("signature is not base64")
	}
	pub, principal, err := v.lookupKey(ctx, params.KeyID)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(signingString))
	if err := v.moduli.verifySHA256(pub, digest[:], sig); err != nil {
		return nil, err
	}
	return principal, nil
}

// lookupKey resolves a keyId: an API key (tenancy/user/fingerprint) or,
// with Tokens set, a session token (ST$<token>).
func (v *Verifier) lookupKey(ctx context.Context, keyID string) (*rsa.PublicKey, *authz.Principal, error) {
	if token, ok := strings.CutPrefix(keyID, "ST$"); ok && v.Tokens != nil {
		pub, p, err := v.Tokens.LookupSessionToken(ctx, token)
		if err != nil {
			return nil, nil, fmt.Errorf("session token: %w", err)
		}
		return pub, p, nil
	}
	id, err := ParseKeyID(keyID)
	if err != nil {
		return nil, nil, err
	}
	pub, p, err := v.Keys.LookupAPIKey(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("key lookup: %w", err)
	}
	return pub, p, nil
}

// signedDateHeader names the header whose date the signature vouches for.
func signedDateHeader(signed map[string]bool) (string, error) {
	switch {
	case signed["x-date"]:
		return "x-date", nil
	case signed["date"]:
		return "date", nil
	}
	return "", fmt.Errorf("neither date nor x-date is signed")
}

// Skew returns how far a request's date may be from now: MaxSkew, or its
// default.
func (v *Verifier) Skew() time.Duration {
	if v.MaxSkew == 0 {
		return 5 * time.Minute
	}
	return v.MaxSkew
}

func (v *Verifier) checkDate(value string) error {
	if value == "" {
		return fmt.Errorf("date header is empty")
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return fmt.Errorf("date header is not an HTTP date")
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	skew := v.Skew()
	if d := now.Sub(t); d > skew || d < -skew {
		return fmt.Errorf("request date is %v away from server time", d.Round(time.Second))
	}
	return nil
}

func checkBody(r *http.Request, body []byte) error {
	n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
	if err != nil || n != int64(len(body)) {
		return fmt.Errorf("content-length does not match the body")
	}
	sum := sha256.Sum256(body)
	want := base64.StdEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(want), []byte(r.Header.Get("X-Content-Sha256"))) != 1 {
		return fmt.Errorf("x-content-sha256 does not match the body")
	}
	return nil
}

func buildSigningString(r *http.Request, headers []string) (string, error) {
	var b strings.Builder
	for i, h := range headers {
		if i > 0 {
			b.WriteByte('\n')
		}
		var value string
		switch h {
		case "(request-target)":
			value = strings.ToLower(r.Method) + " " + r.RequestURI
		case "host":
			value = r.Host
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return "", fmt.Errorf("signed header %s is missing", h)
			}
			value = strings.Join(vals, ", ")
		}
		b.WriteString(h)
		b.WriteString(": ")
		b.WriteString(value)
	}
	return b.String(), nil
}
