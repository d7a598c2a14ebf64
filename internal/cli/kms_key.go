package cli

import (
	"context"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/spf13/cobra"
)

var keyStates = []string{"CREATING", "ENABLING", "ENABLED", "DISABLING", "DISABLED", "DELETING", "DELETED", "PENDING_DELETION", "SCHEDULING_DELETION", "CANCELLING_DELETION", "UPDATING", "BACKUP_IN_PROGRESS", "RESTORING"}

// vaultIDFlag adds Coffer's --vault-id to a key or crypto command: the CLI
// looks the vault's endpoint up, so --endpoint is not needed.
func vaultIDFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "vault-id", "", "the OCID of the vault; its endpoint is looked up (instead of --endpoint)")
}

func keyFn(c keymanagement.KmsManagementClient, id string) func(context.Context) (keymanagement.Key, error) {
	return func(ctx context.Context) (keymanagement.Key, error) {
		resp, err := c.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: &id})
		return resp.Key, err
	}
}

func keyState(k keymanagement.Key) string { return string(k.LifecycleState) }

func kmsKeyCommand() *cobra.Command {
	return group("key", "Master encryption keys (through the vault's management endpoint: --endpoint or --vault-id)",
		`  coffer kms management key create --vault-id $VAULT --compartment-id $TENANCY --display-name k1 --key-shape '{"algorithm":"AES","length":32}'`,
		keyCreate(), keyGet(), keyList(), keyUpdate(),
		keyAction("enable", "Enable a disabled key", "ENABLED"),
		keyAction("disable", "Disable a key: everything it protects becomes unreadable until it is enabled", "DISABLED"),
		keyScheduleDeletion(),
		keyAction("cancel-deletion", "Cancel the scheduled deletion of a key", "ENABLED"),
	)
}

func keyCreate() *cobra.Command {
	var vaultID, compartment, name, shape, mode string
	var tags tagFlags
	var w waitFlags
	cmd := leaf("create", "Create a master encryption key",
		`  coffer kms management key create --vault-id $VAULT --compartment-id $TENANCY --display-name app-key \
      --key-shape '{"algorithm":"AES","length":32}' --protection-mode SOFTWARE --wait-for-state ENABLED
  coffer kms management key create --endpoint $MGMT --compartment-id $TENANCY --display-name signer \
      --key-shape '{"algorithm":"ECDSA","length":32,"curveId":"NIST_P256"}'`,
		hints{}, []string{"compartment-id", "display-name", "key-shape"},
		func(cmd *cobra.Command, g *globals) error {
			var ks keymanagement.KeyShape
			if err := parseJSONArg("key-shape", shape, &ks); err != nil {
				return err
			}
			ff, dt, err := tags.parse()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := g.kmsManagementClient(ctx, vaultID)
			if err != nil {
				return err
			}
			resp, err := c.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
				CompartmentId: &compartment, DisplayName: &name, KeyShape: &ks,
				ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeEnum(mode),
				FreeformTags:   ff, DefinedTags: dt,
			}})
			if err != nil {
				return err
			}
			return printWaited(cmd, g, &w, resp.Key, resp.Etag, keyState, keyFn(c, *resp.Id))
		})
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVarP(&compartment, "compartment-id", "c", "", "the OCID of the compartment for the key [required]")
	f.StringVar(&name, "display-name", "", "a name for the key [required]")
	f.StringVar(&shape, "key-shape", "", `the key's algorithm and length in bytes, as JSON: {"algorithm":"AES","length":32} [required]`)
	f.StringVar(&mode, "protection-mode", "", "HSM or SOFTWARE (default HSM)")
	_ = cmd.RegisterFlagCompletionFunc("protection-mode", cobra.FixedCompletions([]string{"HSM", "SOFTWARE"}, cobra.ShellCompDirectiveNoFileComp))
	tags.add(cmd)
	w.add(cmd, keyStates...)
	return cmd
}

func keyGet() *cobra.Command {
	var vaultID string
	cmd := getLeaf("key", "key-id", `  coffer kms management key get --vault-id $VAULT --key-id $KEY
  coffer kms management key get --endpoint $MGMT --key-id $KEY --query 'data."current-key-version"' --raw-output`,
		managementClient(&vaultID),
		func(ctx context.Context, c keymanagement.KmsManagementClient, id string) (keymanagement.Key, *string, error) {
			r, err := c.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: &id})
			return r.Key, r.Etag, err
		})
	vaultIDFlag(cmd, &vaultID)
	return cmd
}

func keyList() *cobra.Command {
	var vaultID, compartment, mode, alg, curve string
	var length int
	var l listFlags
	cmd := listLeaf("list", "List the keys of a vault in a compartment",
		`  coffer kms management key list --vault-id $VAULT --compartment-id $TENANCY --all --output table`,
		[]string{"compartment-id"}, &l, managementClient(&vaultID),
		func(cmd *cobra.Command, c keymanagement.KmsManagementClient, limit *int, page *string) ([]keymanagement.KeySummary, *string, error) {
			var lengthP *int
			if cmd.Flags().Changed("length") {
				lengthP = common.Int(length)
			}
			r, err := c.ListKeys(cmd.Context(), keymanagement.ListKeysRequest{CompartmentId: &compartment, Limit: limit, Page: page,
				SortBy: keymanagement.ListKeysSortByEnum(l.sortBy), SortOrder: keymanagement.ListKeysSortOrderEnum(l.sortOrder),
				ProtectionMode: keymanagement.ListKeysProtectionModeEnum(mode), Algorithm: keymanagement.ListKeysAlgorithmEnum(alg),
				Length: lengthP, CurveId: keymanagement.ListKeysCurveIdEnum(curve)})
			return r.Items, r.OpcNextPage, err
		}, "TIMECREATED", "DISPLAYNAME")
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVarP(&compartment, "compartment-id", "c", "", "the OCID of the compartment [required]")
	f.StringVar(&mode, "protection-mode", "", "only keys with this protection mode: HSM, SOFTWARE")
	f.StringVar(&alg, "algorithm", "", "only keys of this algorithm: AES, RSA, ECDSA")
	f.IntVar(&length, "length", 0, "only keys of this length in bytes")
	f.StringVar(&curve, "curve-id", "", "only ECDSA keys on this curve: NIST_P256, NIST_P384, NIST_P521")
	return cmd
}

func keyUpdate() *cobra.Command {
	var vaultID, name string
	cmd := updateLeaf("key-id", "key", "Update a key's name or tags",
		`  coffer kms management key update --vault-id $VAULT --key-id $KEY --display-name app-key-2`, managementClient(&vaultID),
		&waitable[keymanagement.KmsManagementClient, keymanagement.Key]{keyStates, keyState, keyFn},
		func(cmd *cobra.Command, c keymanagement.KmsManagementClient, u updateArgs) (keymanagement.Key, *string, error) {
			r, err := c.UpdateKey(cmd.Context(), keymanagement.UpdateKeyRequest{KeyId: &u.id, IfMatch: u.ifMatch,
				UpdateKeyDetails: keymanagement.UpdateKeyDetails{DisplayName: optString(cmd, "display-name", name), FreeformTags: u.freeform, DefinedTags: u.defined}})
			return r.Key, r.Etag, err
		})
	vaultIDFlag(cmd, &vaultID)
	cmd.Flags().StringVar(&name, "display-name", "", "a new name")
	return cmd
}

// keyAction is enable, disable and cancel-deletion: a POST on the key that
// returns it.
func keyAction(use, short, state string) *cobra.Command {
	var vaultID, id, ifMatch string
	var w waitFlags
	cmd := leaf(use, short,
		"  coffer kms management key "+use+" --vault-id $VAULT --key-id $KEY --wait-for-state "+state,
		hints{}, []string{"key-id"},
		func(cmd *cobra.Command, g *globals) error {
			ctx := cmd.Context()
			c, err := g.kmsManagementClient(ctx, vaultID)
			if err != nil {
				return err
			}
			var k keymanagement.Key
			var etag *string
			im := optString(cmd, "if-match", ifMatch)
			switch use {
			case "enable":
				resp, e := c.EnableKey(ctx, keymanagement.EnableKeyRequest{KeyId: &id, IfMatch: im})
				k, etag, err = resp.Key, resp.Etag, e
			case "disable":
				resp, e := c.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: &id, IfMatch: im})
				k, etag, err = resp.Key, resp.Etag, e
			default:
				resp, e := c.CancelKeyDeletion(ctx, keymanagement.CancelKeyDeletionRequest{KeyId: &id, IfMatch: im})
				k, etag, err = resp.Key, resp.Etag, e
			}
			if err != nil {
				return err
			}
			return printWaited(cmd, g, &w, k, etag, keyState, keyFn(c, id))
		})
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVar(&id, "key-id", "", "the OCID of the key [required]")
	f.StringVar(&ifMatch, "if-match", "", "act only if the etag matches")
	w.add(cmd, keyStates...)
	return cmd
}

func keyScheduleDeletion() *cobra.Command {
	var vaultID, id, when, ifMatch string
	var w waitFlags
	cmd := leaf("schedule-deletion", "Schedule the deletion of a key (7 to 30 days ahead; default 30)",
		`  coffer kms management key schedule-deletion --vault-id $VAULT --key-id $KEY --time-of-deletion 2030-01-31T00:00:00Z`,
		hints{}, []string{"key-id"},
		func(cmd *cobra.Command, g *globals) error {
			var details keymanagement.ScheduleKeyDeletionDetails
			if when != "" {
				t, err := parseTime("time-of-deletion", when)
				if err != nil {
					return err
				}
				details.TimeOfDeletion = t
			}
			ctx := cmd.Context()
			c, err := g.kmsManagementClient(ctx, vaultID)
			if err != nil {
				return err
			}
			resp, err := c.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: &id,
				IfMatch: optString(cmd, "if-match", ifMatch), ScheduleKeyDeletionDetails: details})
			if err != nil {
				return err
			}
			return printWaited(cmd, g, &w, resp.Key, resp.Etag, keyState, keyFn(c, id))
		})
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVar(&id, "key-id", "", "the OCID of the key [required]")
	f.StringVar(&when, "time-of-deletion", "", "when to delete the key (RFC 3339); default 30 days from now")
	f.StringVar(&ifMatch, "if-match", "", "act only if the etag matches")
	w.add(cmd, keyStates...)
	return cmd
}

var keyVersionStates = []string{"CREATING", "ENABLED", "DISABLED", "DELETING", "DELETED", "PENDING_DELETION", "SCHEDULING_DELETION", "CANCELLING_DELETION"}

func keyVersionState(v keymanagement.KeyVersion) string { return string(v.LifecycleState) }

func keyVersionFn(c keymanagement.KmsManagementClient, keyID, id string) func(context.Context) (keymanagement.KeyVersion, error) {
	return func(ctx context.Context) (keymanagement.KeyVersion, error) {
		resp, err := c.GetKeyVersion(ctx, keymanagement.GetKeyVersionRequest{KeyId: &keyID, KeyVersionId: &id})
		return resp.KeyVersion, err
	}
}

func kmsKeyVersionCommand() *cobra.Command {
	return group("key-version", "Key versions: rotate a key, list and retire its versions",
		`  coffer kms management key-version create --vault-id $VAULT --key-id $KEY`,
		keyVersionCreate(), keyVersionGet(), keyVersionList(),
		keyVersionDeletion("schedule-deletion", "Schedule the deletion of a key version"),
		keyVersionDeletion("cancel-deletion", "Cancel the scheduled deletion of a key version"),
	)
}

func keyVersionCreate() *cobra.Command {
	var vaultID, keyID string
	var w waitFlags
	cmd := leaf("create", "Rotate a key: create a new version that becomes current",
		`  coffer kms management key-version create --vault-id $VAULT --key-id $KEY --query 'data.id' --raw-output`,
		hints{}, []string{"key-id"},
		func(cmd *cobra.Command, g *globals) error {
			ctx := cmd.Context()
			c, err := g.kmsManagementClient(ctx, vaultID)
			if err != nil {
				return err
			}
			resp, err := c.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: &keyID})
			if err != nil {
				return err
			}
			return printWaited(cmd, g, &w, resp.KeyVersion, resp.Etag, keyVersionState, keyVersionFn(c, keyID, *resp.Id))
		})
	vaultIDFlag(cmd, &vaultID)
	cmd.Flags().StringVar(&keyID, "key-id", "", "the OCID of the key [required]")
	w.add(cmd, keyVersionStates...)
	return cmd
}

func keyVersionGet() *cobra.Command {
	var vaultID, keyID, id string
	cmd := leaf("get", "Get a key version",
		`  coffer kms management key-version get --vault-id $VAULT --key-id $KEY --key-version-id $KV`,
		hints{}, []string{"key-id", "key-version-id"},
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.kmsManagementClient(cmd.Context(), vaultID)
			if err != nil {
				return err
			}
			resp, err := c.GetKeyVersion(cmd.Context(), keymanagement.GetKeyVersionRequest{KeyId: &keyID, KeyVersionId: &id})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: resp.KeyVersion, etag: resp.Etag})
		})
	vaultIDFlag(cmd, &vaultID)
	cmd.Flags().StringVar(&keyID, "key-id", "", "the OCID of the key [required]")
	cmd.Flags().StringVar(&id, "key-version-id", "", "the OCID of the key version [required]")
	return cmd
}

func keyVersionList() *cobra.Command {
	var vaultID, keyID string
	var l listFlags
	cmd := listLeaf("list", "List the versions of a key",
		`  coffer kms management key-version list --vault-id $VAULT --key-id $KEY --all --query 'length(data)'`,
		[]string{"key-id"}, &l, managementClient(&vaultID),
		func(cmd *cobra.Command, c keymanagement.KmsManagementClient, limit *int, page *string) ([]keymanagement.KeyVersionSummary, *string, error) {
			r, err := c.ListKeyVersions(cmd.Context(), keymanagement.ListKeyVersionsRequest{KeyId: &keyID, Limit: limit, Page: page,
				SortBy: keymanagement.ListKeyVersionsSortByEnum(l.sortBy), SortOrder: keymanagement.ListKeyVersionsSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		}, "TIMECREATED", "DISPLAYNAME")
	vaultIDFlag(cmd, &vaultID)
	cmd.Flags().StringVar(&keyID, "key-id", "", "the OCID of the key [required]")
	return cmd
}

func keyVersionDeletion(use, short string) *cobra.Command {
	var vaultID, keyID, id, when, ifMatch string
	var w waitFlags
	example := "  coffer kms management key-version " + use + " --vault-id $VAULT --key-id $KEY --key-version-id $KV"
	if use == "schedule-deletion" {
		example += " --time-of-deletion 2030-01-31"
	}
	cmd := leaf(use, short, example, hints{}, []string{"key-id", "key-version-id"},
		func(cmd *cobra.Command, g *globals) error {
			ctx := cmd.Context()
			var details keymanagement.ScheduleKeyVersionDeletionDetails
			if when != "" {
				t, err := parseTime("time-of-deletion", when)
				if err != nil {
					return err
				}
				details.TimeOfDeletion = t
			}
			c, err := g.kmsManagementClient(ctx, vaultID)
			if err != nil {
				return err
			}
			im := optString(cmd, "if-match", ifMatch)
			var v keymanagement.KeyVersion
			var etag *string
			if use == "schedule-deletion" {
				resp, e := c.ScheduleKeyVersionDeletion(ctx, keymanagement.ScheduleKeyVersionDeletionRequest{KeyId: &keyID, KeyVersionId: &id,
					IfMatch: im, ScheduleKeyVersionDeletionDetails: details})
				v, etag, err = resp.KeyVersion, resp.Etag, e
			} else {
				resp, e := c.CancelKeyVersionDeletion(ctx, keymanagement.CancelKeyVersionDeletionRequest{KeyId: &keyID, KeyVersionId: &id, IfMatch: im})
				v, etag, err = resp.KeyVersion, resp.Etag, e
			}
			if err != nil {
				return err
			}
			return printWaited(cmd, g, &w, v, etag, keyVersionState, keyVersionFn(c, keyID, id))
		})
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVar(&keyID, "key-id", "", "the OCID of the key [required]")
	f.StringVar(&id, "key-version-id", "", "the OCID of the key version [required]")
	if use == "schedule-deletion" {
		f.StringVar(&when, "time-of-deletion", "", "when to delete the key version (RFC 3339); default 30 days from now")
	}
	f.StringVar(&ifMatch, "if-match", "", "act only if the etag matches")
	w.add(cmd, keyVersionStates...)
	return cmd
}

func kmsWrappingKeyCommand() *cobra.Command {
	var vaultID string
	get := leaf("get", "Get the vault's public RSA wrapping key, for importing keys",
		`  coffer kms management wrapping-key get --vault-id $VAULT --query 'data."public-key"' --raw-output > wrap.pem`,
		hints{}, nil,
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.kmsManagementClient(cmd.Context(), vaultID)
			if err != nil {
				return err
			}
			resp, err := c.GetWrappingKey(cmd.Context(), keymanagement.GetWrappingKeyRequest{})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: resp.WrappingKey, etag: resp.Etag})
		})
	vaultIDFlag(get, &vaultID)
	return group("wrapping-key", "The vault's RSA wrapping key",
		`  coffer kms management wrapping-key get --vault-id $VAULT`, get)
}
