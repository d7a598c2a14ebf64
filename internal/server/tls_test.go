package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/server"
)

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
	certFile, keyFile, roots := coffertest.TLSFiles(t, t.TempDir(), "*.kms."+domain)
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
	_, err := server.Start(context.Background(), server.Config{DataDir: coffertest.DataDir(t), Listen: "0.0.0.0:0", UnsealKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", Out: os.Stderr})
	if err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("plain HTTP on 0.0.0.0: %v", err)
	}
}
