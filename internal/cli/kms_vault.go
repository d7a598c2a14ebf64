package cli

import (
	"context"
	"errors"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/spf13/cobra"
)

// kmsCommand is `coffer kms`: vaults and keys (management) and crypto
// operations, as `oci kms`.
func kmsCommand() *cobra.Command {
	kms := group("kms", "Key Management: vaults, master encryption keys and crypto operations",
		`  coffer kms management vault list --compartment-id $TENANCY
  coffer kms crypto encrypt --vault-id $VAULT --key-id $KEY --plaintext $(printf hi | base64)`,
		group("management", "Manage vaults, keys, key versions and wrapping keys",
			`  coffer kms management vault create --compartment-id $TENANCY --display-name app --vault-type DEFAULT
  coffer kms management key list --compartment-id $TENANCY --vault-id $VAULT`,
			kmsVaultCommand(), kmsKeyCommand(), kmsKeyVersionCommand(), kmsWrappingKeyCommand()),
		kmsCryptoCommand(),
	)
	return clientGroup(kms)
}

var vaultStates = []string{"CREATING", "ACTIVE", "DELETING", "DELETED", "PENDING_DELETION", "SCHEDULING_DELETION", "CANCELLING_DELETION", "UPDATING", "BACKUP_IN_PROGRESS", "RESTORING"}

// printResult prints a resource, including after a --wait-for-state that
// timed out (the last known state, then the error), as the oci CLI does.
func printResult(cmd *cobra.Command, g *globals, r response, err error) error {
	var we *waitError
	if err != nil && !errors.As(err, &we) {
		return err
	}
	if perr := g.print(cmd.OutOrStdout(), r); perr != nil {
		return perr
	}
	return err
}

// vaults is the vault resource of the KMS vault API.
var vaults = &resource[keymanagement.KmsVaultClient, keymanagement.Vault]{what: "vault", idFlag: "vault-id",
	get: func(ctx context.Context, c keymanagement.KmsVaultClient, id string) (keymanagement.Vault, *string, error) {
		r, err := c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: &id})
		return r.Vault, r.Etag, err
	},
	states: vaultStates,
	state:  func(v keymanagement.Vault) string { return string(v.LifecycleState) },
	id:     func(v keymanagement.Vault) *string { return v.Id }}

func kmsVaultCommand() *cobra.Command {
	return group("vault", "Vaults: containers of keys and secrets, each with its own management and crypto endpoint",
		`  coffer kms management vault get --vault-id $VAULT --query 'data."management-endpoint"' --raw-output`,
		vaultCreate(), vaultGet(), vaultList(), vaultUpdate(), vaultScheduleDeletion(), vaultCancelDeletion(), vaultGetUsage(),
		vaultBackup(), vaultRestore(), vaultCreateReplica(), vaultDeleteReplica(), vaultListReplicas(), vaultReplicationStatus())
}

func vaultCreate() *cobra.Command {
	var name, vaultType string
	cmd := createLeaf(vaults, "Create a vault",
		`  coffer kms management vault create --compartment-id $TENANCY --display-name payments --vault-type DEFAULT --wait-for-state ACTIVE`,
		"the OCID of the compartment for the vault [required]", []string{"compartment-id", "display-name", "vault-type"}, kmsVaultClient, withWait, nil,
		func(cmd *cobra.Command, c keymanagement.KmsVaultClient, a createArgs) (keymanagement.Vault, *string, error) {
			r, err := c.CreateVault(cmd.Context(), keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
				CompartmentId: &a.compartment, DisplayName: &name,
				VaultType:    keymanagement.CreateVaultDetailsVaultTypeEnum(vaultType),
				FreeformTags: a.freeform, DefinedTags: a.defined,
			}})
			return r.Vault, r.Etag, err
		})
	f := cmd.Flags()
	f.StringVar(&name, "display-name", "", "a name for the vault [required]")
	f.StringVar(&vaultType, "vault-type", "", "DEFAULT or VIRTUAL_PRIVATE [required]")
	_ = cmd.RegisterFlagCompletionFunc("vault-type", cobra.FixedCompletions([]string{"DEFAULT", "VIRTUAL_PRIVATE"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func vaultGet() *cobra.Command {
	return getLeaf(vaults, `  coffer kms management vault get --vault-id $VAULT`, kmsVaultClient)
}

func vaultList() *cobra.Command {
	var compartment string
	var l listFlags
	cmd := listLeaf("list", "List the vaults in a compartment",
		`  coffer kms management vault list --compartment-id $TENANCY --all --query "data[?\"lifecycle-state\"=='ACTIVE'].id"
  coffer kms management vault list --compartment-id $TENANCY --output table --query 'data[].{name:"display-name",id:id}'`,
		[]string{"compartment-id"}, &l, kmsVaultClient,
		func(cmd *cobra.Command, c keymanagement.KmsVaultClient, limit *int, page *string) ([]keymanagement.VaultSummary, *string, error) {
			r, err := c.ListVaults(cmd.Context(), keymanagement.ListVaultsRequest{CompartmentId: &compartment, Limit: limit, Page: page,
				SortBy: keymanagement.ListVaultsSortByEnum(l.sortBy), SortOrder: keymanagement.ListVaultsSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		}, "TIMECREATED", "DISPLAYNAME")
	cmd.Flags().StringVarP(&compartment, "compartment-id", "c", "", "the OCID of the compartment [required]")
	return cmd
}

// optString returns a pointer to v when the flag was given, nil otherwise,
// so that an update sends only what the user set.
func optString(cmd *cobra.Command, name, v string) *string {
	if cmd.Flags().Changed(name) {
		return common.String(v)
	}
	return nil
}

func vaultUpdate() *cobra.Command {
	var name string
	cmd := updateLeaf(vaults, "Update a vault's name or tags",
		`  coffer kms management vault update --vault-id $VAULT --display-name payments-prod`, kmsVaultClient, withWait, nil,
		func(cmd *cobra.Command, c keymanagement.KmsVaultClient, u updateArgs) (keymanagement.Vault, *string, error) {
			r, err := c.UpdateVault(cmd.Context(), keymanagement.UpdateVaultRequest{VaultId: &u.id, IfMatch: u.ifMatch,
				UpdateVaultDetails: keymanagement.UpdateVaultDetails{DisplayName: optString(cmd, "display-name", name), FreeformTags: u.freeform, DefinedTags: u.defined}})
			return r.Vault, r.Etag, err
		})
	cmd.Flags().StringVar(&name, "display-name", "", "a new name")
	return cmd
}

func vaultScheduleDeletion() *cobra.Command {
	var when deletionTime
	var d keymanagement.ScheduleVaultDeletionDetails
	cmd := actionLeaf(vaults, "schedule-deletion", "Schedule the deletion of a vault (7 to 30 days ahead; default 30)",
		`  coffer kms management vault schedule-deletion --vault-id $VAULT --time-of-deletion 2030-01-31T00:00:00Z`,
		[]string{"vault-id"}, kmsVaultClient,
		func(*cobra.Command) (err error) {
			d.TimeOfDeletion, err = when.parse()
			return err
		},
		func(ctx context.Context, c keymanagement.KmsVaultClient, id string, im *string) (keymanagement.Vault, *string, error) {
			r, err := c.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: &id, IfMatch: im, ScheduleVaultDeletionDetails: d})
			return r.Vault, r.Etag, err
		})
	when.add(cmd, "when to delete the vault (RFC 3339); default 30 days from now")
	return cmd
}

func vaultCancelDeletion() *cobra.Command {
	return actionLeaf(vaults, "cancel-deletion", "Cancel the scheduled deletion of a vault",
		`  coffer kms management vault cancel-deletion --vault-id $VAULT --wait-for-state ACTIVE`,
		[]string{"vault-id"}, kmsVaultClient, nil,
		func(ctx context.Context, c keymanagement.KmsVaultClient, id string, im *string) (keymanagement.Vault, *string, error) {
			r, err := c.CancelVaultDeletion(ctx, keymanagement.CancelVaultDeletionRequest{VaultId: &id, IfMatch: im})
			return r.Vault, r.Etag, err
		})
}

func vaultGetUsage() *cobra.Command {
	var id string
	cmd := leaf("get-usage", "Show how many keys and key versions a vault holds",
		`  coffer kms management vault get-usage --vault-id $VAULT --query 'data."key-count"'`,
		hints{}, []string{"vault-id"},
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, kmsVaultClient, func(ctx context.Context, c keymanagement.KmsVaultClient) (response, error) {
				r, err := c.GetVaultUsage(ctx, keymanagement.GetVaultUsageRequest{VaultId: &id})
				return response{data: r.VaultUsage}, err
			})
		})
	cmd.Flags().StringVar(&id, "vault-id", "", "the OCID of the vault [required]")
	return cmd
}
