//go:build cgo

package cli

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm/softhsmtest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/server"
)

// TestMigrateSealRoundTrip moves one data directory key file -> pkcs11
// (SoftHSM2) -> shamir -> key file with coffer operator migrate-seal; a
// secret written through the SDK at the start reads back after each move,
// the server starts with the new seal (unsealed by the token, by the new
// shares through coffer operator unseal, by the new key file), and the
// previous holder no longer opens the store.
func TestMigrateSealRoundTrip(t *testing.T) {
	token := softhsmtest.Token(t)
	t.Setenv(PKCS11PINEnv, token.PIN)
	dir := coffertest.DataDir(t)
	keys := t.TempDir()
	logs := &coffertest.SyncBuffer{}
	start := func(cfg server.Config) (*server.Server, error) {
		cfg.DataDir, cfg.Listen, cfg.Out = dir, "127.0.0.1:0", io.Discard
		cfg.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		return server.Start(context.Background(), cfg)
	}
	stop := func(srv *server.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	env := func(srv *server.Server) *coffertest.Env {
		return &coffertest.Env{T: t, URL: srv.URL(), Provider: common.CustomProfileConfigProvider(srv.ConfigPath, "DEFAULT")}
	}
	const content = "migrated-secret-canary"
	read := func(srv *server.Server, id string) {
		t.Helper()
		reader, err := sdksecrets.NewSecretsClientWithConfigurationProvider(env(srv).Provider)
		if err != nil {
			t.Fatal(err)
		}
		coffertest.Configure(&reader.BaseClient, srv.URL())
		resp, err := reader.GetSecretBundle(context.Background(), sdksecrets.GetSecretBundleRequest{SecretId: &id})
		if err != nil {
			t.Fatalf("GetSecretBundle: %v", err)
		}
		c, _ := resp.SecretBundleContent.(sdksecrets.Base64SecretBundleContentDetails)
		if c.Content == nil || *c.Content != base64.StdEncoding.EncodeToString([]byte(content)) {
			t.Fatalf("content %v", c.Content)
		}
	}
	migrate := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := runOperatorCLI(t, stdin, append([]string{"operator", "migrate-seal", "--data-dir", dir}, args...)...)
		if code != 0 {
			t.Fatalf("migrate-seal %v: %d\n%s\n%s", args, code, out, errOut)
		}
		return out
	}
	pkcs11Flags := []string{"--pkcs11-module", token.ModulePath, "--pkcs11-token-label", token.TokenLabel}

	// A key-file server with a secret.
	k1 := filepath.Join(keys, "k1")
	if _, err := barrier.CreateKeyFile(k1); err != nil {
		t.Fatal(err)
	}
	srv, err := start(server.Config{UnsealKeyFile: k1})
	if err != nil {
		t.Fatal(err)
	}
	e := env(srv)
	v := keystest.NewVault(t, e, keymanagement.CreateVaultDetailsVaultTypeDefault)
	k := v.CreateKey(t, "k", keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	vaults, _ := vault.NewVaultsClientWithConfigurationProvider(e.Provider)
	coffertest.Configure(&vaults.BaseClient, e.URL)
	s, err := vaults.CreateSecret(context.Background(), vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
		CompartmentId: common.String(keystest.Tenancy(t, e)), VaultId: v.Id, KeyId: k.Id, SecretName: common.String("m"),
		SecretContent: vault.Base64SecretContentDetails{Content: common.String(base64.StdEncoding.EncodeToString([]byte(content)))}}})
	if err != nil {
		t.Fatal(err)
	}
	read(srv, *s.Id)
	stop(srv)

	// key file -> pkcs11: needs the old key file; the key is made in the token.
	if code, _, errOut := runOperatorCLI(t, "", append([]string{"operator", "migrate-seal", "--data-dir", dir, "--to", "pkcs11", "--pkcs11-generate-key"}, pkcs11Flags...)...); code != exitUsage || !strings.Contains(errOut, "--unseal-key-file") {
		t.Fatalf("without the old key file: %d %s", code, errOut)
	}
	out := migrate("", append([]string{"--unseal-key-file", k1, "--to", "pkcs11", "--pkcs11-generate-key", "--pkcs11-seal-key-label", "migrated"}, pkcs11Flags...)...)
	if !strings.Contains(out, "--seal pkcs11 --pkcs11-seal-key-label migrated") || !strings.Contains(out, "Destroy the old key file") {
		t.Fatalf("out: %s", out)
	}
	if srv, err := start(server.Config{UnsealKeyFile: k1}); err == nil {
		stop(srv)
		t.Fatal("the old key file still starts the server")
	}
	srv, err = start(server.Config{Seal: "pkcs11", PKCS11: token, PKCS11SealKeyLabel: "migrated"})
	if err != nil || srv.Sealed() {
		t.Fatalf("pkcs11 start: %v", err)
	}
	read(srv, *s.Id)
	if code, out, _ := runOperatorCLI(t, "", "operator", "unseal", "--endpoint", srv.URL()); code != 0 || !strings.Contains(out, "Seal type:    pkcs11") {
		t.Fatalf("unseal on an unsealed pkcs11 server: %d %s", code, out)
	}
	stop(srv)
	// With a wrong PIN it starts sealed; status says why, unseal refuses to try again.
	wrong := token
	wrong.PIN = "0000"
	srv, err = start(server.Config{Seal: "pkcs11", PKCS11: wrong, PKCS11SealKeyLabel: "migrated"})
	if err != nil || !srv.Sealed() {
		t.Fatalf("wrong PIN start: %v", err)
	}
	if code, out, _ := runOperatorCLI(t, "", "operator", "status", "--endpoint", srv.URL()); code != exitSealed || !strings.Contains(out, "Reason:       the PKCS#11 token refused the PIN") {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, _, errOut := runOperatorCLI(t, "", "operator", "unseal", "--endpoint", srv.URL()); code == 0 || !strings.Contains(errOut, "restart the server") {
		t.Fatalf("unseal after a refused PIN: %d %s", code, errOut)
	}
	stop(srv)

	// pkcs11 -> shamir, shares to files.
	shareDir := t.TempDir()
	out = migrate("", append([]string{"--to", "shamir", "--shares", "3", "--threshold", "2", "--share-dir", shareDir}, pkcs11Flags...)...)
	if !strings.Contains(out, "share-3") || !strings.Contains(out, "--seal shamir") {
		t.Fatalf("out: %s", out)
	}
	share := func(i string) string {
		b, err := os.ReadFile(filepath.Join(shareDir, "share-"+i))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if srv, err := start(server.Config{Seal: "pkcs11", PKCS11: token, PKCS11SealKeyLabel: "migrated"}); err == nil {
		stop(srv)
		t.Fatal("the pkcs11 seal still starts the server")
	}
	srv, err = start(server.Config{Seal: "shamir"})
	if err != nil || !srv.Sealed() {
		t.Fatalf("shamir start: %v", err)
	}
	for _, i := range []string{"1", "3"} {
		if code, out, errOut := runOperatorCLI(t, share(i), "operator", "unseal", "--endpoint", srv.URL()); code != 0 {
			t.Fatalf("unseal: %d %s %s", code, out, errOut)
		}
	}
	if srv.Sealed() {
		t.Fatal("still sealed after the new shares")
	}
	read(srv, *s.Id)
	stop(srv)

	// shamir -> key file: the current shares on standard input; one is not enough.
	k2 := filepath.Join(keys, "k2")
	if code, _, errOut := runOperatorCLI(t, share("2"), "operator", "migrate-seal", "--data-dir", dir, "--to", "key-file", "--new-key-file", k2); code != exitUsage || !strings.Contains(errOut, "2 current shares") {
		t.Fatalf("one share: %d %s", code, errOut)
	}
	migrate(share("2")+share("3"), "--to", "key-file", "--new-key-file", k2)
	srv, err = start(server.Config{UnsealKeyFile: k2})
	if err != nil || srv.Sealed() {
		t.Fatalf("key-file start: %v", err)
	}
	read(srv, *s.Id)
	stop(srv)

	for _, c := range []string{token.PIN, content, base64.StdEncoding.EncodeToString([]byte(content))} {
		if strings.Contains(logs.String(), c) {
			t.Errorf("canary %q logged", c)
		}
	}
}
