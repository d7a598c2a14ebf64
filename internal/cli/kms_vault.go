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

func getVaultFn(c keymanagement.KmsVaultClient, id string) func(context.Context) (keymanagement.Vault, error) {
	return func(ctx context.Context) (keymanagement.Vault, error) {
		resp, err := c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: &id})
		return resp.Vault, err
	}
}

func vaultState(v keymanagement.Vault) string { return string(v.LifecycleState) }

func kmsVaultCommand() *cobra.Command {
	return group("vault", "Vaults: containers of keys and secrets, each with its own management and crypto endpoint",
		`  coffer kms management vault get --vault-id $VAULT --query 'data."management-endpoint"' --raw-output`,
		vaultCreate(), vaultGet(), vaultList(), vaultUpdate(), vaultScheduleDeletion(), vaultCancelDeletion(), vaultGetUsage())
}

func vaultCreate() *cobra.Command {
	var compartment, name, vaultType string
	var tags tagFlags
	var w waitFlags
	cmd := leaf("create", "Create a vault",
		`  coffer kms management vault create --compartment-id $TENANCY --display-name payments --vault-type DEFAULT --wait-for-state ACTIVE`,
		hints{}, []string{"compartment-id", "display-name", "vault-type"},
		func(cmd *cobra.Command, g *globals) error {
			ff, dt, err := tags.parse()
			if err != nil {
				return err
			}
			c, err := g.kmsVaultClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			resp, err := c.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
				CompartmentId: &compartment, DisplayName: &name,
				VaultType:    keymanagement.CreateVaultDetailsVaultTypeEnum(vaultType),
				FreeformTags: ff, DefinedTags: dt,
			}})
			if err != nil {
				return err
			}
			return printWaited(cmd, g, &w, resp.Vault, resp.Etag, vaultState, getVaultFn(c, *resp.Id))
		})
	f := cmd.Flags()
	f.StringVarP(&compartment, "compartment-id", "c", "", "the OCID of the compartment for the vault [required]")
	f.StringVar(&name, "display-name", "", "a name for the vault [required]")
	f.StringVar(&vaultType, "vault-type", "", "DEFAULT or VIRTUAL_PRIVATE [required]")
	_ = cmd.RegisterFlagCompletionFunc("vault-type", cobra.FixedCompletions([]string{"DEFAULT", "VIRTUAL_PRIVATE"}, cobra.ShellCompDirectiveNoFileComp))
	tags.add(cmd)
	w.add(cmd, vaultStates...)
	return cmd
}

func vaultGet() *cobra.Command {
	return getLeaf("vault", "vault-id", `  coffer kms management vault get --vault-id $VAULT`, kmsVaultClient,
		func(ctx context.Context, c keymanagement.KmsVaultClient, id string) (keymanagement.Vault, *string, error) {
			r, err := c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: &id})
			return r.Vault, r.Etag, err
		})
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

// vaultWait polls a vault for --wait-for-state.
var vaultWait = &waitable[keymanagement.KmsVaultClient, keymanagement.Vault]{vaultStates, vaultState, getVaultFn}

func vaultUpdate() *cobra.Command {
	var name string
	cmd := updateLeaf("vault-id", "vault", "Update a vault's name or tags",
		`  coffer kms management vault update --vault-id $VAULT --display-name payments-prod`, kmsVaultClient, vaultWait,
		func(cmd *cobra.Command, c keymanagement.KmsVaultClient, u updateArgs) (keymanagement.Vault, *string, error) {
			r, err := c.UpdateVault(cmd.Context(), keymanagement.UpdateVaultRequest{VaultId: &u.id, IfMatch: u.ifMatch,
				UpdateVaultDetails: keymanagement.UpdateVaultDetails{DisplayName: optString(cmd, "display-name", name), FreeformTags: u.freeform, DefinedTags: u.defined}})
			return r.Vault, r.Etag, err
		})
	cmd.Flags().StringVar(&name, "display-name", "", "a new name")
	return cmd
}

func vaultScheduleDeletion() *cobra.Command {
	var id, when, ifMatch string
	var w waitFlags
	cmd := leaf("schedule-deletion", "Schedule the deletion of a vault (7 to 30 days ahead; default 30)",
		`  coffer kms management vault schedule-deletion --vault-id $VAULT --time-of-deletion 2030-01-31T00:00:00Z`,
		hints{}, []string{"vault-id"},
		func(cmd *cobra.Command, g *globals) error {
			var details keymanagement.ScheduleVaultDeletionDetails
			if when != "" {
				t, err := parseTime("time-of-deletion", when)
				if err != nil {
					return err
				}
				details.TimeOfDeletion = t
			}
			c, err := g.kmsVaultClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			resp, err := c.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: &id,
				IfMatch: optString(cmd, "if-match", ifMatch), ScheduleVaultDeletionDetails: details})
			if err != nil {
				return err
			}
			return printWaited(cmd, g, &w, resp.Vault, resp.Etag, vaultState, getVaultFn(c, id))
		})
	f := cmd.Flags()
	f.StringVar(&id, "vault-id", "", "the OCID of the vault [required]")
	f.StringVar(&when, "time-of-deletion", "", "when to delete the vault (RFC 3339); default 30 days from now")
	f.StringVar(&ifMatch, "if-match", "", "act only if the etag matches")
	w.add(cmd, vaultStates...)
	return cmd
}

func vaultCancelDeletion() *cobra.Command {
	var id, ifMatch string
	var w waitFlags
	cmd := leaf("cancel-deletion", "Cancel the scheduled deletion of a vault",
		`  coffer kms management vault cancel-deletion --vault-id $VAULT --wait-for-state ACTIVE`,
		hints{}, []string{"vault-id"},
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.kmsVaultClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			resp, err := c.CancelVaultDeletion(ctx, keymanagement.CancelVaultDeletionRequest{VaultId: &id, IfMatch: optString(cmd, "if-match", ifMatch)})
			if err != nil {
				return err
			}
			return printWaited(cmd, g, &w, resp.Vault, resp.Etag, vaultState, getVaultFn(c, id))
		})
	f := cmd.Flags()
	f.StringVar(&id, "vault-id", "", "the OCID of the vault [required]")
	f.StringVar(&ifMatch, "if-match", "", "act only if the etag matches")
	w.add(cmd, vaultStates...)
	return cmd
}

func vaultGetUsage() *cobra.Command {
	var id string
	cmd := leaf("get-usage", "Show how many keys and key versions a vault holds",
		`  coffer kms management vault get-usage --vault-id $VAULT --query 'data."key-count"'`,
		hints{}, []string{"vault-id"},
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.kmsVaultClient()
			if err != nil {
				return err
			}
			resp, err := c.GetVaultUsage(cmd.Context(), keymanagement.GetVaultUsageRequest{VaultId: &id})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: resp.VaultUsage})
		})
	cmd.Flags().StringVar(&id, "vault-id", "", "the OCID of the vault [required]")
	return cmd
}
