//go:build cgo

package server_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm/softhsmtest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/internal/seal"
	"github.com/coffer-vault/coffer/internal/server"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

// startPKCS11 starts a --seal pkcs11 server on dir with the token.
func startPKCS11(t *testing.T, dir string, token keyprotect.HSMConfig, generate bool, logs, bodies *coffertest.SyncBuffer) *sealEnv {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0", Seal: seal.TypePKCS11, PKCS11: token,
		PKCS11SealKeyLabel: "coffer-seal", PKCS11GenerateKey: generate,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Out: &coffertest.SyncBuffer{},
	})
	if err != nil {
		t.Fatalf("start pkcs11 server: %v", err)
	}
	e := &sealEnv{t: t, dir: dir, srv: srv, logs: logs, bodies: bodies}
	t.Cleanup(e.stop)
	return e
}

// createSecret stores content as a new secret through the SDK.
func createSecret(t *testing.T, env *coffertest.Env, content string) (secretID string) {
	t.Helper()
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	k := v.CreateKey(t, "k", keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	vaults, err := vault.NewVaultsClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&vaults.BaseClient, env.URL)
	s, err := vaults.CreateSecret(context.Background(), vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
		CompartmentId: common.String(keystest.Tenancy(t, env)), VaultId: v.Id, KeyId: k.Id,
		SecretName: common.String("sealed-by-the-token"), SecretContent: vault.Base64SecretContentDetails{
			Content: common.String(base64.StdEncoding.EncodeToString([]byte(content)))}}})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	return *s.Id
}

// TestSealPKCS11Lifecycle: on SoftHSM2, the first start makes the seal key
// and unseals; a secret written through the SDK reads back after a restart
// that needs no share; a wrong PIN, then a missing key, leave the server
// sealed with the reason in seal-status, 503 on the API, and no retry after
// the refused PIN. The PIN, the root key and the secret never reach the
// logs or answers.
func TestSealPKCS11Lifecycle(t *testing.T) {
	token := softhsmtest.Token(t)
	token.PIN = "pin-canary-4711"
	setPIN(t, token, softhsmtest.PIN)
	dir := coffertest.DataDir(t)
	logs, bodies := &coffertest.SyncBuffer{}, &coffertest.SyncBuffer{}
	const content = "secret-canary-under-pkcs11-seal"

	// An empty store with a token that has no key: not without --pkcs11-generate-key.
	e := startPKCS11(t, dir, token, false, logs, bodies)
	if st := e.status(); !st.Sealed || st.Initialized || !strings.Contains(st.Reason, `no seal key labelled "coffer-seal"`) {
		t.Fatalf("no key, no generate: %+v", st)
	}
	e.stop()

	e = startPKCS11(t, dir, token, true, logs, bodies)
	if e.srv.Sealed() || e.srv.Bootstrap == nil {
		t.Fatalf("first start: sealed %v, bootstrap %v", e.srv.Sealed(), e.srv.Bootstrap)
	}
	if st := e.status(); st.Type != "pkcs11" || st.Sealed || !st.Initialized || st.Reason != "" {
		t.Fatalf("status %+v", st)
	}
	env := e.env()
	id := createSecret(t, env, content)
	readSecret(t, env, id, content, nil)
	// Shamir operations are refused; seal too (it would unseal itself).
	code, body := e.call(http.MethodPost, sysapi.InitPath, seal.InitRequest{Shares: 3, Threshold: 2}, nil)
	wantOCIError(t, code, body, 409, "IncorrectState")
	code, body = e.call(http.MethodPost, sysapi.SealPath, struct{}{}, env.Provider)
	wantOCIError(t, code, body, 409, "IncorrectState")
	code, body = e.call(http.MethodPost, sysapi.RekeyPath, seal.RekeyRequest{Shares: 3, Threshold: 2}, env.Provider)
	wantOCIError(t, code, body, 409, "IncorrectState")
	e.stop()
	root := storedRoot(t, dir, token)

	// Restart: unsealed with no share, no key file.
	e = startPKCS11(t, dir, token, false, logs, bodies)
	if e.srv.Sealed() {
		t.Fatalf("restart sealed: %+v", e.status())
	}
	env = e.env()
	readSecret(t, env, id, content, nil)
	e.stop()

	// Wrong PIN: sealed with the reason; the unseal call does not try again.
	wrong := token
	wrong.PIN = "wrong-pin-canary"
	e = startPKCS11(t, dir, wrong, false, logs, bodies)
	st := e.status()
	if !st.Sealed || !st.Initialized || !strings.Contains(st.Reason, "refused the PIN") {
		t.Fatalf("wrong PIN: %+v", st)
	}
	if code, body := e.healthz(); code != 503 || !strings.Contains(body, "sealed") {
		t.Fatalf("healthz: %d %s", code, body)
	}
	env = e.env()
	readSecret(t, env, id, content, func(err error) { keystest.WantError(t, err, 503, "ServiceUnavailable") })
	code, body = e.call(http.MethodPost, sysapi.UnsealPath, seal.UnsealRequest{}, nil)
	wantOCIError(t, code, body, 409, "IncorrectState")
	code, body = e.call(http.MethodPost, sysapi.UnsealPath, seal.UnsealRequest{Share: "AAE="}, nil)
	wantOCIError(t, code, body, 400, "InvalidParameter")
	e.stop()

	// The key is gone from the token: sealed, saying which key.
	deleteTokenKey(t, token, "coffer-seal")
	e = startPKCS11(t, dir, token, true, logs, bodies) // generate does not apply to an initialized store
	if st := e.status(); !st.Sealed || !strings.Contains(st.Reason, `no seal key labelled "coffer-seal"`) {
		t.Fatalf("key deleted: %+v", st)
	}
	code, body = e.call(http.MethodPost, sysapi.UnsealPath, seal.UnsealRequest{}, nil)
	if code != 200 || !strings.Contains(string(body), `"sealed":true`) {
		t.Fatalf("unseal retry: %d %s", code, body)
	}
	e.stop()

	// Canaries: the PINs, the root key (every encoding), the secret.
	seen := logs.String() + bodies.String()
	for _, c := range append(rootCanaries(root), token.PIN, wrong.PIN, content, base64.StdEncoding.EncodeToString([]byte(content))) {
		if strings.Contains(seen, c) {
			t.Errorf("canary %q found in logs or answers", c)
		}
	}
	if !strings.Contains(logs.String(), "auto-unseal failed") {
		t.Error("the failed auto-unseal was not logged")
	}
}

// storedRoot unwraps the root key of dir's store with the token, for the
// canary search.
func storedRoot(t *testing.T, dir string, token keyprotect.HSMConfig) []byte {
	t.Helper()
	st, err := sqlite.Open(dir + "/coffer.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, ok, err := barrier.ReadSealConfig(t.Context(), st)
	if err != nil || !ok {
		t.Fatalf("seal config: %v %v", ok, err)
	}
	// barrier.RootKey keeps its bytes to itself: unwrap by the stored
	// format (version | nonce | ciphertext, bound to the key label).
	k, err := pkcs11hsm.OpenSealKey(token, cfg.KeyLabel, false)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	blob, _ := base64.StdEncoding.DecodeString(cfg.WrappedRootKey)
	root, err := k.Open(blob[1:13], blob[13:], []byte("coffer/root-key/pkcs11/v1\x00"+cfg.KeyLabel))
	if err != nil || len(root) != barrier.RootKeySize {
		t.Fatalf("unwrap the stored root key: %v", err)
	}
	return root
}

func rootCanaries(root []byte) []string {
	return []string{base64.StdEncoding.EncodeToString(root), base64.RawURLEncoding.EncodeToString(root), hex.EncodeToString(root)}
}

// setPIN changes the token's user PIN, so that the canary search looks
// for a PIN nothing else would contain.
func setPIN(t *testing.T, token keyprotect.HSMConfig, old string) {
	t.Helper()
	p := pkcs11.New(token.ModulePath)
	if err := p.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer func() { p.Finalize(); p.Destroy() }()
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		if ti, err := p.GetTokenInfo(slot); err != nil || ti.Label != token.TokenLabel {
			continue
		}
		sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer p.CloseSession(sh)
		if err := p.Login(sh, pkcs11.CKU_USER, old); err != nil {
			t.Fatal(err)
		}
		if err := p.SetPIN(sh, old, token.PIN); err != nil {
			t.Fatal(err)
		}
		_ = p.Logout(sh)
		return
	}
	t.Fatalf("token %q not found", token.TokenLabel)
}

// deleteTokenKey destroys the secret keys labelled label in the token.
func deleteTokenKey(t *testing.T, token keyprotect.HSMConfig, label string) {
	t.Helper()
	c, err := crypto11.Configure(&crypto11.Config{Path: token.ModulePath, TokenLabel: token.TokenLabel, Pin: token.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := c.FindKeys(nil, []byte(label))
	if err != nil || len(keys) == 0 {
		t.Fatalf("find %q: %d keys, %v", label, len(keys), err)
	}
	for _, k := range keys {
		if err := k.Delete(); err != nil {
			t.Fatal(err)
		}
	}
}
