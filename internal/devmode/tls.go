package devmode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/coffer-vault/coffer/pkg/securefile"
)

// Paths of the dev certificate authority and server certificate, under
// DATA_DIR/TLSDir.
const (
	TLSDir     = "tls"
	CAFile     = "ca.pem"
	CAKeyFile  = "ca.key"
	CertFile   = "server.pem"
	CertKey    = "server.key"
	caLifetime = 10 * 365 * 24 * time.Hour
	// A server certificate is renewed at start once less than renewBefore
	// of it is left, so a long-running dev data directory keeps working.
	certLifetime = 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// TLSSpec names what the dev server certificate must cover.
type TLSSpec struct {
	DNSNames []string
	IPs      []net.IP
}

// TLSFiles are the paths EnsureTLS wrote or found.
type TLSFiles struct {
	CA, Cert, Key string
}

// EnsureTLS makes sure DATA_DIR/tls holds a local CA (ECDSA P-256, ten
// years) and a server certificate it signed that covers spec, and returns
// their paths. The CA is kept across restarts so that clients configured
// once with ca.pem keep trusting the server; the server certificate is
// reissued only when it no longer covers spec, was not signed by the CA, or
// is about to expire. Private keys are written 0600.
func EnsureTLS(dataDir string, spec TLSSpec, now time.Time) (TLSFiles, error) {
	dir := filepath.Join(dataDir, TLSDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return TLSFiles{}, fmt.Errorf("devmode: tls directory: %w", err)
	}
	files := TLSFiles{CA: filepath.Join(dir, CAFile), Cert: filepath.Join(dir, CertFile), Key: filepath.Join(dir, CertKey)}
	caCert, caKey, err := loadCA(dir, now)
	if err != nil {
		return TLSFiles{}, err
	}
	if caCert == nil {
		if caCert, caKey, err = newCA(dir, now); err != nil {
			return TLSFiles{}, err
		}
	}
	if certCovers(files, caCert, spec, now) {
		return files, nil
	}
	if err := issue(files, caCert, caKey, spec, now); err != nil {
		return TLSFiles{}, err
	}
	return files, nil
}

// loadCA returns the stored CA, or nil when there is none or it expired.
func loadCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("devmode: read CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("devmode: read CA key: %w", err)
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("devmode: CA: %w", err)
	}
	key, err := parseKey(keyPEM)
	clear(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("devmode: CA key: %w", err)
	}
	if now.After(cert.NotAfter) {
		return nil, nil, nil
	}
	return cert, key, nil
}

func newCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("devmode: CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Coffer dev CA", Organization: []string{"Coffer (dev mode)"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(caLifetime),
		IsCA:         true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("devmode: CA certificate: %w", err)
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), key); err != nil {
		return nil, nil, err
	}
	if _, err := securefile.Write(filepath.Join(dir, CAFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), securefile.Options{Mode: 0o644}); err != nil {
		return nil, nil, fmt.Errorf("devmode: write CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("devmode: CA certificate: %w", err)
	}
	return cert, key, nil
}

// certCovers reports whether the stored server certificate can be served
// as it is.
func certCovers(files TLSFiles, ca *x509.Certificate, spec TLSSpec, now time.Time) bool {
	certPEM, err := os.ReadFile(files.Cert)
	if err != nil {
		return false
	}
	if _, err := os.Stat(files.Key); err != nil {
		return false
	}
	cert, err := parseCert(certPEM)
	if err != nil || now.Add(renewBefore).After(cert.NotAfter) {
		return false
	}
	if cert.CheckSignatureFrom(ca) != nil {
		return false
	}
	for _, n := range spec.DNSNames {
		if !slices.Contains(cert.DNSNames, n) {
			return false
		}
	}
	for _, ip := range spec.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func issue(files TLSFiles, ca *x509.Certificate, caKey *ecdsa.PrivateKey, spec TLSSpec, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("devmode: server key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Coffer dev server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("devmode: server certificate: %w", err)
	}
	if err := writeKey(files.Key, key); err != nil {
		return err
	}
	if _, err := securefile.Write(files.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), securefile.Options{Mode: 0o644}); err != nil {
		return fmt.Errorf("devmode: write server certificate: %w", err)
	}
	return nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("devmode: encode key: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	defer clear(pemBytes)
	if _, err := securefile.Write(path, pemBytes, securefile.Options{Mode: 0o600}); err != nil {
		return fmt.Errorf("devmode: write key: %w", err)
	}
	return nil
}

func parseCert(pemBytes []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func parseKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, errors.New("not a PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	clear(b.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an ECDSA key")
	}
	return ec, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("devmode: serial number: %w", err)
	}
	return n, nil
}
