package examples_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/server"
)

// TestMain runs a dev server and sets the environment its instructions name
// (OCI_CONFIG_FILE, COFFER_ENDPOINT), plus VAULT_ID and KEY_ID for the
// examples that take them, so the examples run exactly as a reader would
// run them. Example functions have no *testing.T, hence TestMain.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "coffer-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	srv, err := server.Start(ctx, server.Config{
		Dev: true, DataDir: dir, Listen: "127.0.0.1:0",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start coffer:", err)
		return 1
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	}()
	vaultID, keyID, err := vaultAndKey(ctx, srv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for k, v := range map[string]string{
		"OCI_CONFIG_FILE": srv.ConfigPath, "COFFER_ENDPOINT": srv.URL(),
		"VAULT_ID": vaultID, "KEY_ID": keyID,
	} {
		if err := os.Setenv(k, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// vaultAndKey makes the vault and AES key the secret examples write under.
func vaultAndKey(ctx context.Context, srv *server.Server) (vaultID, keyID string, err error) {
	provider := common.CustomProfileConfigProvider(srv.ConfigPath, "DEFAULT")
	tenancy, err := provider.TenancyOCID()
	if err != nil {
		return "", "", err
	}
	vc, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(provider)
	if err != nil {
		return "", "", err
	}
	vc.Host = srv.URL()
	v, err := vc.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &tenancy, DisplayName: common.String("examples"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault,
	}})
	if err != nil {
		return "", "", fmt.Errorf("create vault: %w", err)
	}
	mc, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(provider, *v.ManagementEndpoint)
	if err != nil {
		return "", "", err
	}
	k, err := mc.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: &tenancy, DisplayName: common.String("examples"),
		KeyShape:       &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)},
		ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
	}})
	if err != nil {
		return "", "", fmt.Errorf("create key: %w", err)
	}
	return *v.Id, *k.Id, nil
}
