package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

func vaultClient(t *testing.T, env *coffertest.Env, provider common.ConfigurationProvider) keymanagement.KmsVaultClient {
	t.Helper()
	c, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&c.BaseClient, env.URL)
	return c
}

func tenancy(t *testing.T, p common.ConfigurationProvider) string {
	id, err := p.TenancyOCID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestHealthz(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	resp, err := http.Get(env.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz = %d", resp.StatusCode)
	}
	env.Stop()
	if _, err := http.Get(env.URL + "/healthz"); err == nil {
		t.Fatal("healthz answers after stop")
	}
}

func TestDevFilesAreOwnerOnly(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	for _, name := range []string{"unseal.key", "oci/config", "oci/admin_api_key.pem", "coffer.db"} {
		info, err := os.Stat(filepath.Join(env.DataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group/other bits", name, perm)
		}
	}
	cfg, err := os.ReadFile(env.Server.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"[DEFAULT]", "user=ocid1.user.", "fingerprint=", "tenancy=ocid1.tenancy.", "region=", "key_file="} {
		if !bytes.Contains(cfg, []byte(field)) {
			t.Errorf("config lacks %q:\n%s", field, cfg)
		}
	}
	out := env.Out.String()
	for _, want := range []string{"export OCI_CONFIG_FILE=" + env.Server.ConfigPath, "export COFFER_ENDPOINT=" + env.URL} {
		if !strings.Contains(out, want) {
			t.Errorf("instructions lack %q:\n%s", want, out)
		}
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := coffertest.DataDir(t)
	env := coffertest.Start(t, coffertest.Options{DataDir: dir})
	c := vaultClient(t, env, env.Provider)
	ctx := context.Background()
	v, err := c.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(tenancy(t, env.Provider)), DisplayName: common.String("kept"),
		VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(env.URL, "http://")
	config, _ := os.ReadFile(env.Server.ConfigPath)
	env.Stop()

	env2 := coffertest.Start(t, coffertest.Options{DataDir: dir, Listen: addr})
	if env2.Server.Bootstrap != nil {
		t.Fatal("restart bootstrapped again")
	}
	config2, _ := os.ReadFile(env2.Server.ConfigPath)
	if !bytes.Equal(config, config2) {
		t.Fatal("restart rewrote the OCI config")
	}
	c2 := vaultClient(t, env2, env2.Provider)
	got, err := c2.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if err != nil {
		t.Fatalf("GetVault after restart: %v", err)
	}
	if *got.DisplayName != "kept" || *got.ManagementEndpoint != *v.ManagementEndpoint {
		t.Fatalf("vault after restart: %q endpoint %q (was %q)", *got.DisplayName, *got.ManagementEndpoint, *v.ManagementEndpoint)
	}
	// The vault's own endpoints are open again after restart.
	resp, err := http.Get(*got.ManagementEndpoint + "/20180608/keys")
	if err != nil {
		t.Fatalf("management endpoint after restart: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 400 || !bytes.Contains(body, []byte(`"code":`)) || resp.Header.Get("opc-request-id") == "" {
		t.Fatalf("unsigned request to management endpoint: %d %s, want an OCI error", resp.StatusCode, body)
	}
}

func TestStartRefusesWithoutUnsealSource(t *testing.T) {
	_, err := server.Start(context.Background(), server.Config{DataDir: coffertest.DataDir(t), Listen: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "unseal") {
		t.Fatalf("Start without unseal source: %v", err)
	}
}

func TestStartWithUnsealKeyFromEnvValue(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	enc := base64.StdEncoding.EncodeToString(key)
	dir := coffertest.DataDir(t)
	env := coffertest.Start(t, coffertest.Options{DataDir: dir, Config: func(c *server.Config) { c.Dev = false; c.UnsealKey = enc }})
	addr := strings.TrimPrefix(env.URL, "http://")
	env.Stop()
	// The wrong root key does not open the data directory.
	other := make([]byte, 32)
	_, _ = rand.Read(other)
	_, err := server.Start(context.Background(), server.Config{DataDir: dir, Listen: addr, UnsealKey: base64.StdEncoding.EncodeToString(other), Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Fatalf("wrong root key: %v", err)
	}
}

// badProvider signs with a key the server does not know, under the admin's
// key id.
type badProvider struct {
	common.ConfigurationProvider
	key *rsa.PrivateKey
}

func (p badProvider) PrivateRSAKey() (*rsa.PrivateKey, error) { return p.key, nil }

func expect401(t *testing.T, what string, err error) {
	t.Helper()
	var se common.ServiceError
	if !errors.As(err, &se) || se.GetHTTPStatusCode() != http.StatusUnauthorized || se.GetCode() != "NotAuthenticated" {
		t.Fatalf("%s: got %v, want 401 NotAuthenticated", what, err)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	comp := tenancy(t, env.Provider)
	listReq := keymanagement.ListVaultsRequest{CompartmentId: common.String(comp)}

	// Unsigned.
	resp, err := http.Get(env.URL + "/20180608/vaults?compartmentId=" + comp)
	if err != nil {
		t.Fatal(err)
	}
	unsignedBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("opc-request-id") == "" {
		t.Fatalf("unsigned: %d", resp.StatusCode)
	}

	// Wrong key.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, err = vaultClient(t, env, badProvider{env.Provider, other}).ListVaults(ctx, listReq)
	expect401(t, "wrong key", err)

	// Tampered body: the body changes after signing.
	c := vaultClient(t, env, env.Provider)
	c.HTTPClient = tamper{http.DefaultClient}
	_, err = c.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(comp), DisplayName: common.String("abc"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	expect401(t, "tampered body", err)

	// Stale date: the server's clock is 10 minutes ahead of the client's.
	skewed := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) {
		c.Now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	}})
	_, err = vaultClient(t, skewed, skewed.Provider).ListVaults(ctx, keymanagement.ListVaultsRequest{CompartmentId: common.String(tenancy(t, skewed.Provider))})
	expect401(t, "stale date", err)

	// Every failure has the same body.
	resp2, err := c.HTTPClient.Do(mustReq(t, env.URL+"/20180608/vaults?compartmentId="+comp, "Signature keyId=\"a/b/c\",signature=\"eA==\""))
	if err != nil {
		t.Fatal(err)
	}
	garbageBody, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if !bytes.Equal(unsignedBody, garbageBody) {
		t.Fatalf("401 bodies differ:\n%s\n%s", unsignedBody, garbageBody)
	}
}

func mustReq(t *testing.T, url, auth string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	return req
}

type tamper struct{ c *http.Client }

func (t tamper) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		b = bytes.Replace(b, []byte(`"abc"`), []byte(`"abd"`), 1)
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	return t.c.Do(req)
}

func TestBadInputGetsOCIErrors(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	comp := tenancy(t, env.Provider)
	key, err := env.Provider.PrivateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	keyID, _ := env.Provider.KeyID()
	signer := common.RequestSigner(staticProvider{key: key, keyID: keyID}, []string{"date", "(request-target)", "host"}, []string{"content-length", "content-type", "x-content-sha256"})
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, msgPart            string
	}{
		{"malformed JSON", "POST", "/20180608/vaults", `{"compartmentId":`, 400, "CannotParseRequest", "JSON"},
		{"wrong type names field", "POST", "/20180608/vaults", `{"compartmentId":"` + comp + `","displayName":5,"vaultType":"DEFAULT"}`, 400, "InvalidParameter", "displayName"},
		{"not an object", "POST", "/20180608/vaults", `[1,2]`, 400, "CannotParseRequest", ""},
		{"empty body", "POST", "/20180608/vaults", ``, 400, "CannotParseRequest", "empty"},
		{"trailing data", "POST", "/20180608/vaults", `{} {}`, 400, "CannotParseRequest", ""},
		{"bad enum", "POST", "/20180608/vaults", `{"compartmentId":"` + comp + `","displayName":"x","vaultType":"FANCY"}`, 400, "InvalidParameter", "DEFAULT"},
		{"missing compartment", "GET", "/20180608/vaults", "", 400, "MissingParameter", "compartmentId"},
		{"bad limit", "GET", "/20180608/vaults?compartmentId=" + comp + "&limit=abc", "", 400, "InvalidParameter", "limit"},
		{"bad sort", "GET", "/20180608/vaults?compartmentId=" + comp + "&sortBy=SIZE", "", 400, "InvalidParameter", "sortBy"},
		{"unknown route", "GET", "/20180608/nothing", "", 404, "NotFound", ""},
		{"huge body", "POST", "/20180608/vaults", `{"displayName":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "RequestEntityTooLarge", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, env.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.body == "" && tc.method == "GET" {
				req.Body = nil
			}
			req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
			if err := signer.Sign(req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !bytes.Contains(body, []byte(`"code":"`+tc.code+`"`)) || !bytes.Contains(body, []byte(tc.msgPart)) {
				t.Fatalf("got %d %s, want %d %s containing %q\nlogs: %s", resp.StatusCode, body, tc.status, tc.code, tc.msgPart, env.Logs.String())
			}
			if resp.Header.Get("opc-request-id") == "" {
				t.Fatal("no opc-request-id")
			}
		})
	}
}

type staticProvider struct {
	key   *rsa.PrivateKey
	keyID string
}

func (p staticProvider) PrivateRSAKey() (*rsa.PrivateKey, error) { return p.key, nil }
func (p staticProvider) KeyID() (string, error)                  { return p.keyID, nil }

// TestNoKeysInOutputs plants nothing: the dev private key and the root key
// are the canaries. Neither may appear in logs, responses or the database.
func TestNoKeysInOutputs(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	c := vaultClient(t, env, env.Provider)
	ctx := context.Background()
	comp := tenancy(t, env.Provider)
	var responses bytes.Buffer
	v, err := c.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(comp), DisplayName: common.String("canary"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		r, err := c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
		if err != nil {
			t.Fatal(err)
		}
		responses.WriteString(r.RawResponse.Header.Get("etag"))
		responses.WriteString(*r.DisplayName)
	}
	env.Stop()

	rootText, err := os.ReadFile(filepath.Join(env.DataDir, "unseal.key"))
	if err != nil {
		t.Fatal(err)
	}
	root, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(rootText)))
	keyPEM, err := os.ReadFile(filepath.Join(env.DataDir, "oci", "admin_api_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	d := priv.(*rsa.PrivateKey).D.Bytes()
	canaries := map[string][]byte{
		"root key":           root,
		"root key (base64)":  bytes.TrimSpace(rootText),
		"private key DER":    block.Bytes,
		"private key (PEM)":  keyPEM[40:120],
		"private exponent":   d,
		"private key base64": []byte(base64.StdEncoding.EncodeToString(block.Bytes)[:64]),
	}
	var files [][]byte
	entries, _ := os.ReadDir(env.DataDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "coffer.db") {
			b, _ := os.ReadFile(filepath.Join(env.DataDir, e.Name()))
			files = append(files, b)
		}
	}
	outputs := map[string][]byte{"logs": env.Logs.Bytes(), "stdout": env.Out.Bytes(), "responses": responses.Bytes()}
	for i, f := range files {
		outputs["database file "+string(rune('0'+i))] = f
	}
	if len(files) == 0 {
		t.Fatal("no database file found")
	}
	for oname, out := range outputs {
		for cname, canary := range canaries {
			if len(canary) > 0 && bytes.Contains(out, canary) {
				t.Errorf("%s contains the %s", oname, cname)
			}
		}
	}
	// The database holds the vault's name only inside sealed values.
	for _, f := range files {
		if bytes.Contains(f, []byte(`"displayName":"canary"`)) {
			t.Error("database holds a plaintext record")
		}
	}
}

func TestRateLimitPerPrincipal(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.RateLimit = 0.01; c.RateBurst = 2 }})
	c := vaultClient(t, env, env.Provider)
	req := keymanagement.ListVaultsRequest{CompartmentId: common.String(tenancy(t, env.Provider))}
	for i := 0; i < 2; i++ {
		if _, err := c.ListVaults(context.Background(), req); err != nil {
			t.Fatalf("request %d within burst: %v", i, err)
		}
	}
	resp, err := c.ListVaults(context.Background(), req)
	var se common.ServiceError
	if !errors.As(err, &se) || se.GetHTTPStatusCode() != http.StatusTooManyRequests || se.GetCode() != "TooManyRequests" {
		t.Fatalf("over the limit: %v", err)
	}
	if resp.RawResponse == nil || resp.RawResponse.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

func TestMetrics(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.MetricsListen = "127.0.0.1:0" }})
	c := vaultClient(t, env, env.Provider)
	comp := tenancy(t, env.Provider)
	if _, err := c.ListVaults(context.Background(), keymanagement.ListVaultsRequest{CompartmentId: common.String(comp)}); err != nil {
		t.Fatal(err)
	}
	_, _ = c.GetVault(context.Background(), keymanagement.GetVaultRequest{VaultId: common.String("ocid1.vault.oc1.local.nothere")})
	v, err := c.CreateVault(context.Background(), keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(comp), DisplayName: common.String("cached"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.GetVault(context.Background(), keymanagement.GetVaultRequest{VaultId: v.Id}); err != nil {
			t.Fatal(err)
		}
	}
	st := env.Server.CacheStats()
	if st.Hits < 2 || st.Misses < 1 || st.Entries < 1 || !st.Live {
		t.Fatalf("cache stats after repeated GetVault: %+v", st)
	}
	resp, err := http.Get(env.Server.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`coffer_requests_total{decision="allow",operation="ListVaults",status="200"} 1`,
		`coffer_requests_total{decision="none",operation="GetVault",status="404"} 1`,
		`coffer_request_duration_seconds_count{operation="ListVaults"} 1`,
		"coffer_record_cache_live 1\n",
		fmt.Sprintf("coffer_record_cache_hits_total %d\n", st.Hits),
		fmt.Sprintf("coffer_record_cache_misses_total %d\n", st.Misses),
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if bytes.Contains(body, []byte(comp)) {
		t.Error("metrics carry a compartment OCID")
	}
	// The API listener does not serve metrics.
	r2, err := http.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusNotFound {
		t.Errorf("API listener /metrics = %d", r2.StatusCode)
	}
}

func TestAuditLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.AuditLog = path }})
	c := vaultClient(t, env, env.Provider)
	comp := tenancy(t, env.Provider)
	v, err := c.CreateVault(context.Background(), keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(comp), DisplayName: common.String("audited"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetVault(context.Background(), keymanagement.GetVaultRequest{VaultId: v.Id}); err != nil {
		t.Fatal(err)
	}
	env.Stop()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v", info.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d audit lines, want 2:\n%s", len(lines), b)
	}
	for i, op := range []string{"CreateVault", "GetVault"} {
		if !strings.Contains(lines[i], `"operation":"`+op+`"`) || !strings.Contains(lines[i], `"allowed":true`) {
			t.Errorf("line %d: %s", i, lines[i])
		}
	}
	if !strings.Contains(lines[1], `"vault":"`+*v.Id+`"`) {
		t.Errorf("GetVault audit event does not name the vault: %s", lines[1])
	}
	// A server whose audit log cannot be opened does not start.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = server.Start(context.Background(), server.Config{Dev: true, DataDir: t.TempDir(), Listen: "127.0.0.1:0", AuditLog: path, Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "audit") {
		t.Fatalf("start with a world-readable audit log: %v", err)
	}
}

// TestDevTemporaryDataDir: a dev server without a data directory makes a
// temporary one, and removes it on Close, or at once when Start fails.
func TestDevTemporaryDataDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	left := func() []string {
		dirs, _ := filepath.Glob(filepath.Join(tmp, "coffer-dev-*"))
		return dirs
	}
	quiet := slog.New(slog.DiscardHandler)
	if _, err := server.Start(context.Background(), server.Config{Dev: true, Listen: "127.0.0.1:0", RealmDomain: "localhost", Log: quiet, Out: io.Discard}); err == nil {
		t.Fatal("started with a bad realm domain")
	}
	if d := left(); len(d) != 0 {
		t.Fatalf("a failed start left %v", d)
	}
	srv, err := server.Start(context.Background(), server.Config{Dev: true, Listen: "127.0.0.1:0", Log: quiet, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if d := left(); len(d) != 1 || srv.DataDir() != d[0] {
		t.Fatalf("data dir %s, in TMPDIR %v", srv.DataDir(), d)
	}
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := left(); len(d) != 0 {
		t.Fatalf("Close left %v", d)
	}
}
