package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/server"
)

// testPKI writes a CA-signed certificate for 127.0.0.1 and *.kms.<domain>
// and returns the file paths and a pool trusting the CA.
func testPKI(t *testing.T, domain string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "coffer test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "coffer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"*.kms." + domain},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	return certFile, keyFile, roots
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestHostRoutingOverTLS runs the production endpoint scheme: HTTPS, and
// vaults reached as <label>-management.kms.<domain>, routed by Host header
// on the one listener. The client resolves every name to that listener, as
// wildcard DNS would.
func TestHostRoutingOverTLS(t *testing.T) {
	const domain = "coffer.test"
	certFile, keyFile, roots := testPKI(t, domain)
	port := freePort(t)
	env := coffertest.Start(t, coffertest.Options{Listen: "127.0.0.1:" + port, Config: func(c *server.Config) {
		c.TLSCertFile, c.TLSKeyFile = certFile, keyFile
		c.KMSDomain = domain + ":" + port
	}})
	if !strings.HasPrefix(env.URL, "https://") {
		t.Fatalf("server URL %s is not https", env.URL)
	}
	httpClient := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
		},
	}}
	vc, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&vc.BaseClient, env.URL)
	vc.HTTPClient = httpClient
	ctx := context.Background()
	comp := tenancy(t, env.Provider)
	var vaults []keymanagement.Vault
	for _, name := range []string{"one", "two"} {
		v, err := vc.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
			CompartmentId: &comp, DisplayName: common.String(name), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
		if err != nil {
			t.Fatalf("CreateVault over TLS: %v", err)
		}
		want := "-management.kms." + domain + ":" + port
		if !strings.HasPrefix(*v.ManagementEndpoint, "https://") || !strings.HasSuffix(*v.ManagementEndpoint, want) {
			t.Fatalf("management endpoint %s", *v.ManagementEndpoint)
		}
		vaults = append(vaults, v.Vault)
	}
	mgmt := func(v keymanagement.Vault) keymanagement.KmsManagementClient {
		c, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(env.Provider, *v.ManagementEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		coffertest.Configure(&c.BaseClient, *v.ManagementEndpoint)
		c.HTTPClient = httpClient
		return c
	}
	k, err := mgmt(vaults[0]).CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: &comp, DisplayName: common.String("k"), ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
		KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)}}})
	if err != nil {
		t.Fatalf("CreateKey on the host-routed endpoint: %v", err)
	}
	if *k.VaultId != *vaults[0].Id {
		t.Fatalf("key landed in vault %s, want %s", *k.VaultId, *vaults[0].Id)
	}
	for i, v := range vaults {
		list, err := mgmt(v).ListKeys(ctx, keymanagement.ListKeysRequest{CompartmentId: &comp})
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 - i; len(list.Items) != want {
			t.Fatalf("vault %d lists %d keys, want %d", i, len(list.Items), want)
		}
	}
	// A host name that names no vault is a 404.
	ghost := keymanagement.Vault{ManagementEndpoint: common.String("https://nosuchvault-management.kms." + domain + ":" + port)}
	_, err = mgmt(ghost).ListKeys(ctx, keymanagement.ListKeysRequest{CompartmentId: &comp})
	var se common.ServiceError
	if !errors.As(err, &se) || se.GetHTTPStatusCode() != http.StatusNotFound {
		t.Fatalf("unknown vault host: %v", err)
	}
}

func TestPlainHTTPRefusedOffLoopback(t *testing.T) {
	_, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Listen: "0.0.0.0:0", UnsealKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", Out: os.Stderr})
	if err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("plain HTTP on 0.0.0.0: %v", err)
	}
}
