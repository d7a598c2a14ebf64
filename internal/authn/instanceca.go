package authn

// The instance CA: Coffer's stand-in for OCI's instance certificate
// authority. It issues the leaf certificates that instances present to
// federation (federation.go), whose subject names the instance.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
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

	caRootTTL         = 20 * 365 * 24 * time.Hour
	caIntermediateTTL = 10 * 365 * 24 * time.Hour
	// certBackdate tolerates clocks a little behind the server's.
	certBackdate = time.Minute
)

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
	root, err := caCert("Coffer instance principal root CA", start, caRootTTL, 1, &rootKey.PublicKey, nil, rootKey)
	if err != nil {
		return nil, fmt.Errorf("instance CA root: %w", err)
	}
	inter, err := caCert("Coffer instance principal intermediate CA", start, caIntermediateTTL, 0, &interKey.PublicKey, root, rootKey)
	if err != nil {
		return nil, fmt.Errorf("instance CA intermediate: %w", err)
	}
	return &InstanceCA{root: root, inter: inter, rootKey: rootKey, interKey: interKey}, nil
}

// caCert creates a CA certificate for pub, valid from start for ttl, with
// at most maxPathLen CAs below it, signed by signer as parent (self-signed
// when parent is nil).
func caCert(name string, start time.Time, ttl time.Duration, maxPathLen int, pub *ecdsa.PublicKey, parent *x509.Certificate, signer crypto.Signer) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Coffer"}, CommonName: name},
		NotBefore:             start,
		NotAfter:              start.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLen == 0,
	}
	var err error
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	if parent == nil {
		parent = tmpl
	}
	return createCert(tmpl, parent, pub, signer)
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
