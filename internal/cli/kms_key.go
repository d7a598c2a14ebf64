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

// keys is the key resource of the KMS management API.
var keys = &resource[keymanagement.KmsManagementClient, keymanagement.Key]{what: "key", idFlag: "key-id",
	get: func(ctx context.Context, c keymanagement.KmsManagementClient, id string) (keymanagement.Key, *string, error) {
		r, err := c.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: &id})
		return r.Key, r.Etag, err
	},
	states: keyStates,
	state:  func(k keymanagement.Key) string { return string(k.LifecycleState) },
	id:     func(k keymanagement.Key) *string { return k.Id }}

func kmsKeyCommand() *cobra.Command {
	return group("key", "Master encryption keys (through the vault's management endpoint: --endpoint or --vault-id)",
		`  coffer kms management key create --vault-id $VAULT --compartment-id $TENANCY --display-name k1 --key-shape '{"algorithm":"AES","length":32}'`,
		keyCreate(), keyGet(), keyList(), keyUpdate(),
		keyAction("enable", "Enable a disabled key", "ENABLED"),
		keyAction("disable", "Disable a key: everything it protects becomes unreadable until it is enabled", "DISABLED"),
		keyScheduleDeletion(),
		keyAction("cancel-deletion", "Cancel the scheduled deletion of a key", "ENABLED"),
		keyBackup(), keyRestore(),
	)
}

func keyCreate() *cobra.Command {
	var vaultID, name, shape, mode string
	var ks keymanagement.KeyShape
	cmd := createLeaf(keys, "Create a master encryption key",
		`  coffer kms management key create --vault-id $VAULT --compartment-id $TENANCY --display-name app-key \
      --key-shape '{"algorithm":"AES","length":32}' --protection-mode SOFTWARE --wait-for-state ENABLED
  coffer kms management key create --endpoint $MGMT --compartment-id $TENANCY --display-name signer \
      --key-shape '{"algorithm":"ECDSA","length":32,"curveId":"NIST_P256"}'`,
		"the OCID of the compartment for the key [required]", []string{"compartment-id", "display-name", "key-shape"},
		managementClient(&vaultID), withWait,
		func(*cobra.Command) error {
			ks = keymanagement.KeyShape{}
			return parseJSONArg("key-shape", shape, &ks)
		},
		func(cmd *cobra.Command, c keymanagement.KmsManagementClient, a createArgs) (keymanagement.Key, *string, error) {
			r, err := c.CreateKey(cmd.Context(), keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
				CompartmentId: &a.compartment, DisplayName: &name, KeyShape: &ks,
				ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeEnum(mode),
				FreeformTags:   a.freeform, DefinedTags: a.defined,
			}})
			return r.Key, r.Etag, err
		})
	f := cmd.Flags()
	vaultIDFlag(cmd, &vaultID)
	f.StringVar(&name, "display-name", "", "a name for the key [required]")
	f.StringVar(&shape, "key-shape", "", `the key's algorithm and length in bytes, as JSON: {"algorithm":"AES","length":32} [required]`)
	f.StringVar(&mode, "protection-mode", "", "HSM or SOFTWARE (default HSM)")
	_ = cmd.RegisterFlagCompletionFunc("protection-mode", cobra.FixedCompletions([]string{"HSM", "SOFTWARE"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func keyGet() *cobra.Command {
	var vaultID string
	cmd := getLeaf(keys, `  coffer kms management key get --vault-id $VAULT --key-id $KEY
  coffer kms management key get --endpoint $MGMT --key-id $KEY --query 'data."current-key-version"' --raw-output`,
		managementClient(&vaultID))
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
	cmd := updateLeaf(keys, "Update a key's name or tags",
		`  coffer kms management key update --vault-id $VAULT --key-id $KEY --display-name app-key-2`, managementClient(&vaultID), withWait, nil,
		func(cmd *cobra.Command, c keymanagement.KmsManagementClient, u updateArgs) (keymanagement.Key, *string, error) {
			r, err := c.UpdateKey(cmd.Context(), keymanagement.UpdateKeyRequest{KeyId: &u.id, IfMatch: u.ifMatch,
				UpdateKeyDetails: keymanagement.UpdateKeyDetails{DisplayName: optString(cmd, "display-name", name), FreeformTags: u.freeform, DefinedTags: u.defined}})
			return r.Key, r.Etag, err
		})
	vaultIDFlag(cmd, &vaultID)
	cmd.Flags().StringVar(&name, "display-name", "", "a new name")
	return cmd
}

// keyActions are the POSTs on a key that answer with it and take nothing
// more than --key-id and --if-match.
var keyActions = map[string]func(ctx context.Context, c keymanagement.KmsManagementClient, id string, im *string) (keymanagement.Key, *string, error){
	"enable": func(ctx context.Context, c keymanagement.KmsManagementClient, id string, im *string) (keymanagement.Key, *string, error) {
		r, err := c.EnableKey(ctx, keymanagement.EnableKeyRequest{KeyId: &id, IfMatch: im})
		return r.Key, r.Etag, err
	},
	"disable": func(ctx context.Context, c keymanagement.KmsManagementClient, id string, im *string) (keymanagement.Key, *string, error) {
		r, err := c.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: &id, IfMatch: im})
		return r.Key, r.Etag, err
	},
	"cancel-deletion": func(ctx context.Context, c keymanagement.KmsManagementClient, id string, im *string) (keymanagement.Key, *string, error) {
		r, err := c.CancelKeyDeletion(ctx, keymanagement.CancelKeyDeletionRequest{KeyId: &id, IfMatch: im})
		return r.Key, r.Etag, err
	},
}

// keyAction is enable, disable and cancel-deletion.
func keyAction(use, short, state string) *cobra.Command {
	var vaultID string
	cmd := actionLeaf(keys, use, short,
		"  coffer kms management key "+use+" --vault-id $VAULT --key-id $KEY --wait-for-state "+state,
		[]string{"key-id"}, managementClient(&vaultID), nil, keyActions[use])
	vaultIDFlag(cmd, &vaultID)
	return cmd
}

func keyScheduleDeletion() *cobra.Command {
	var vaultID string
	var when deletionTime
	var d keymanagement.ScheduleKeyDeletionDetails
	cmd := actionLeaf(keys, "schedule-deletion", "Schedule the deletion of a key (7 to 30 days ahead; default 30)",
		`  coffer kms management key schedule-deletion --vault-id $VAULT --key-id $KEY --time-of-deletion 2030-01-31T00:00:00Z`,
		[]string{"key-id"}, managementClient(&vaultID),
		func(*cobra.Command) (err error) {
			d.TimeOfDeletion, err = when.parse()
			return err
		},
		func(ctx context.Context, c keymanagement.KmsManagementClient, id string, im *string) (keymanagement.Key, *string, error) {
			r, err := c.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: &id, IfMatch: im, ScheduleKeyDeletionDetails: d})
			return r.Key, r.Etag, err
		})
	vaultIDFlag(cmd, &vaultID)
	when.add(cmd, "when to delete the key (RFC 3339); default 30 days from now")
	return cmd
}

var keyVersionStates = []string{"CREATING", "ENABLED", "DISABLED", "DELETING", "DELETED", "PENDING_DELETION", "SCHEDULING_DELETION", "CANCELLING_DELETION"}

// keyVersions is the version resource of the key that --key-id names.
func keyVersions(keyID *string) *resource[keymanagement.KmsManagementClient, keymanagement.KeyVersion] {
	return &resource[keymanagement.KmsManagementClient, keymanagement.KeyVersion]{what: "key version", idFlag: "key-version-id",
		get: func(ctx context.Context, c keymanagement.KmsManagementClient, id string) (keymanagement.KeyVersion, *string, error) {
			r, err := c.GetKeyVersion(ctx, keymanagement.GetKeyVersionRequest{KeyId: keyID, KeyVersionId: &id})
			return r.KeyVersion, r.Etag, err
		},
		states: keyVersionStates,
		state:  func(v keymanagement.KeyVersion) string { return string(v.LifecycleState) },
		id:     func(v keymanagement.KeyVersion) *string { return v.Id }}
}

// keyIDFlag adds the --key-id of a key version command.
func keyIDFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "key-id", "", "the OCID of the key [required]")
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
	versions := keyVersions(&keyID)
	cmd := leaf("create", "Rotate a key: create a new version that becomes current",
		`  coffer kms management key-version create --vault-id $VAULT --key-id $KEY --query 'data.id' --raw-output`,
		hints{}, []string{"key-id"},
		func(cmd *cobra.Command, g *globals) error {
			return sendResource(cmd, g, versions, managementClient(&vaultID), &w, versions.id,
				func(ctx context.Context, c keymanagement.KmsManagementClient) (keymanagement.KeyVersion, *string, error) {
					r, err := c.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: &keyID})
					return r.KeyVersion, r.Etag, err
				})
		})
	vaultIDFlag(cmd, &vaultID)
	keyIDFlag(cmd, &keyID)
	w.add(cmd, keyVersionStates...)
	return cmd
}

func keyVersionGet() *cobra.Command {
	var vaultID, keyID, id string
	versions := keyVersions(&keyID)
	cmd := leaf("get", "Get a key version",
		`  coffer kms management key-version get --vault-id $VAULT --key-id $KEY --key-version-id $KV`,
		hints{}, []string{"key-id", "key-version-id"},
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, managementClient(&vaultID), func(ctx context.Context, c keymanagement.KmsManagementClient) (response, error) {
				v, etag, err := versions.get(ctx, c, id)
				return response{data: v, etag: etag}, err
			})
		})
	vaultIDFlag(cmd, &vaultID)
	keyIDFlag(cmd, &keyID)
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
	keyIDFlag(cmd, &keyID)
	return cmd
}

func keyVersionDeletion(use, short string) *cobra.Command {
	var vaultID, keyID string
	var when deletionTime
	var d keymanagement.ScheduleKeyVersionDeletionDetails
	schedule := use == "schedule-deletion"
	example := "  coffer kms management key-version " + use + " --vault-id $VAULT --key-id $KEY --key-version-id $KV"
	if schedule {
		example += " --time-of-deletion 2030-01-31"
	}
	cmd := actionLeaf(keyVersions(&keyID), use, short, example, []string{"key-id", "key-version-id"}, managementClient(&vaultID),
		func(*cobra.Command) (err error) {
			d.TimeOfDeletion, err = when.parse()
			return err
		},
		func(ctx context.Context, c keymanagement.KmsManagementClient, id string, im *string) (keymanagement.KeyVersion, *string, error) {
			if schedule {
				r, err := c.ScheduleKeyVersionDeletion(ctx, keymanagement.ScheduleKeyVersionDeletionRequest{KeyId: &keyID, KeyVersionId: &id,
					IfMatch: im, ScheduleKeyVersionDeletionDetails: d})
				return r.KeyVersion, r.Etag, err
			}
			r, err := c.CancelKeyVersionDeletion(ctx, keymanagement.CancelKeyVersionDeletionRequest{KeyId: &keyID, KeyVersionId: &id, IfMatch: im})
			return r.KeyVersion, r.Etag, err
		})
	vaultIDFlag(cmd, &vaultID)
	keyIDFlag(cmd, &keyID)
	if schedule {
		when.add(cmd, "when to delete the key version (RFC 3339); default 30 days from now")
	}
	return cmd
}

func kmsWrappingKeyCommand() *cobra.Command {
	var vaultID string
	get := leaf("get", "Get the vault's public RSA wrapping key, for importing keys",
		`  coffer kms management wrapping-key get --vault-id $VAULT --query 'data."public-key"' --raw-output > wrap.pem`,
		hints{}, nil,
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, managementClient(&vaultID), func(ctx context.Context, c keymanagement.KmsManagementClient) (response, error) {
				r, err := c.GetWrappingKey(ctx, keymanagement.GetWrappingKeyRequest{})
				return response{data: r.WrappingKey, etag: r.Etag}, err
			})
		})
	vaultIDFlag(get, &vaultID)
	return group("wrapping-key", "The vault's RSA wrapping key",
		`  coffer kms management wrapping-key get --vault-id $VAULT`, get)
}
