package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsvault"
	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/pkg/securefile"
)

// envBackupKeyPassphrase holds the backup key file's passphrase for
// scripts; without it the passphrase is read without echo from the
// terminal, or from the first line of standard input.
const envBackupKeyPassphrase = "COFFER_BACKUP_KEY_PASSPHRASE"

// downloadBackup POSTs body to one of Coffer's backup download routes
// through an SDK base client (signed as every command) and writes the file
// it answers to the new file dst (0600).
func downloadBackup(ctx context.Context, cmd *cobra.Command, bc *common.BaseClient, path string, body any, dst string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := postJSON(ctx, bc, path, b)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	blob, err := io.ReadAll(io.LimitReader(resp.Body, kms.MaxBackupSize+1))
	if err != nil {
		return err
	}
	if _, err := securefile.Write(dst, blob, securefile.Options{Mode: 0o600}); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Backup written to %s (%d bytes).\n", dst, len(blob))
	return nil
}

// backupFlags are a backup command's destination: a local file or a
// pre-authenticated request URI the server writes to.
type backupFlags struct{ file, uri string }

func (f *backupFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.file, "file", "", "write the backup to this local file (created 0600; it must not exist)")
	cmd.Flags().StringVar(&f.uri, "uri", "", "have the server PUT the backup to this pre-authenticated request URI (the server must allow it with --backup-uri-prefix)")
}

func (f *backupFlags) check() error {
	if (f.file == "") == (f.uri == "") {
		return usageErrorf("pass one of --file and --uri")
	}
	if f.file != "" {
		if _, err := os.Lstat(f.file); err == nil {
			return usageErrorf("--file %s already exists", f.file)
		}
	}
	return nil
}

func readBackupFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, usageErrorf("--file: %v", err)
	}
	if fi.Size() > kms.MaxBackupSize {
		return nil, usageErrorf("--file %s is larger than a backup can be (%d bytes)", path, kms.MaxBackupSize)
	}
	return os.ReadFile(path)
}

func vaultBackup() *cobra.Command {
	var id string
	var includeKeys bool
	var dst backupFlags
	cmd := leaf("backup", "Back up a VIRTUAL_PRIVATE vault (with --include-keys, its keys and their material, encrypted under the backup key)",
		`  coffer kms management vault backup --vault-id $VAULT --include-keys --file vault.bak
  coffer kms management vault backup --vault-id $VAULT --uri "$PAR_URI"`,
		hints{}, []string{"vault-id"},
		func(cmd *cobra.Command, g *globals) error {
			if err := dst.check(); err != nil {
				return err
			}
			return send(cmd, g, kmsVaultClient, func(ctx context.Context, c keymanagement.KmsVaultClient) (response, error) {
				if dst.file != "" {
					if err := downloadBackup(ctx, cmd, &c.BaseClient, strings.Replace(kmsvault.DownloadVaultBackupPath, "{vaultId}", id, 1),
						map[string]bool{"isIncludeKeys": includeKeys}, dst.file); err != nil {
						return response{}, err
					}
					r, err := c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: &id})
					return response{data: r.Vault, etag: r.Etag}, err
				}
				r, err := c.BackupVault(ctx, keymanagement.BackupVaultRequest{VaultId: &id, BackupVaultDetails: keymanagement.BackupVaultDetails{
					BackupLocation: keymanagement.BackupLocationUri{Uri: &dst.uri}, IsIncludeKeys: &includeKeys}})
				return response{data: r.Vault, etag: r.Etag}, err
			})
		})
	cmd.Flags().StringVar(&id, "vault-id", "", "the OCID of the vault [required]")
	cmd.Flags().BoolVar(&includeKeys, "include-keys", false, "include the vault's keys, every version and its material")
	dst.add(cmd)
	return cmd
}

func vaultRestore() *cobra.Command {
	var compartment, file string
	cmd := leaf("restore", "Restore a vault (and the keys in its backup) from a backup file, with its OCIDs",
		`  coffer kms management vault restore --compartment-id $TENANCY --file vault.bak`,
		hints{}, []string{"compartment-id", "file"},
		func(cmd *cobra.Command, g *globals) error {
			blob, err := readBackupFile(file)
			if err != nil {
				return err
			}
			return send(cmd, g, kmsVaultClient, func(ctx context.Context, c keymanagement.KmsVaultClient) (response, error) {
				r, err := c.RestoreVaultFromFile(ctx, keymanagement.RestoreVaultFromFileRequest{CompartmentId: &compartment,
					ContentLength: common.Int64(int64(len(blob))), RestoreVaultFromFileDetails: io.NopCloser(bytes.NewReader(blob))})
				return response{data: r.Vault, etag: r.Etag}, err
			})
		})
	cmd.Flags().StringVarP(&compartment, "compartment-id", "c", "", "the OCID of the compartment to restore the vault into [required]")
	cmd.Flags().StringVar(&file, "file", "", "the backup file [required]")
	return cmd
}

func keyBackup() *cobra.Command {
	var vaultID, id string
	var dst backupFlags
	cmd := leaf("backup", "Back up a key with every version and its material, encrypted under the backup key",
		`  coffer kms management key backup --vault-id $VAULT --key-id $KEY --file key.bak`,
		hints{}, []string{"key-id"},
		func(cmd *cobra.Command, g *globals) error {
			if err := dst.check(); err != nil {
				return err
			}
			return send(cmd, g, managementClient(&vaultID), func(ctx context.Context, c keymanagement.KmsManagementClient) (response, error) {
				if dst.file != "" {
					if err := downloadBackup(ctx, cmd, &c.BaseClient, strings.Replace(kmsmgmt.DownloadKeyBackupPath, "{keyId}", id, 1), struct{}{}, dst.file); err != nil {
						return response{}, err
					}
					r, err := c.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: &id})
					return response{data: r.Key, etag: r.Etag}, err
				}
				r, err := c.BackupKey(ctx, keymanagement.BackupKeyRequest{KeyId: &id, BackupKeyDetails: keymanagement.BackupKeyDetails{
					BackupLocation: keymanagement.BackupLocationUri{Uri: &dst.uri}}})
				return response{data: r.Key, etag: r.Etag}, err
			})
		})
	vaultIDFlag(cmd, &vaultID)
	cmd.Flags().StringVar(&id, "key-id", "", "the OCID of the key [required]")
	dst.add(cmd)
	return cmd
}

func keyRestore() *cobra.Command {
	var vaultID, file string
	cmd := leaf("restore", "Restore a key from a backup file into its vault (restore the vault first if it is gone)",
		`  coffer kms management key restore --vault-id $VAULT --file key.bak`,
		hints{}, []string{"file"},
		func(cmd *cobra.Command, g *globals) error {
			blob, err := readBackupFile(file)
			if err != nil {
				return err
			}
			return send(cmd, g, managementClient(&vaultID), func(ctx context.Context, c keymanagement.KmsManagementClient) (response, error) {
				r, err := c.RestoreKeyFromFile(ctx, keymanagement.RestoreKeyFromFileRequest{
					ContentLength: common.Int64(int64(len(blob))), RestoreKeyFromFileDetails: io.NopCloser(bytes.NewReader(blob))})
				return response{data: r.Key, etag: r.Etag}, err
			})
		})
	vaultIDFlag(cmd, &vaultID)
	cmd.Flags().StringVar(&file, "file", "", "the backup file [required]")
	return cmd
}

// readBackupPassphrase reads the backup key file's passphrase from
// COFFER_BACKUP_KEY_PASSPHRASE, else without echo from the terminal, else
// from the first line of standard input; never from an argument.
func readBackupPassphrase(cmd *cobra.Command) (string, error) {
	if p := os.Getenv(envBackupKeyPassphrase); p != "" {
		return p, nil
	}
	b, err := readSharePrompt(cmd, "Backup key passphrase")
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	defer clear(b)
	if len(b) == 0 {
		return "", usageErrorf("no passphrase: set %s or type it", envBackupKeyPassphrase)
	}
	return string(b), nil
}

// operatorBackupKeyCommand is `coffer operator backup-key`: share the
// keyring's backup key between deployments.
func operatorBackupKeyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup-key",
		Short: "Export or import the backup key that seals vault and key backups",
		Long: `Vault and key backups are sealed under the keyring's backup key. To restore a
backup in another Coffer, export the key here and import it there: the file
holds the key wrapped under a passphrase (PBKDF2-SHA256, AES-256-GCM), read
from ` + envBackupKeyPassphrase + `, a hidden prompt or the first line of
standard input. The key never leaves the server in clear. Both need
POLICY_UPDATE in the tenancy. An import makes the imported key the one new
backups use; backups made under the keys held before still restore.`,
		Example: `  COFFER_BACKUP_KEY_PASSPHRASE=... coffer operator backup-key export --file backup.key
  COFFER_BACKUP_KEY_PASSPHRASE=... coffer operator backup-key import --file backup.key --endpoint https://other:8420`,
	}
	var exportFile, importFile string
	export := &cobra.Command{
		Use: "export --file FILE", Short: "Write the active backup key, wrapped under a passphrase, to a new file (0600)",
		Example: `  coffer operator backup-key export --file backup.key --profile ADMIN`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(g *globals) error {
				if exportFile == "" {
					return usageErrorf("--file is required")
				}
				if _, err := os.Lstat(exportFile); err == nil {
					return usageErrorf("--file %s already exists", exportFile)
				}
				pass, err := readBackupPassphrase(cmd)
				if err != nil {
					return err
				}
				var out sysapi.BackupKeyResponse
				if err := signedOperatorCall(cmd, g, sysapi.ExportBackupKeyPath, sysapi.ExportBackupKeyRequest{Passphrase: pass}, &out); err != nil {
					return err
				}
				if _, err := securefile.Write(exportFile, []byte(out.File), securefile.Options{Mode: 0o600}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Backup key %s written to %s.\n", out.KeyID, exportFile)
				return nil
			})
		},
	}
	export.Flags().StringVar(&exportFile, "file", "", "the file to write (must not exist) [required]")
	imp := &cobra.Command{
		Use: "import --file FILE", Short: "Add a backup key from a file export wrote; it seals new backups from now on",
		Example: `  COFFER_BACKUP_KEY_PASSPHRASE=... coffer operator backup-key import --file backup.key --endpoint https://other:8420`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(g *globals) error {
				if importFile == "" {
					return usageErrorf("--file is required")
				}
				file, err := os.ReadFile(importFile)
				if err != nil {
					return usageErrorf("--file: %v", err)
				}
				pass, err := readBackupPassphrase(cmd)
				if err != nil {
					return err
				}
				var out sysapi.BackupKeyResponse
				if err := signedOperatorCall(cmd, g, sysapi.ImportBackupKeyPath, sysapi.ImportBackupKeyRequest{File: string(file), Passphrase: pass}, &out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Backup key %s imported; it seals new backups.\n", out.KeyID)
				return nil
			})
		},
	}
	imp.Flags().StringVar(&importFile, "file", "", "the file export wrote [required]")
	cmd.AddCommand(export, imp)
	return cmd
}
