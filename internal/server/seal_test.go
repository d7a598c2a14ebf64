package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/devmode"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/internal/seal"
	"github.com/coffer-vault/coffer/internal/server"
	"github.com/coffer-vault/coffer/internal/shamir"
)

// sealEnv is a Shamir-mode server and everything the test saw: every
// response body (for the canary) and the server's logs.
type sealEnv struct {
	t      *testing.T
	dir    string
	srv    *server.Server
	logs   *coffertest.SyncBuffer
	bodies *coffertest.SyncBuffer // every response body but init's
}

func startShamir(t *testing.T, dir string, logs *coffertest.SyncBuffer) *sealEnv {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0", Seal: "shamir",
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Out: io.Discard,
	})
	if err != nil {
		t.Fatalf("start shamir server: %v", err)
	}
	e := &sealEnv{t: t, dir: dir, srv: srv, logs: logs, bodies: &coffertest.SyncBuffer{}}
	t.Cleanup(e.stop)
	return e
}

func (e *sealEnv) stop() {
	(&coffertest.Env{T: e.t, Server: e.srv}).Stop()
	e.srv = nil
}

// vaultAgain finds vault id through a new server and returns its clients.
func vaultAgain(t *testing.T, env *coffertest.Env, id *string) keystest.Vault {
	t.Helper()
	vc, _ := keymanagement.NewKmsVaultClientWithConfigurationProvider(env.Provider)
	coffertest.Configure(&vc.BaseClient, env.URL)
	got, err := vc.GetVault(t.Context(), keymanagement.GetVaultRequest{VaultId: id})
	if err != nil {
		t.Fatalf("GetVault: %v", err)
	}
	return keystest.Clients(t, env, got.Vault)
}

// shareCanaries are the texts that must not leak of a set of shares: each
// share, with and without padding, and the root key they combine to, in
// every encoding.
func shareCanaries(t *testing.T, shares []string) []string {
	t.Helper()
	var parsed []shamir.Share
	var canaries []string
	for _, s := range shares {
		p, err := shamir.ParseShare([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, p)
		canaries = append(canaries, s, strings.TrimRight(s, "="))
	}
	root, err := shamir.Combine(parsed)
	if err != nil {
		t.Fatal(err)
	}
	return append(canaries, base64.StdEncoding.EncodeToString(root), base64.RawURLEncoding.EncodeToString(root), hex.EncodeToString(root))
}

// call makes a request (signed when p is not nil) and returns the status
// and raw body.
func (e *sealEnv) call(method, path string, body any, p common.KeyProvider) (int, []byte) {
	e.t.Helper()
	var rd io.Reader = http.NoBody
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if p != nil {
		req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		if b == nil {
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(nil)), 0
		}
		if err := common.DefaultRequestSigner(p).Sign(req); err != nil {
			e.t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if path != sysapi.InitPath {
		_, _ = e.bodies.Write(rb)
	}
	return resp.StatusCode, rb
}

func (e *sealEnv) status() seal.Status {
	e.t.Helper()
	code, b := e.call(http.MethodGet, sysapi.SealStatusPath, nil, nil)
	var st seal.Status
	if code != 200 || json.Unmarshal(b, &st) != nil {
		e.t.Fatalf("seal-status: %d %s", code, b)
	}
	return st
}

// unseal submits one share and returns the status code and the seal
// status (or error body).
func (e *sealEnv) unseal(share string) (int, seal.Status, string) {
	e.t.Helper()
	code, b := e.call(http.MethodPost, sysapi.UnsealPath, seal.UnsealRequest{Share: share}, nil)
	var st seal.Status
	_ = json.Unmarshal(b, &st)
	return code, st, string(b)
}

func (e *sealEnv) unsealAll(shares ...string) {
	e.t.Helper()
	for i, sh := range shares {
		code, st, body := e.unseal(sh)
		if code != 200 || (i < len(shares)-1) != st.Sealed {
			e.t.Fatalf("unseal share %d: %d %s", i+1, code, body)
		}
	}
	if e.srv.Sealed() {
		e.t.Fatal("still sealed after the threshold")
	}
}

func (e *sealEnv) healthz() (int, string) {
	resp, err := http.Get(e.srv.URL() + "/healthz")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *sealEnv) env() *coffertest.Env {
	return &coffertest.Env{T: e.t, Server: nil, URL: e.srv.URL(), DataDir: e.dir, Logs: e.logs,
		Provider: common.CustomProfileConfigProvider(filepath.Join(e.dir, devmode.OCIDir, devmode.ConfigFile), "DEFAULT")}
}

func wantOCIError(t *testing.T, code int, body []byte, status int, ociCode string) {
	t.Helper()
	var e struct{ Code, Message string }
	if code != status || json.Unmarshal(body, &e) != nil || e.Code != ociCode || e.Message == "" {
		t.Fatalf("got %d %s; want %d %s", code, body, status, ociCode)
	}
}

func encrypt(t *testing.T, v keystest.Vault, keyID, plain string) string {
	t.Helper()
	resp, err := v.Crypto.Encrypt(context.Background(), keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
		KeyId: &keyID, Plaintext: common.String(base64.StdEncoding.EncodeToString([]byte(plain)))}})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return *resp.Ciphertext
}

func decrypt(t *testing.T, v keystest.Vault, keyID, ct, want string) {
	t.Helper()
	resp, err := v.Crypto.Decrypt(context.Background(), keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{
		KeyId: &keyID, Ciphertext: &ct}})
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if got, _ := base64.StdEncoding.DecodeString(*resp.Plaintext); string(got) != want {
		t.Fatalf("Decrypt = %q, want %q", got, want)
	}
}

// TestShamirLifecycle: init, sealed until the threshold, SDK calls work
// once unsealed, seal stops them with 503, wrong shares are refused and
// reset progress, unseal again keeps the data, a rotation keeps old and new
// values readable, and after a restart the server is sealed and opens with
// the same shares. No share and no root key appears anywhere but in
// init's answer.
func TestShamirLifecycle(t *testing.T) {
	dir := coffertest.DataDir(t)
	logs := &coffertest.SyncBuffer{}
	e := startShamir(t, dir, logs)

	if st := e.status(); st.Initialized || !st.Sealed || st.Type != "shamir" {
		t.Fatalf("fresh status %+v", st)
	}
	if code, body := e.healthz(); code != 501 || !strings.Contains(body, `"status":"uninitialized"`) {
		t.Fatalf("healthz before init: %d %s", code, body)
	}
	code, body := e.call(http.MethodGet, "/20180608/vaults?compartmentId=x", nil, nil)
	wantOCIError(t, code, body, 503, "ServiceUnavailable")
	code, _, _ = e.unseal("AAE=")
	if code != 409 {
		t.Errorf("unseal before init: %d", code)
	}
	code, body = e.call(http.MethodPost, sysapi.InitPath, seal.InitRequest{Shares: 5, Threshold: 1}, nil)
	wantOCIError(t, code, body, 400, "InvalidParameter")

	code, body = e.call(http.MethodPost, sysapi.InitPath, seal.InitRequest{Shares: 5, Threshold: 3}, nil)
	var init seal.InitResponse
	if code != 200 || json.Unmarshal(body, &init) != nil || len(init.Shares) != 5 || init.Threshold != 3 {
		t.Fatalf("init: %d %s", code, body)
	}
	shares := init.Shares
	code, body = e.call(http.MethodPost, sysapi.InitPath, seal.InitRequest{Shares: 5, Threshold: 3}, nil)
	wantOCIError(t, code, body, 409, "IncorrectState")
	if st := e.status(); !st.Initialized || !st.Sealed || st.Threshold != 3 || st.Shares != 5 || st.Progress != 0 {
		t.Fatalf("status after init %+v", st)
	}

	// One share, the same again (refused, no progress), a malformed one.
	if code, st, b := e.unseal(shares[0]); code != 200 || st.Progress != 1 || !st.Sealed {
		t.Fatalf("first share: %d %s", code, b)
	}
	if code, _, b := e.unseal(shares[0]); code != 400 || !strings.Contains(b, "already submitted") {
		t.Fatalf("repeated share: %d %s", code, b)
	}
	if code, _, _ := e.unseal("not a share"); code != 400 {
		t.Fatalf("malformed share: %d", code)
	}
	if st := e.status(); st.Progress != 1 {
		t.Fatalf("progress after refused shares = %d", st.Progress)
	}
	e.unsealAll(shares[3], shares[4]) // progress 2, 3: unsealed
	if code, body := e.healthz(); code != 200 {
		t.Fatalf("healthz after unseal: %d %s", code, body)
	}

	env := e.env()
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	aes := keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, "")
	k1 := v.CreateKey(t, "before-rotate", aes, keymanagement.CreateKeyDetailsProtectionModeSoftware)
	ct1 := encrypt(t, v, *k1.Id, "first")
	read := cachedSecret(t, env, v, *k1.Id, "sealed-secret-content")
	read(nil) // twice: the second read is served from the record cache
	read(nil)

	// Seal: unauthenticated is refused, an administrator seals.
	code, _ = e.call(http.MethodPost, sysapi.SealPath, nil, nil)
	if code != 401 {
		t.Fatalf("unsigned seal: %d", code)
	}
	code, body = e.call(http.MethodPost, sysapi.SealPath, struct{}{}, env.Provider)
	if code != 200 || !e.srv.Sealed() {
		t.Fatalf("seal: %d %s", code, body)
	}
	if code, body := e.healthz(); code != 503 || !strings.Contains(body, `"sealed":true`) {
		t.Fatalf("healthz after seal: %d %s", code, body)
	}
	vc, _ := keymanagement.NewKmsVaultClientWithConfigurationProvider(env.Provider)
	coffertest.Configure(&vc.BaseClient, env.URL)
	_, err := vc.GetVault(context.Background(), keymanagement.GetVaultRequest{VaultId: v.Id})
	keystest.WantError(t, err, 503, "ServiceUnavailable")
	if _, err := v.Crypto.Encrypt(context.Background(), keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
		KeyId: k1.Id, Plaintext: common.String("eA==")}}); err == nil {
		t.Fatal("crypto endpoint answered while sealed")
	}
	// Nothing is served from the caches while sealed.
	read(func(err error) { keystest.WantError(t, err, 503, "ServiceUnavailable") })

	// Wrong shares: another split's share completes the threshold, the
	// server says so and starts again from zero.
	other := make([]byte, 32)
	foreign, _ := shamir.Split(other, 5, 3)
	e.unseal(shares[0])
	e.unseal(shares[1])
	if code, st, b := e.unseal(foreign[2].Text()); code != 400 || !strings.Contains(b, "do not rebuild") || st.Progress != 0 {
		t.Fatalf("foreign share: %d %s", code, b)
	}
	if st := e.status(); !st.Sealed || st.Progress != 0 {
		t.Fatalf("status after wrong shares %+v", st)
	}
	// Reset discards progress.
	e.unseal(shares[0])
	if code, b := e.call(http.MethodPost, sysapi.UnsealPath, seal.UnsealRequest{Reset: true}, nil); code != 200 || e.status().Progress != 0 {
		t.Fatalf("reset: %d %s", code, b)
	}

	e.unsealAll(shares[1], shares[2], shares[4])
	if _, err := vc.GetVault(context.Background(), keymanagement.GetVaultRequest{VaultId: v.Id}); err != nil {
		t.Fatalf("GetVault after unseal: %v", err)
	}
	decrypt(t, v, *k1.Id, ct1, "first")
	read(nil)

	// Rotate: new values use the new term, old ones still open.
	code, body = e.call(http.MethodPost, sysapi.RotatePath, struct{}{}, env.Provider)
	var rot seal.Rotation
	if code != 200 || json.Unmarshal(body, &rot) != nil || rot.Term != 2 || rot.Terms != 2 {
		t.Fatalf("rotate: %d %s", code, body)
	}
	k2 := v.CreateKey(t, "after-rotate", aes, keymanagement.CreateKeyDetailsProtectionModeSoftware)
	ct2 := encrypt(t, v, *k2.Id, "second")
	decrypt(t, v, *k1.Id, ct1, "first")
	ct1b := encrypt(t, v, *k1.Id, "third")

	// Restart: sealed, same shares open it, everything readable.
	e.stop()
	e = startShamir(t, dir, logs)
	if st := e.status(); !st.Initialized || !st.Sealed || st.Progress != 0 {
		t.Fatalf("status after restart %+v", st)
	}
	e.unsealAll(shares[0], shares[2], shares[4])
	env = e.env()
	v = vaultAgain(t, env, v.Id)
	decrypt(t, v, *k1.Id, ct1, "first")
	decrypt(t, v, *k2.Id, ct2, "second")
	decrypt(t, v, *k1.Id, ct1b, "third")
	code, body = e.call(http.MethodPost, sysapi.RotatePath, struct{}{}, env.Provider)
	if code != 200 || !strings.Contains(string(body), `"term":3`) {
		t.Fatalf("rotate after restart: %d %s", code, body)
	}
	e.stop()

	// Canary: no share, and not the root key in any encoding, appears in
	// the logs or in any response other than init's.
	canaries := shareCanaries(t, shares)
	for where, text := range map[string]string{"logs": logs.String(), "responses": e.bodies.String()} {
		for _, c := range canaries {
			if strings.Contains(text, c) {
				t.Errorf("a share or the root key appears in the %s", where)
			}
		}
	}
	if !strings.Contains(logs.String(), "coffer unsealed") || !strings.Contains(logs.String(), "coffer sealed") {
		t.Error("seal and unseal are not logged")
	}
	// The public operator routes have their request lines, as every route.
	for _, op := range []string{sysapi.OperationGetSealStatus, sysapi.OperationInitServer, sysapi.OperationUnsealServer} {
		if !strings.Contains(logs.String(), `"msg":"request","request_id":`) || !strings.Contains(logs.String(), `"operation":"`+op+`"`) {
			t.Errorf("no request line for %s", op)
		}
	}
}

// TestShamirFirstUnsealNamesAdminConfig: /healthz tells "never
// initialized" (501) from "sealed" (503); the unseal that bootstraps the
// tenancy answers, and logs at INFO, where the administrator's OCI config
// was written; a later unseal does not repeat it.
func TestShamirFirstUnsealNamesAdminConfig(t *testing.T) {
	dir := coffertest.DataDir(t)
	logs := &coffertest.SyncBuffer{}
	e := startShamir(t, dir, logs)
	if code, body := e.healthz(); code != 501 || body != `{"status":"uninitialized","initialized":false,"sealed":true}` {
		t.Fatalf("healthz before init: %d %s", code, body)
	}
	code, body := e.call(http.MethodPost, sysapi.InitPath, seal.InitRequest{Shares: 2, Threshold: 2}, nil)
	var init seal.InitResponse
	if code != 200 || json.Unmarshal(body, &init) != nil {
		t.Fatalf("init: %d %s", code, body)
	}
	if code, body := e.healthz(); code != 503 || body != `{"status":"sealed","initialized":true,"sealed":true}` {
		t.Fatalf("healthz after init: %d %s", code, body)
	}
	if _, st, b := e.unseal(init.Shares[0]); st.AdminConfig != "" {
		t.Fatalf("first share names the config: %s", b)
	}
	_, st, b := e.unseal(init.Shares[1])
	want := filepath.Join(dir, devmode.OCIDir, devmode.ConfigFile)
	if st.Sealed || st.AdminConfig != want {
		t.Fatalf("final unseal: %s, want adminConfig %q", b, want)
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("the named config: %v", err)
	}
	var sawUnsealed, sawConfig bool
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		switch m["msg"] {
		case "coffer unsealed":
			sawUnsealed = m["level"] == "INFO"
		case "administrator OCI config written (profile DEFAULT)":
			sawConfig = m["level"] == "INFO" && m["path"] == want
		}
	}
	if !sawUnsealed || !sawConfig {
		t.Errorf("logs: unsealed at INFO %t, config path at INFO %t:\n%s", sawUnsealed, sawConfig, logs.String())
	}

	code, body = e.call(http.MethodPost, sysapi.SealPath, struct{}{}, e.env().Provider)
	if code != 200 {
		t.Fatalf("seal: %d %s", code, body)
	}
	e.unseal(init.Shares[0])
	if _, st, b := e.unseal(init.Shares[1]); st.Sealed || st.AdminConfig != "" {
		t.Fatalf("second unseal: %s, want no adminConfig", b)
	}
}

// TestRotateInDevModeAndModeMismatch: the key-file (dev) mode rotates too,
// and values of both terms survive a restart; it cannot be sealed while
// running; and neither mode starts on the other's data directory.
func TestRotateInDevModeAndModeMismatch(t *testing.T) {
	dir := coffertest.DataDir(t)
	env := coffertest.Start(t, coffertest.Options{DataDir: dir})
	e := &sealEnv{t: t, dir: dir, srv: env.Server, bodies: &coffertest.SyncBuffer{}}
	if st := e.status(); st.Type != "dev" || st.Sealed || !st.Initialized {
		t.Fatalf("dev status %+v", st)
	}
	code, body := e.call(http.MethodPost, sysapi.InitPath, seal.InitRequest{Shares: 3, Threshold: 2}, nil)
	wantOCIError(t, code, body, 409, "IncorrectState")
	code, body = e.call(http.MethodPost, sysapi.SealPath, struct{}{}, env.Provider)
	wantOCIError(t, code, body, 409, "IncorrectState")

	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	aes := keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, "")
	k1 := v.CreateKey(t, "old", aes, keymanagement.CreateKeyDetailsProtectionModeSoftware)
	ct1 := encrypt(t, v, *k1.Id, "old value")
	code, body = e.call(http.MethodPost, sysapi.RotatePath, struct{}{}, env.Provider)
	if code != 200 || !strings.Contains(string(body), `"term":2`) {
		t.Fatalf("rotate: %d %s", code, body)
	}
	k2 := v.CreateKey(t, "new", aes, keymanagement.CreateKeyDetailsProtectionModeSoftware)
	ct2 := encrypt(t, v, *k2.Id, "new value")
	env.Stop()

	// A Shamir server refuses the key-file data directory.
	if _, err := server.Start(context.Background(), server.Config{DataDir: dir, Listen: "127.0.0.1:0", Seal: "shamir", Log: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "key file") {
		t.Fatalf("shamir server on a key-file directory: %v", err)
	}

	env = coffertest.Start(t, coffertest.Options{DataDir: dir})
	v = vaultAgain(t, env, v.Id)
	decrypt(t, v, *k1.Id, ct1, "old value")
	decrypt(t, v, *k2.Id, ct2, "new value")

	// A dev server refuses a Shamir data directory.
	sdir := coffertest.DataDir(t)
	s := startShamir(t, sdir, &coffertest.SyncBuffer{})
	if code, _ := s.call(http.MethodPost, sysapi.InitPath, seal.InitRequest{Shares: 2, Threshold: 2}, nil); code != 200 {
		t.Fatalf("init: %d", code)
	}
	s.stop()
	if _, err := server.Start(context.Background(), server.Config{Dev: true, DataDir: sdir, Listen: "127.0.0.1:0", Log: slog.New(slog.DiscardHandler), Out: io.Discard}); err == nil || !strings.Contains(err.Error(), "--seal shamir") {
		t.Fatalf("dev server on a Shamir directory: %v", err)
	}
}

func TestSealConfigConflicts(t *testing.T) {
	for name, cfg := range map[string]server.Config{
		"shamir+dev":            {Dev: true, Seal: "shamir"},
		"shamir+keyfile":        {Seal: "shamir", UnsealKeyFile: "/x"},
		"shamir+env":            {Seal: "shamir", UnsealKey: "x"},
		"unknown":               {Seal: "pkcs11-someday"},
		"pkcs11 without module": {Seal: "pkcs11"},
		"pkcs11+keyfile":        {Seal: "pkcs11", UnsealKeyFile: "/x", PKCS11: keyprotect.HSMConfig{ModulePath: "/x.so", TokenLabel: "t"}},
	} {
		cfg.DataDir, cfg.Listen, cfg.Log = coffertest.DataDir(t), "127.0.0.1:0", slog.New(slog.DiscardHandler)
		if srv, err := server.Start(context.Background(), cfg); err == nil {
			srv.Close(context.Background())
			t.Errorf("%s: started", name)
		}
	}
}

// TestOperatorEndpointLimits: the unauthenticated endpoints throttle each
// address (429 with Retry-After) and refuse large bodies.
func TestOperatorEndpointLimits(t *testing.T) {
	e := startShamir(t, coffertest.DataDir(t), &coffertest.SyncBuffer{})
	code, body := e.call(http.MethodPost, sysapi.UnsealPath, map[string]string{"share": strings.Repeat("A", 8<<10)}, nil)
	wantOCIError(t, code, body, 413, "RequestEntityTooLarge")
	throttled := 0
	for range 120 {
		resp, err := http.Get(e.srv.URL() + sysapi.SealStatusPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if throttled == 0 {
		t.Fatal("120 rapid operator requests from one address were never throttled")
	}
	// healthz is not throttled (the server is not initialized: 501).
	if code, _ := e.healthz(); code != 501 {
		t.Errorf("healthz = %d", code)
	}
}

// cachedSecret creates a secret under keyID and returns a reader of it: a
// nil want means the read must return the content, else want checks the
// error.
func cachedSecret(t *testing.T, env *coffertest.Env, v keystest.Vault, keyID, content string) func(want func(error)) {
	t.Helper()
	vaults, err := vault.NewVaultsClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&vaults.BaseClient, env.URL)
	s, err := vaults.CreateSecret(context.Background(), vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
		CompartmentId: common.String(keystest.Tenancy(t, env)), VaultId: v.Id, KeyId: common.String(keyID),
		SecretName: common.String("cached"), SecretContent: vault.Base64SecretContentDetails{
			Content: common.String(base64.StdEncoding.EncodeToString([]byte(content)))}}})
	if err != nil {
		t.Fatal(err)
	}
	return func(want func(error)) {
		t.Helper()
		readSecret(t, env, *s.Id, content, want)
	}
}

// readSecret reads a secret's content through the SDK; want, when not
// nil, checks the error instead.
func readSecret(t *testing.T, env *coffertest.Env, id, content string, want func(error)) {
	t.Helper()
	reader, err := sdksecrets.NewSecretsClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&reader.BaseClient, env.URL)
	resp, err := reader.GetSecretBundle(context.Background(), sdksecrets.GetSecretBundleRequest{SecretId: &id})
	if want != nil {
		want(err)
		return
	}
	if err != nil {
		t.Fatalf("GetSecretBundle: %v", err)
	}
	c, _ := resp.SecretBundleContent.(sdksecrets.Base64SecretBundleContentDetails)
	if c.Content == nil || *c.Content != base64.StdEncoding.EncodeToString([]byte(content)) {
		t.Fatalf("GetSecretBundle content %v", c.Content)
	}
}
