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
// Coffer plays both parts: InstanceCA is its own instance CA (root and
// intermediate, kept behind the barrier), which an administrator uses to
// issue leaf certificates for instances; Federation verifies the
// federation request and mints instance session tokens with the same HMAC
// key and JWT form as resource principal tokens, told apart by their
// "ptype" claim. WorkloadTokens resolves both kinds for the Verifier.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

// Subject attribute prefixes of an instance leaf certificate, as OCI writes
// them (organizational-unit values). The SDK takes the tenancy from the
// value that starts with "opc-tenant:".
const (
	subjectTenant      = "opc-tenant:"
	subjectInstance    = "opc-instance:"
	subjectCompartment = "opc-compartment:"
	subjectCertType    = "opc-certtype:"
	certTypeInstance   = "instance"
)

// Lifetimes of the instance CA and its certificates.
const (
	// DefaultInstanceCertTTL is an instance leaf certificate's lifetime
	// when none is asked for. OCI rotates its own several times a day;
	// Coffer's are issued by hand, so they live longer.
	DefaultInstanceCertTTL = 30 * 24 * time.Hour
	// MinInstanceCertTTL and MaxInstanceCertTTL bound it.
	MinInstanceCertTTL = 10 * time.Minute
	MaxInstanceCertTTL = 365 * 24 * time.Hour
	// InstanceTokenTTL is the lifetime of an instance session token (at
	// most the leaf's remaining lifetime). The SDK renews 5 minutes
	// before exp, so this is about one federation every 15 minutes.
	InstanceTokenTTL = 20 * time.Minute

	caRootTTL         = 20 * 365 * 24 * time.Hour
	caIntermediateTTL = 10 * 365 * 24 * time.Hour
	// certBackdate tolerates clocks a little behind the server's.
	certBackdate = time.Minute
)

// Bounds on what a federation request may carry.
const (
	maxCertB64Len      = 16 << 10
	maxPublicKeyB64Len = 4 << 10
	maxIntermediates   = 4
)

const ptypeInstance = string(authz.PrincipalInstance)

// oidOrganizationalUnit is id-at-organizationalUnitName.
var oidOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}

// InstanceClaims identify an instance: what its leaf certificate's subject
// and its session token carry, and what dynamic-group matching rules test
// (instance.id, instance.compartment.id).
type InstanceClaims struct {
	InstanceID    string
	CompartmentID string
	TenancyID     string
}

func (c InstanceClaims) check() error {
	for name, v := range map[string]string{"instance id": c.InstanceID, "tenancy id": c.TenancyID, "compartment id": c.CompartmentID} {
		if !isOCID(v) {
			return fmt.Errorf("%s must be an OCID", name)
		}
	}
	return nil
}

func isOCID(v string) bool {
	return strings.HasPrefix(v, "ocid1.") && len(v) <= 255 && !strings.ContainsAny(v, " \"\\/$,=+<>#;:\n\r\t")
}

// Principal is the instance principal these claims stand for. Dynamic
// groups see instance.id and instance.compartment.id (internal/iam reads
// them from ID and CompartmentID); the attributes repeat them under those
// names for audit and explain.
func (c InstanceClaims) Principal() *authz.Principal {
	return &authz.Principal{
		Type:          authz.PrincipalInstance,
		ID:            c.InstanceID,
		TenancyID:     c.TenancyID,
		CompartmentID: c.CompartmentID,
		Attributes: map[string]string{
			"instance.id":             c.InstanceID,
			"instance.compartment.id": c.CompartmentID,
		},
	}
}

// InstanceCA is Coffer's instance certificate authority: a root and an
// intermediate (ECDSA P-256), both created on first use and stored behind
// the barrier (Marshal, ParseInstanceCA). The intermediate signs instance
// leaf certificates; federation accepts a leaf that chains to the root.
// It holds private keys: it is never printed.
type InstanceCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

// LogValue implements slog.LogValuer: the keys are never logged.
func (ca *InstanceCA) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Format implements fmt.Formatter: every verb prints REDACTED.
func (ca *InstanceCA) Format(f fmt.State, _ rune) { fmt.Fprint(f, "REDACTED") }

// NewInstanceCA creates a root and an intermediate valid from now.
func NewInstanceCA(now time.Time) (*InstanceCA, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("instance CA: %w", err)
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("instance CA: %w", err)
	}
	start := now.Add(-certBackdate).UTC()
	rootTmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Coffer"}, CommonName: "Coffer instance principal root CA"},
		NotBefore:             start,
		NotAfter:              start.Add(caRootTTL),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	if rootTmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	root, err := createCert(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("instance CA root: %w", err)
	}
	interTmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Coffer"}, CommonName: "Coffer instance principal intermediate CA"},
		NotBefore:             start,
		NotAfter:              start.Add(caIntermediateTTL),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	if interTmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	inter, err := createCert(interTmpl, root, &interKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("instance CA intermediate: %w", err)
	}
	return &InstanceCA{root: root, inter: inter, rootKey: rootKey, interKey: interKey}, nil
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func createCert(tmpl, parent *x509.Certificate, pub any, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// storedCA is the stored form of an InstanceCA.
type storedCA struct {
	Version         int    `json:"version"`
	Root            []byte `json:"root"`
	RootKey         []byte `json:"rootKey"`
	Intermediate    []byte `json:"intermediate"`
	IntermediateKey []byte `json:"intermediateKey"`
}

// Marshal returns the CA with its private keys, for storage behind the
// barrier only. The caller clears the result after use.
func (ca *InstanceCA) Marshal() ([]byte, error) {
	rk, err := x509.MarshalPKCS8PrivateKey(ca.rootKey)
	if err != nil {
		return nil, fmt.Errorf("instance CA: %w", err)
	}
	defer clear(rk)
	ik, err := x509.MarshalPKCS8PrivateKey(ca.interKey)
	if err != nil {
		return nil, fmt.Errorf("instance CA: %w", err)
	}
	defer clear(ik)
	return json.Marshal(storedCA{Version: 1, Root: ca.root.Raw, RootKey: rk, Intermediate: ca.inter.Raw, IntermediateKey: ik})
}

// ParseInstanceCA reads what Marshal wrote.
func ParseInstanceCA(b []byte) (*InstanceCA, error) {
	var s storedCA
	if err := json.Unmarshal(b, &s); err != nil || s.Version != 1 {
		return nil, errors.New("instance CA: unreadable stored form")
	}
	defer clear(s.RootKey)
	defer clear(s.IntermediateKey)
	ca := &InstanceCA{}
	var err error
	if ca.root, err = x509.ParseCertificate(s.Root); err != nil {
		return nil, fmt.Errorf("instance CA root: %w", err)
	}
	if ca.inter, err = x509.ParseCertificate(s.Intermediate); err != nil {
		return nil, fmt.Errorf("instance CA intermediate: %w", err)
	}
	if ca.rootKey, err = parseECKey(s.RootKey, ca.root); err != nil {
		return nil, fmt.Errorf("instance CA root key: %w", err)
	}
	if ca.interKey, err = parseECKey(s.IntermediateKey, ca.inter); err != nil {
		return nil, fmt.Errorf("instance CA intermediate key: %w", err)
	}
	return ca, nil
}

func parseECKey(der []byte, cert *x509.Certificate) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || !ek.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("key does not match its certificate")
	}
	return ek, nil
}

// Root is the root certificate (public), for whoever wants to check leaf
// certificates themselves.
func (ca *InstanceCA) Root() *x509.Certificate { return ca.root }

// Intermediate is the intermediate certificate that signs leaves; the
// metadata service serves it as intermediate.pem.
func (ca *InstanceCA) Intermediate() *x509.Certificate { return ca.inter }

// Issue signs a leaf certificate for the instance c, bound to pub (the
// instance's RSA key, at least 2048 bits: the SDK signs the federation
// request with it), valid from now for ttl (DefaultInstanceCertTTL when
// zero). The subject carries opc-certtype, opc-instance, opc-compartment
// and opc-tenant values as OCI's leaf certificates do.
func (ca *InstanceCA) Issue(c InstanceClaims, pub *rsa.PublicKey, now time.Time, ttl time.Duration) (*x509.Certificate, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := checkRSAKey(pub, "instance key"); err != nil {
		return nil, err
	}
	switch {
	case ttl == 0:
		ttl = DefaultInstanceCertTTL
	case ttl < MinInstanceCertTTL || ttl > MaxInstanceCertTTL:
		return nil, fmt.Errorf("certificate lifetime must be between %v and %v", MinInstanceCertTTL, MaxInstanceCertTTL)
	}
	// One organizational unit per RDN, in this order, as OCI writes them.
	var ous []pkix.AttributeTypeAndValue
	for _, v := range []string{subjectCertType + certTypeInstance, subjectCompartment + c.CompartmentID,
		subjectInstance + c.InstanceID, subjectTenant + c.TenancyID} {
		ous = append(ous, pkix.AttributeTypeAndValue{Type: oidOrganizationalUnit, Value: v})
	}
	start := now.Add(-certBackdate).UTC()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: c.InstanceID, ExtraNames: ous},
		NotBefore:             start,
		NotAfter:              now.Add(ttl).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if tmpl.NotAfter.After(ca.inter.NotAfter) {
		return nil, errors.New("the instance CA's intermediate expires before the certificate would")
	}
	var err error
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	leaf, err := createCert(tmpl, ca.inter, pub, ca.interKey)
	if err != nil {
		return nil, fmt.Errorf("issue instance certificate: %w", err)
	}
	return leaf, nil
}

// InstanceClaimsFromCertificate reads the instance a leaf certificate
// names. Each of opc-certtype (instance), opc-instance, opc-compartment
// and opc-tenant must appear once.
func InstanceClaimsFromCertificate(cert *x509.Certificate) (InstanceClaims, error) {
	var c InstanceClaims
	var certType string
	seen := map[string]bool{}
	for _, n := range cert.Subject.Names {
		v, ok := n.Value.(string)
		if !ok {
			continue
		}
		for _, f := range []struct {
			prefix string
			dst    *string
		}{{subjectTenant, &c.TenancyID}, {subjectInstance, &c.InstanceID}, {subjectCompartment, &c.CompartmentID}, {subjectCertType, &certType}} {
			if rest, ok := strings.CutPrefix(v, f.prefix); ok {
				if seen[f.prefix] {
					return InstanceClaims{}, fmt.Errorf("subject names %s more than once", strings.TrimSuffix(f.prefix, ":"))
				}
				seen[f.prefix] = true
				*f.dst = rest
			}
		}
	}
	if certType != certTypeInstance {
		return InstanceClaims{}, errors.New("not an instance certificate")
	}
	if err := c.check(); err != nil {
		return InstanceClaims{}, fmt.Errorf("certificate subject: %w", err)
	}
	return c, nil
}

// CertificateFingerprint is a certificate's keyId fingerprint for
// federation: SHA-256 over the DER, lowercase hex pairs joined by ':'.
func CertificateFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	pairs := make([]string, len(sum))
	for i, b := range sum {
		pairs[i] = hex.EncodeToString([]byte{b})
	}
	return strings.Join(pairs, ":")
}

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
