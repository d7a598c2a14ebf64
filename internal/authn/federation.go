package authn

// Instance principals (docs/oci-behaviours.md#session-tokens-and-workload-identity
// and #request-signing).
//
// On OCI a compute instance gets a leaf certificate from the platform's
// metadata service, signed through an intermediate by OCI's instance CA;
// its subject names the tenancy, compartment and instance. The SDK posts
// the leaf, the intermediate and a fresh session public key to
// `POST /v1/x509`, signed with the leaf key, and gets back a session token
// it then uses as `ST$<token>` with the session key.
//
// Coffer plays both parts: InstanceCA (instanceca.go) is its own instance
// CA (root and intermediate, kept behind the barrier), which an
// administrator uses to issue leaf certificates for instances; Federation
// verifies the federation request and has instance session tokens minted
// (SessionTokens.MintInstance) with the same HMAC key and JWT form as
// resource principal tokens, told apart by their "ptype" claim.
// WorkloadTokens resolves both kinds for the Verifier.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

// Bounds on what a federation request may carry.
const (
	maxCertB64Len      = 16 << 10
	maxPublicKeyB64Len = 4 << 10
	maxIntermediates   = 4
)

// FederationDetails is the body of `POST /v1/x509` as the SDK sends it:
// certificates and the session public key as base64 DER with the PEM
// armour and newlines stripped.
type FederationDetails struct {
	Certificate              string   `json:"certificate"`
	PublicKey                string   `json:"publicKey"`
	IntermediateCertificates []string `json:"intermediateCertificates,omitempty"`
	FingerprintAlgorithm     string   `json:"fingerprintAlgorithm,omitempty"`
}

// FederationRequest is a parsed, not yet verified, federation request.
type FederationRequest struct {
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate
	SessionKey    *rsa.PublicKey
}

// ParseFederationRequest decodes a federation body: the leaf, at most
// four intermediates and an RSA session key of at least 2048 bits. It
// checks form only; Federation.Verify checks trust.
func ParseFederationRequest(body []byte) (*FederationRequest, error) {
	var req FederationDetails
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, errors.New("body is not a federation request")
	}
	if req.FingerprintAlgorithm != "" && !strings.EqualFold(req.FingerprintAlgorithm, "SHA256") {
		return nil, errors.New("fingerprintAlgorithm must be SHA256")
	}
	if req.Certificate == "" || req.PublicKey == "" {
		return nil, errors.New("certificate and publicKey are required")
	}
	if len(req.IntermediateCertificates) > maxIntermediates {
		return nil, fmt.Errorf("more than %d intermediate certificates", maxIntermediates)
	}
	var f FederationRequest
	der, err := decodeDER(req.Certificate, "CERTIFICATE", maxCertB64Len)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if f.Leaf, err = x509.ParseCertificate(der); err != nil {
		return nil, errors.New("certificate: not an X.509 certificate")
	}
	for i, s := range req.IntermediateCertificates {
		der, err := decodeDER(s, "CERTIFICATE", maxCertB64Len)
		if err != nil {
			return nil, fmt.Errorf("intermediate certificate %d: %w", i, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("intermediate certificate %d: not an X.509 certificate", i)
		}
		f.Intermediates = append(f.Intermediates, c)
	}
	der, err = decodeDER(req.PublicKey, "PUBLIC KEY", maxPublicKeyB64Len)
	if err != nil {
		return nil, fmt.Errorf("publicKey: %w", err)
	}
	if f.SessionKey, err = parseRSAPublicKeyDER(der); err != nil {
		return nil, fmt.Errorf("publicKey: %w", err)
	}
	return &f, nil
}

// decodeDER accepts what the SDK sends (base64 DER, armour and newlines
// stripped) and, for hand-written requests, a PEM block of the given type.
func decodeDER(s, pemType string, maxLen int) ([]byte, error) {
	if len(s) > maxLen {
		return nil, errors.New("too long")
	}
	if strings.HasPrefix(strings.TrimSpace(s), "-----BEGIN") {
		b, rest := pem.Decode([]byte(s))
		if b == nil || b.Type != pemType || len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("not one PEM %s block", pemType)
		}
		return b.Bytes, nil
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	der, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(der) == 0 {
		return nil, errors.New("not base64 DER")
	}
	return der, nil
}

// Federation verifies instance-principal federation requests (`POST
// /v1/x509`) and issues their session tokens. It is an ociapi.Verifier for
// that one route: the request is signed with the instance's leaf key, under
// keyId `<tenancy>/fed-x509-sha256/<leaf fingerprint>`, and the SDK does
// not sign host there (docs/oci-behaviours.md#request-signing).
type Federation struct {
	CA     *InstanceCA
	Tokens *SessionTokens
	// TenancyID returns the tenancy's OCID: only its instances federate.
	TenancyID func(ctx context.Context) (string, error)
	// CompartmentActive reports whether an instance's compartment exists
	// and is active; a deleted compartment's instances no longer federate.
	CompartmentActive func(ctx context.Context, id string) (bool, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far the request date may be from now; 0 means 5
	// minutes.
	MaxSkew time.Duration
}

func (f *Federation) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Verify authenticates a federation request whose body has been read and
// returns the instance principal its leaf certificate names. The returned
// error always matches ErrNotAuthenticated; its text is for logs.
func (f *Federation) Verify(ctx context.Context, r *http.Request, body []byte) (*authz.Principal, error) {
	c, _, err := f.verify(ctx, r, body)
	if err != nil {
		return nil, fmt.Errorf("%w: federation: %v", ErrNotAuthenticated, err)
	}
	return c.Principal(), nil
}

// IssueToken mints the session token for a request Verify accepted: bound
// to the body's session key, for the instance p, expiring after
// InstanceTokenTTL or with the leaf certificate, whichever is first.
func (f *Federation) IssueToken(p *authz.Principal, body []byte) (string, time.Time, error) {
	req, err := ParseFederationRequest(body)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("federation: %w", err)
	}
	c, err := InstanceClaimsFromCertificate(req.Leaf)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("federation: %w", err)
	}
	if p == nil || p.Type != authz.PrincipalInstance || p.ID != c.InstanceID {
		return "", time.Time{}, errors.New("federation: the principal is not the certificate's instance")
	}
	ttl := min(InstanceTokenTTL, req.Leaf.NotAfter.Sub(f.now()))
	return f.Tokens.MintInstance(c, req.SessionKey, ttl)
}

func (f *Federation) verify(ctx context.Context, r *http.Request, body []byte) (InstanceClaims, *FederationRequest, error) {
	var none InstanceClaims
	if f.CA == nil {
		return none, nil, errors.New("no instance CA")
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return none, nil, errors.New("no Authorization header")
	}
	params, err := ParseAuthorization(auth)
	if err != nil {
		return none, nil, err
	}
	if params.Algorithm != "" && params.Algorithm != "rsa-sha256" {
		return none, nil, errors.New("unsupported signature algorithm")
	}
	signed := map[string]bool{}
	for _, h := range params.Headers {
		signed[h] = true
	}
	for _, h := range []string{"(request-target)", "content-length", "content-type", "x-content-sha256"} {
		if !signed[h] {
			return none, nil, fmt.Errorf("header %s is not signed", h)
		}
	}
	dateHeader := "date"
	if signed["x-date"] {
		dateHeader = "x-date"
	} else if !signed["date"] {
		return none, nil, errors.New("neither date nor x-date is signed")
	}
	v := Verifier{Now: f.Now, MaxSkew: f.MaxSkew}
	if err := v.checkDate(r.Header.Get(dateHeader)); err != nil {
		return none, nil, err
	}
	if err := checkBody(r, body); err != nil {
		return none, nil, err
	}
	tenancy, fp, err := parseFederationKeyID(params.KeyID)
	if err != nil {
		return none, nil, err
	}
	req, err := ParseFederationRequest(body)
	if err != nil {
		return none, nil, err
	}
	if subtle.ConstantTimeCompare([]byte(fp), []byte(CertificateFingerprint(req.Leaf))) != 1 {
		return none, nil, errors.New("keyId fingerprint is not the certificate's")
	}
	if err := f.verifyChain(req); err != nil {
		return none, nil, err
	}
	leafKey, ok := req.Leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return none, nil, errors.New("certificate key is not RSA")
	}
	signingString, err := buildSigningString(r, params.Headers)
	if err != nil {
		return none, nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(params.Signature)
	if err != nil {
		return none, nil, errors.New("signature is not base64")
	}
	digest := sha256.Sum256([]byte(signingString))
	if err := rsa.VerifyPKCS1v15(leafKey, crypto.SHA256, digest[:], sig); err != nil {
		return none, nil, errors.New("signature does not verify")
	}
	c, err := InstanceClaimsFromCertificate(req.Leaf)
	if err != nil {
		return none, nil, err
	}
	if c.TenancyID != tenancy {
		return none, nil, errors.New("keyId tenancy is not the certificate's")
	}
	if f.TenancyID != nil {
		t, err := f.TenancyID(ctx)
		if err != nil {
			return none, nil, fmt.Errorf("tenancy: %w", err)
		}
		if t != c.TenancyID {
			return none, nil, errors.New("certificate names another tenancy")
		}
	}
	if f.CompartmentActive != nil {
		ok, err := f.CompartmentActive(ctx, c.CompartmentID)
		if err != nil {
			return none, nil, fmt.Errorf("compartment: %w", err)
		}
		if !ok {
			return none, nil, fmt.Errorf("instance compartment %s is not active", c.CompartmentID)
		}
	}
	return c, req, nil
}

// verifyChain checks that the leaf chains to the CA's root through the
// request's intermediates, is valid now, and is a client certificate that
// is not itself a CA.
func (f *Federation) verifyChain(req *FederationRequest) error {
	roots := x509.NewCertPool()
	roots.AddCert(f.CA.root)
	inters := x509.NewCertPool()
	for _, c := range req.Intermediates {
		inters.AddCert(c)
	}
	if req.Leaf.IsCA {
		return errors.New("certificate is a CA")
	}
	_, err := req.Leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inters, CurrentTime: f.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	return nil
}

// parseFederationKeyID splits `<tenancy>/fed-x509-sha256/<fingerprint>`.
func parseFederationKeyID(keyID string) (tenancy, fingerprint string, err error) {
	parts := strings.Split(keyID, "/")
	if len(parts) != 3 || parts[1] != "fed-x509-sha256" || !isOCID(parts[0]) || len(parts[2]) != 32*3-1 {
		return "", "", errors.New("keyId is not tenancy/fed-x509-sha256/fingerprint")
	}
	return parts[0], parts[2], nil
}
