package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/devmode"
	"github.com/coffer-vault/coffer/internal/server"
)

const realmDomain = "coffer.test"

// regionHTTP is a client that trusts the dev CA and sends every name to the
// server, as wildcard DNS would.
func regionHTTP(r *coffertest.Region) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: r.CAPool},
		DialContext:     r.Dial,
	}}
}

// ociError reads an OCI error body.
func ociError(t *testing.T, resp *http.Response) (status int, code string) {
	t.Helper()
	defer resp.Body.Close()
	var body struct{ Code, Message string }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("status %d, body %q is not an OCI error", resp.StatusCode, b)
	}
	return resp.StatusCode, body.Code
}

// TestRegionHostRouting sends unsigned requests by host name: the four
// service names (in any case, with or without the port, with a trailing
// dot) reach the API, which asks for a signature; a vault endpoint name
// reaches that vault's endpoint; a name outside the realm gets an
// OCI-shaped 404 before anything else.
func TestRegionHostRouting(t *testing.T) {
	r := coffertest.StartRegion(t, realmDomain)
	hc := regionHTTP(r)
	_, port, _ := net.SplitHostPort(r.Addr)
	get := func(host, path string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "https://"+r.Addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		// The certificate is checked against the name asked for.
		h := host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			h = hh
		}
		hc.Transport.(*http.Transport).TLSClientConfig.ServerName = strings.TrimSuffix(strings.ToLower(h), ".")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s%s: %v", host, path, err)
		}
		return resp
	}
	services := map[string]string{
		"kms.local." + realmDomain:                "/20180608/vaults?compartmentId=x",
		"vaults.local.oci." + realmDomain:         "/20180608/secrets?compartmentId=x",
		"secrets.vaults.local.oci." + realmDomain: "/20190301/secretbundles/ocid1.vaultsecret.local.x",
		"identity.local.oci." + realmDomain:       "/20160918/users?compartmentId=x",
	}
	if got := r.Server.ServiceHosts(); len(got) != len(services) {
		t.Fatalf("ServiceHosts %v", got)
	}
	for _, h := range r.Server.ServiceHosts() {
		if _, ok := services[h]; !ok {
			t.Fatalf("service host %s not tested", h)
		}
	}
	for host, path := range services {
		for _, variant := range []string{host, host + ":" + port, strings.ToUpper(host), host + "."} {
			status, code := ociError(t, get(variant, path))
			if status != http.StatusUnauthorized || code != "NotAuthenticated" {
				t.Errorf("%s: %d %s, want the API's 401 NotAuthenticated", variant, status, code)
			}
		}
	}
	// The server itself, by address or localhost (the coffer CLI, probes).
	for _, host := range []string{r.Addr, "localhost:" + port} {
		if status, code := ociError(t, get(host, "/20180608/vaults?compartmentId=x")); status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", host, status, code)
		}
	}
	for _, host := range []string{
		"example.com", "kms.other." + realmDomain, "kms.local." + realmDomain + ".evil.com", "local." + realmDomain,
		"vaults.local." + realmDomain, "kms.local.oci." + realmDomain, "x.kms.local.oci." + realmDomain,
	} {
		status, code := ociError(t, get(host, "/20180608/vaults?compartmentId=x"))
		if status != http.StatusNotFound || code != "NotFound" {
			t.Errorf("unknown host %s: %d %s, want 404 NotFound", host, status, code)
		}
	}
	// /healthz answers on any name: probes use the pod address.
	if resp := get("example.com", "/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	// A vault endpoint name that names no vault.
	status, code := ociError(t, get("nosuchvault-management.kms.local."+realmDomain, "/20180608/keys?compartmentId=x"))
	if status != http.StatusNotFound || code != "NotAuthorizedOrNotFound" {
		t.Errorf("unknown vault host: %d %s", status, code)
	}
}

// TestRegionInProcess makes SDK clients with a configuration provider and
// nothing else (coffertest.Region.Route changes only the dialer) and checks
// the host names the SDK built from the region.
func TestRegionInProcess(t *testing.T) {
	r := coffertest.StartRegion(t, realmDomain)
	r.UseInProcess(t)
	ctx := context.Background()
	comp := tenancy(t, r.Provider)
	vc, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(r.Provider)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(&vc.BaseClient)
	if want := "https://kms.local." + r.Domain; vc.Host != want {
		t.Fatalf("SDK built %s, want %s", vc.Host, want)
	}
	v, err := vc.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &comp, DisplayName: common.String("in-process"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatalf("CreateVault: %v", err)
	}
	for _, e := range []string{*v.ManagementEndpoint, *v.CryptoEndpoint} {
		if !strings.HasPrefix(e, "https://") || !strings.HasSuffix(e, ".kms.local."+r.Domain) {
			t.Fatalf("vault endpoint %s is not under kms.local.%s", e, r.Domain)
		}
	}
	// The vault's host names, however written, reach its endpoints (an
	// unsigned request: the endpoint's API asks for a signature).
	hc := regionHTTP(r)
	for e, op := range map[string]string{*v.ManagementEndpoint: "GET /20180608/keys?compartmentId=x", *v.CryptoEndpoint: "POST /20180608/encrypt"} {
		host := strings.TrimPrefix(e, "https://")
		name, _, _ := net.SplitHostPort(host)
		method, path, _ := strings.Cut(op, " ")
		for _, variant := range []string{host, strings.ToUpper(host), name, name + "."} {
			req, err := http.NewRequest(method, "https://"+r.Addr+path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = variant
			hc.Transport.(*http.Transport).TLSClientConfig.ServerName = name
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if status, code := ociError(t, resp); status != http.StatusUnauthorized {
				t.Errorf("vault host %s: %d %s, want 401", variant, status, code)
			}
		}
	}
	mc, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(r.Provider, *v.ManagementEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(&mc.BaseClient)
	k, err := mc.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: &comp, DisplayName: common.String("k"), ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
		KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)}}})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	sc, err := vault.NewVaultsClientWithConfigurationProvider(r.Provider)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(&sc.BaseClient)
	s, err := sc.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
		CompartmentId: &comp, VaultId: v.Id, KeyId: k.Id, SecretName: common.String("s"),
		SecretContent: vault.Base64SecretContentDetails{Content: common.String("aGVsbG8=")}}})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	rc, err := secrets.NewSecretsClientWithConfigurationProvider(r.Provider)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(&rc.BaseClient)
	b, err := rc.GetSecretBundle(ctx, secrets.GetSecretBundleRequest{SecretId: s.Id})
	if err != nil {
		t.Fatalf("GetSecretBundle: %v", err)
	}
	if got := *b.SecretBundleContent.(secrets.Base64SecretBundleContentDetails).Content; got != "aGVsbG8=" {
		t.Fatalf("bundle %q", got)
	}
	// The SDK checks the certificate: without the CA it refuses.
	t.Setenv("OCI_DEFAULT_CERTS_PATH", "")
	untrusting, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(r.Provider)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(&untrusting.BaseClient)
	_, err = untrusting.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	var unknownCA x509.UnknownAuthorityError
	if !errors.As(err, &unknownCA) {
		t.Fatalf("without the dev CA: %v, want an unknown authority error", err)
	}
}

// subprocessEnv is the whole environment of an acceptance program: the
// region's variables, a private HOME (so no ~/.oci file is read) and what
// running a binary needs.
func subprocessEnv(t *testing.T, r *coffertest.Region, extra ...string) []string {
	env := append(r.Vars(), "HOME="+t.TempDir())
	return append(env, extra...)
}

// TestRegionGoSDK runs testdata/regionapp, an OCI Go SDK program with no
// Host set anywhere, as its own process against a dev region.
func TestRegionGoSDK(t *testing.T) {
	r := coffertest.StartRegion(t, realmDomain)
	bin := filepath.Join(t.TempDir(), "regionapp")
	build := exec.Command("go", "build", "-o", bin, "./testdata/regionapp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build regionapp: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = subprocessEnv(t, r, "COFFER_TEST_DIAL="+r.Addr)
	runRegionApp(t, r, cmd)
}

// TestRegionNodeSDK runs testdata/regionapp-node, the same program on the
// official OCI TypeScript/JavaScript SDK.
func TestRegionNodeSDK(t *testing.T) {
	r, cmd := nodeRegionApp(t, "app.js")
	runRegionApp(t, r, cmd)
}

// nodeRegionApp starts a region and returns the command that runs script
// of testdata/regionapp-node against it.
func nodeRegionApp(t *testing.T, script string) (*coffertest.Region, *exec.Cmd) {
	t.Helper()
	files := map[string]string{}
	for _, f := range []string{"package.json", "package-lock.json", script, "dns.js"} {
		files[filepath.Join("testdata", "regionapp-node", f)] = f
	}
	node, dir := coffertest.NodeProject(t, files)
	r := coffertest.StartRegion(t, realmDomain)
	cmd := exec.Command(node, "--require", "./dns.js", script)
	cmd.Dir = dir
	cmd.Env = subprocessEnv(t, r)
	return r, cmd
}

// runProgram runs cmd, fails t if it fails or is still running after
// limit, and returns its standard output and error.
func runProgram(t *testing.T, cmd *exec.Cmd, limit time.Duration) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", cmd.Path, err, out.String(), errOut.String())
		}
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s still running after %v\nstdout:\n%s\nstderr:\n%s", cmd.Path, limit, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// runRegionApp runs an acceptance program and checks what it did and which
// host names its SDK built.
func runRegionApp(t *testing.T, r *coffertest.Region, cmd *exec.Cmd) {
	t.Helper()
	out, stderr := runProgram(t, cmd, 2*time.Minute)
	// The Node SDK reports the endpoint with the API's base path.
	for _, want := range []string{
		"identity host: https://identity.local.oci." + r.Domain,
		"kms host: https://kms.local." + r.Domain,
		"vaults host: https://vaults.local.oci." + r.Domain,
		"secrets host: https://secrets.vaults.local.oci." + r.Domain,
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want+"/20") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"tenancy: coffer\n",
		"-management.kms.local." + r.Domain + "\n",
		"decrypted: crypto over the region\n",
		"bundle: hello from the region\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s\nstderr:\n%s", want, out, stderr)
		}
	}
}

// TestRegionDevCA checks the dev CA: a certificate for every name the SDKs
// use, the CA and its key kept (0600) across restarts, and the lines to
// paste printed.
func TestRegionDevCA(t *testing.T) {
	dir := coffertest.DataDir(t)
	env := coffertest.Start(t, coffertest.Options{DataDir: dir, Config: func(c *server.Config) { c.RealmDomain = realmDomain }})
	caFile := filepath.Join(dir, devmode.TLSDir, devmode.CAFile)
	if env.Server.CAFile() != caFile {
		t.Fatalf("CAFile %s, want %s", env.Server.CAFile(), caFile)
	}
	ca1, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{devmode.CAKeyFile, devmode.CertKey} {
		fi, err := os.Stat(filepath.Join(dir, devmode.TLSDir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}
	out := env.Out.String()
	for _, want := range []string{
		"export OCI_REGION_METADATA='" + env.Server.RegionMetadata() + "'",
		"export OCI_DEFAULT_CERTS_PATH=" + caFile + "\n",
		"export NODE_EXTRA_CA_CERTS=" + caFile + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("instructions lack %q:\n%s", want, out)
		}
	}
	var md map[string]string
	if err := json.Unmarshal([]byte(env.Server.RegionMetadata()), &md); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(env.URL, "https://"))
	if md["realmDomainComponent"] != realmDomain+":"+port || md["regionIdentifier"] != "local" || md["realmKey"] == "" || md["regionKey"] == "" {
		t.Fatalf("region metadata %v", md)
	}
	config, err := os.ReadFile(env.Server.ConfigPath)
	if err != nil || !strings.Contains(string(config), "\nregion=local\n") {
		t.Fatalf("OCI config %q: %v", config, err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca1)
	certPEM, err := os.ReadFile(filepath.Join(dir, devmode.TLSDir, devmode.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(env.Server.ServiceHosts(), "abcdefghij-management.kms.local."+realmDomain, "abcdefghij-crypto.kms.local."+realmDomain, "localhost", "127.0.0.1") {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "kms.other." + realmDomain, Roots: pool}); err == nil {
		t.Error("certificate covers another region")
	}
	env.Stop()

	env = coffertest.Start(t, coffertest.Options{DataDir: dir, Config: func(c *server.Config) { c.RealmDomain = realmDomain }})
	ca2, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca1, ca2) {
		t.Fatal("the dev CA changed across a restart: clients would stop trusting the server")
	}
	cert2, _ := os.ReadFile(filepath.Join(dir, devmode.TLSDir, devmode.CertFile))
	if !bytes.Equal(certPEM, cert2) {
		t.Fatal("the server certificate was reissued although it still covers every name")
	}
	env.Stop()

	// Another region needs other names: the certificate is reissued by the
	// same CA.
	coffertest.Start(t, coffertest.Options{DataDir: dir, Config: func(c *server.Config) { c.RealmDomain = realmDomain; c.Region = "other" }})
	ca3, _ := os.ReadFile(caFile)
	cert3, _ := os.ReadFile(filepath.Join(dir, devmode.TLSDir, devmode.CertFile))
	if !bytes.Equal(ca1, ca3) || bytes.Equal(certPEM, cert3) {
		t.Fatal("a new region should reissue the server certificate under the same CA")
	}
}

func TestRegionConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"with kms-domain", server.Config{Dev: true, RealmDomain: realmDomain, KMSDomain: "x.test"}, "exclude"},
		{"no TLS outside dev", server.Config{RealmDomain: realmDomain, UnsealKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "HTTPS"},
		{"bad domain", server.Config{Dev: true, RealmDomain: "bad_domain.test"}, "DNS label"},
		{"single label", server.Config{Dev: true, RealmDomain: "localhost"}, "DNS name"},
		{"bad region", server.Config{Dev: true, RealmDomain: realmDomain, Region: "Not.A.Label"}, "--region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DataDir, tc.cfg.Listen, tc.cfg.Out = coffertest.DataDir(t), "127.0.0.1:0", io.Discard
			srv, err := server.Start(context.Background(), tc.cfg)
			if err == nil {
				srv.Close(context.Background())
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q lacks %q", err, tc.want)
			}
		})
	}
}
