package cli

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/vault"
	"github.com/spf13/cobra"
)

// vaultCommand is `coffer vault`: secret management, as `oci vault`.
// Nothing here prints secret content: the Secret and SecretVersion models
// carry none (reading content is `coffer secrets secret-bundle`).
func vaultCommand() *cobra.Command {
	v := group("vault", "Secrets: create, update (new versions), list and retire secrets",
		`  coffer vault secret create-base64 -c $TENANCY --vault-id $VAULT --key-id $KEY --secret-name db-password --secret-content-file ./pw.txt
  coffer vault secret-version list --secret-id $SECRET --output table`,
		group("secret", "Secrets (content is never printed here; see coffer secrets secret-bundle)",
			`  coffer vault secret list -c $TENANCY --vault-id $VAULT --all --query 'data[]."secret-name"'`,
			secretCreate(), secretUpdate(), secretGet(), secretList(),
			secretDeletion("schedule-secret-deletion", "Schedule the deletion of a secret and all its versions"),
			secretDeletion("cancel-secret-deletion", "Cancel the scheduled deletion of a secret"),
			secretChangeCompartment(), secretRotate(), secretCancelRotation()),
		group("secret-version", "Secret versions: their numbers, stages and deletion",
			`  coffer vault secret-version get --secret-id $SECRET --secret-version-number 1`,
			secretVersionList(), secretVersionGet(),
			secretVersionDeletion("schedule-deletion", "Schedule the deletion of a secret version (not the current one)"),
			secretVersionDeletion("cancel-deletion", "Cancel the scheduled deletion of a secret version")),
	)
	return clientGroup(v)
}

var secretStates = []string{"CREATING", "ACTIVE", "UPDATING", "DELETING", "DELETED", "SCHEDULING_DELETION", "PENDING_DELETION", "CANCELLING_DELETION", "FAILED"}

// vaultSecrets is the secret resource of the vaults API.
var vaultSecrets = &resource[vault.VaultsClient, vault.Secret]{what: "secret", idFlag: "secret-id",
	get: func(ctx context.Context, c vault.VaultsClient, id string) (vault.Secret, *string, error) {
		r, err := c.GetSecret(ctx, vault.GetSecretRequest{SecretId: &id})
		return r.Secret, r.Etag, err
	},
	states: secretStates,
	state:  func(s vault.Secret) string { return string(s.LifecycleState) },
	id:     func(s vault.Secret) *string { return s.Id }}

// contentFlags are the secret content options of create-base64 and
// update-base64.
type contentFlags struct {
	content, file, name, stage string
}

func (c *contentFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.content, "secret-content-content", "", "the content, base64 (visible to other users of the machine: prefer --secret-content-file)")
	f.StringVar(&c.file, "secret-content-file", "", "a file holding the raw content (sent exactly, newline included), or - for stdin; the CLI base64-encodes it")
	f.StringVar(&c.name, "secret-content-name", "", "a name for this version of the secret")
	f.StringVar(&c.stage, "secret-content-stage", "", "CURRENT (default) or PENDING")
	_ = cmd.RegisterFlagCompletionFunc("secret-content-stage", cobra.FixedCompletions([]string{"CURRENT", "PENDING"}, cobra.ShellCompDirectiveNoFileComp))
}

func (c *contentFlags) details(cmd *cobra.Command) (vault.SecretContentDetails, error) {
	b64, err := sensitiveInput(cmd, "secret-content-content", c.content, "secret-content-file", c.file)
	if err != nil {
		return nil, err
	}
	return vault.Base64SecretContentDetails{Content: &b64, Name: optString(cmd, "secret-content-name", c.name),
		Stage: vault.SecretContentDetailsStageEnum(c.stage)}, nil
}

// secretExtras are the options that the SDK decodes polymorphically
// (--secret-rules, --secret-generation-context, --rotation-config) or as
// free JSON (--metadata).
type secretExtras struct {
	rules, metadata, description, generation, rotation, autoGenerate string
}

func (s *secretExtras) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.description, "description", "", "a description of the secret")
	f.StringVar(&s.metadata, "metadata", "", `metadata as a JSON object, e.g. '{"owner":"payments"}'`)
	f.StringVar(&s.rules, "secret-rules", "", `rules as JSON, e.g. '[{"ruleType":"SECRET_REUSE_RULE","isEnforcedOnDeletedSecretVersions":true}]'`)
	f.StringVar(&s.autoGenerate, "enable-auto-generation", "", "true: the service generates the content (from --secret-generation-context), at creation and at each rotation")
	f.StringVar(&s.generation, "secret-generation-context", "", `how to generate content, as JSON, e.g. '{"generationType":"PASSPHRASE","generationTemplate":"SECRETS_DEFAULT_PASSWORD","passphraseLength":24}'`)
	f.StringVar(&s.rotation, "rotation-config", "", `scheduled rotation as JSON, e.g. '{"rotationInterval":"P30D","isScheduledRotationEnabled":true}' (Coffer rotates generated secrets itself: no targetSystemDetails)`)
	_ = cmd.RegisterFlagCompletionFunc("enable-auto-generation", cobra.FixedCompletions([]string{"true", "false"}, cobra.ShellCompDirectiveNoFileComp))
}

// parse decodes the options into an UpdateSecretDetails (whose fields
// CreateSecretDetails shares) through the SDK's own UnmarshalJSON, which
// knows the rule, generation and target types.
func (s *secretExtras) parse(cmd *cobra.Command) (vault.UpdateSecretDetails, error) {
	var d vault.UpdateSecretDetails
	raw := map[string]json.RawMessage{}
	for _, o := range []struct {
		flag, field, value string
		dst                any
	}{
		{"metadata", "metadata", s.metadata, &map[string]any{}},
		{"secret-rules", "secretRules", s.rules, &[]json.RawMessage{}},
		{"secret-generation-context", "secretGenerationContext", s.generation, &map[string]any{}},
		{"rotation-config", "rotationConfig", s.rotation, &map[string]any{}},
	} {
		if o.value == "" {
			continue
		}
		if err := parseJSONArg(o.flag, o.value, o.dst); err != nil {
			return d, err
		}
		raw[o.field], _ = json.Marshal(o.dst)
		// Decoded alone first, so that an error names its option.
		one, _ := json.Marshal(map[string]json.RawMessage{o.field: raw[o.field]})
		if err := json.Unmarshal(one, &d); err != nil {
			return d, usageErrorf("--%s: %v", o.flag, err)
		}
	}
	doc, _ := json.Marshal(raw)
	if err := json.Unmarshal(doc, &d); err != nil {
		return d, usageErrorf("secret options: %v", err)
	}
	if s.rules == "" {
		// The SDK decodes an absent list as an empty one, which an update
		// would send as "remove every rule".
		d.SecretRules = nil
	}
	if s.autoGenerate != "" {
		b, err := strconv.ParseBool(s.autoGenerate)
		if err != nil {
			return d, usageErrorf("--enable-auto-generation must be true or false, not %q", s.autoGenerate)
		}
		d.EnableAutoGeneration = &b
	}
	d.Description = optString(cmd, "description", s.description)
	return d, nil
}

// contentGiven reports whether the command was given secret content.
func contentGiven(cmd *cobra.Command) bool {
	return cmd.Flags().Changed("secret-content-content") || cmd.Flags().Changed("secret-content-file")
}

func secretCreate() *cobra.Command {
	var vaultID, keyID, name string
	var content contentFlags
	var extras secretExtras
	var x vault.UpdateSecretDetails
	var sc vault.SecretContentDetails
	cmd := createLeaf(vaultSecrets, "Create a secret with its first version",
		`  coffer vault secret create-base64 -c $TENANCY --vault-id $VAULT --key-id $KEY --secret-name db-password --secret-content-file ./pw.txt
  printf '%s' "$PW" | coffer vault secret create-base64 -c $TENANCY --vault-id $VAULT --key-id $KEY --secret-name db-password --secret-content-file -`,
		"the OCID of the compartment for the secret [required]", []string{"compartment-id", "vault-id", "key-id", "secret-name"},
		vaultsClient, withWait,
		func(cmd *cobra.Command) (err error) {
			if x, err = extras.parse(cmd); err != nil {
				return err
			}
			sc = nil
			// Generated secrets take no content.
			if contentGiven(cmd) || x.EnableAutoGeneration == nil || !*x.EnableAutoGeneration {
				sc, err = content.details(cmd)
			}
			return err
		},
		func(cmd *cobra.Command, c vault.VaultsClient, a createArgs) (vault.Secret, *string, error) {
			r, err := c.CreateSecret(cmd.Context(), vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
				CompartmentId: &a.compartment, VaultId: &vaultID, KeyId: &keyID, SecretName: &name, SecretContent: sc,
				Description: x.Description, Metadata: x.Metadata, SecretRules: x.SecretRules,
				EnableAutoGeneration: x.EnableAutoGeneration, SecretGenerationContext: x.SecretGenerationContext,
				RotationConfig: x.RotationConfig, FreeformTags: a.freeform, DefinedTags: a.defined,
			}})
			return r.Secret, r.Etag, err
		})
	cmd.Use = "create-base64"
	f := cmd.Flags()
	f.StringVar(&vaultID, "vault-id", "", "the OCID of the vault [required]")
	f.StringVar(&keyID, "key-id", "", "the OCID of the vault's master encryption key that protects the secret [required]")
	f.StringVar(&name, "secret-name", "", "a name, unique in the vault [required]")
	content.add(cmd)
	extras.add(cmd)
	return cmd
}

func secretUpdate() *cobra.Command {
	var current int64
	var content contentFlags
	var extras secretExtras
	var d vault.UpdateSecretDetails
	cmd := updateLeaf(vaultSecrets, "Update a secret: new content makes a new version (the OCID stays)",
		`  coffer vault secret update-base64 --secret-id $SECRET --secret-content-file ./new-pw.txt
  coffer vault secret update-base64 --secret-id $SECRET --secret-content-file - --secret-content-stage PENDING < new-pw.txt
  coffer vault secret update-base64 --secret-id $SECRET --current-version-number 1   # roll back`,
		vaultsClient, withWait,
		func(cmd *cobra.Command) (err error) {
			if d, err = extras.parse(cmd); err != nil {
				return err
			}
			if contentGiven(cmd) {
				d.SecretContent, err = content.details(cmd)
			}
			return err
		},
		func(cmd *cobra.Command, c vault.VaultsClient, u updateArgs) (vault.Secret, *string, error) {
			d.FreeformTags, d.DefinedTags = u.freeform, u.defined
			if cmd.Flags().Changed("current-version-number") {
				d.CurrentVersionNumber = common.Int64(current)
			}
			r, err := c.UpdateSecret(cmd.Context(), vault.UpdateSecretRequest{SecretId: &u.id, IfMatch: u.ifMatch, UpdateSecretDetails: d})
			return r.Secret, r.Etag, err
		})
	cmd.Use = "update-base64"
	cmd.Flags().Int64Var(&current, "current-version-number", 0, "make this existing version current (rollback)")
	content.add(cmd)
	extras.add(cmd)
	return cmd
}

func secretGet() *cobra.Command {
	cmd := getLeaf(vaultSecrets, `  coffer vault secret get --secret-id $SECRET --query 'data."current-version-number"'`, vaultsClient)
	cmd.Short = "Get a secret's metadata (never its content)"
	return cmd
}

func secretList() *cobra.Command {
	var compartment, name, vaultID, state string
	var l listFlags
	cmd := listLeaf("list", "List the secrets in a compartment",
		`  coffer vault secret list -c $TENANCY --vault-id $VAULT --all --output table --query 'data[].{name:"secret-name",state:"lifecycle-state"}'`,
		[]string{"compartment-id"}, &l, vaultsClient,
		func(cmd *cobra.Command, c vault.VaultsClient, limit *int, page *string) ([]vault.SecretSummary, *string, error) {
			r, err := c.ListSecrets(cmd.Context(), vault.ListSecretsRequest{CompartmentId: &compartment, Limit: limit, Page: page,
				Name: optString(cmd, "name", name), VaultId: optString(cmd, "vault-id", vaultID),
				LifecycleState: vault.SecretSummaryLifecycleStateEnum(state),
				SortBy:         vault.ListSecretsSortByEnum(l.sortBy), SortOrder: vault.ListSecretsSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		}, "TIMECREATED", "NAME")
	f := cmd.Flags()
	f.StringVarP(&compartment, "compartment-id", "c", "", "the OCID of the compartment [required]")
	f.StringVar(&name, "name", "", "only the secret with this name")
	f.StringVar(&vaultID, "vault-id", "", "only secrets in this vault")
	f.StringVar(&state, "lifecycle-state", "", "only secrets in this state")
	return cmd
}

// secretDeletion is schedule-secret-deletion and cancel-secret-deletion.
func secretDeletion(use, short string) *cobra.Command {
	var when deletionTime
	example := "  coffer vault secret " + use + " --secret-id $SECRET"
	schedule := use == "schedule-secret-deletion"
	if schedule {
		example += " --time-of-deletion 2030-01-31T00:00:00Z"
	}
	return secretAction(use, short, example,
		func(cmd *cobra.Command) {
			if schedule {
				when.add(cmd, "when to delete the secret (RFC 3339)")
			}
		},
		func(ctx context.Context, c vault.VaultsClient, id string, im *string) (*string, error) {
			if !schedule {
				_, err := c.CancelSecretDeletion(ctx, vault.CancelSecretDeletionRequest{SecretId: &id, IfMatch: im})
				return nil, err
			}
			var d vault.ScheduleSecretDeletionDetails
			var err error
			if d.TimeOfDeletion, err = when.parse(); err != nil {
				return nil, err
			}
			_, err = c.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: &id, IfMatch: im, ScheduleSecretDeletionDetails: d})
			return nil, err
		})
}

func secretChangeCompartment() *cobra.Command {
	var id, compartment, ifMatch string
	cmd := leaf("change-compartment", "Move a secret to another compartment",
		`  coffer vault secret change-compartment --secret-id $SECRET --compartment-id $OTHER`,
		hints{}, []string{"secret-id", "compartment-id"},
		func(cmd *cobra.Command, g *globals) error {
			return sendOnly(cmd, g, vaultsClient, func(ctx context.Context, c vault.VaultsClient) error {
				_, err := c.ChangeSecretCompartment(ctx, vault.ChangeSecretCompartmentRequest{SecretId: &id, IfMatch: optString(cmd, "if-match", ifMatch),
					ChangeSecretCompartmentDetails: vault.ChangeSecretCompartmentDetails{CompartmentId: &compartment}})
				return err
			})
		})
	f := cmd.Flags()
	f.StringVar(&id, "secret-id", "", "the OCID of the secret [required]")
	f.StringVarP(&compartment, "compartment-id", "c", "", "the OCID of the destination compartment [required]")
	f.StringVar(&ifMatch, "if-match", "", "act only if the etag matches")
	return cmd
}

func secretVersionList() *cobra.Command {
	var id string
	var l listFlags
	cmd := listLeaf("list", "List the versions of a secret",
		`  coffer vault secret-version list --secret-id $SECRET --all --query "data[?contains(stages, 'CURRENT')].\"version-number\""`,
		[]string{"secret-id"}, &l, vaultsClient,
		func(cmd *cobra.Command, c vault.VaultsClient, limit *int, page *string) ([]vault.SecretVersionSummary, *string, error) {
			r, err := c.ListSecretVersions(cmd.Context(), vault.ListSecretVersionsRequest{SecretId: &id, Limit: limit, Page: page,
				SortBy: vault.ListSecretVersionsSortByEnum(l.sortBy), SortOrder: vault.ListSecretVersionsSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		}, "VERSION_NUMBER")
	cmd.Flags().StringVar(&id, "secret-id", "", "the OCID of the secret [required]")
	return cmd
}

func secretVersionGet() *cobra.Command {
	var id string
	var num int64
	cmd := leaf("get", "Get a secret version's metadata (never its content)",
		`  coffer vault secret-version get --secret-id $SECRET --secret-version-number 2`,
		hints{}, []string{"secret-id", "secret-version-number"},
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, vaultsClient, func(ctx context.Context, c vault.VaultsClient) (response, error) {
				r, err := c.GetSecretVersion(ctx, vault.GetSecretVersionRequest{SecretId: &id, SecretVersionNumber: &num})
				return response{data: r.SecretVersion, etag: r.Etag}, err
			})
		})
	cmd.Flags().StringVar(&id, "secret-id", "", "the OCID of the secret [required]")
	cmd.Flags().Int64Var(&num, "secret-version-number", 0, "the version number [required]")
	return cmd
}

func secretVersionDeletion(use, short string) *cobra.Command {
	var id, ifMatch string
	var num int64
	var when deletionTime
	schedule := use == "schedule-deletion"
	example := "  coffer vault secret-version " + use + " --secret-id $SECRET --secret-version-number 1"
	if schedule {
		example += " --time-of-deletion 2030-01-31"
	}
	cmd := leaf(use, short, example, hints{}, []string{"secret-id", "secret-version-number"},
		func(cmd *cobra.Command, g *globals) error {
			return sendOnly(cmd, g, vaultsClient, func(ctx context.Context, c vault.VaultsClient) error {
				im := optString(cmd, "if-match", ifMatch)
				if !schedule {
					_, err := c.CancelSecretVersionDeletion(ctx, vault.CancelSecretVersionDeletionRequest{SecretId: &id, SecretVersionNumber: &num, IfMatch: im})
					return err
				}
				var d vault.ScheduleSecretVersionDeletionDetails
				var err error
				if d.TimeOfDeletion, err = when.parse(); err != nil {
					return err
				}
				_, err = c.ScheduleSecretVersionDeletion(ctx, vault.ScheduleSecretVersionDeletionRequest{SecretId: &id, SecretVersionNumber: &num,
					IfMatch: im, ScheduleSecretVersionDeletionDetails: d})
				return err
			})
		})
	f := cmd.Flags()
	f.StringVar(&id, "secret-id", "", "the OCID of the secret [required]")
	f.Int64Var(&num, "secret-version-number", 0, "the version number [required]")
	if schedule {
		when.add(cmd, "when to delete the version (RFC 3339)")
	}
	f.StringVar(&ifMatch, "if-match", "", "act only if the etag matches")
	return cmd
}

// secretAction builds a command for a POST on a secret that answers with
// no body (deletion, rotation). It prints the work request id when the
// service gives one; with --wait-for-state it then polls the secret and
// prints it.
func secretAction(use, short, example string, addFlags func(*cobra.Command),
	call func(ctx context.Context, c vault.VaultsClient, id string, ifMatch *string) (workRequest *string, err error)) *cobra.Command {
	var id, ifMatch string
	var w waitFlags
	cmd := leaf(use, short, example, hints{}, []string{"secret-id"},
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.vaultsClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			wr, err := call(ctx, c, id, optString(cmd, "if-match", ifMatch))
			if err != nil {
				return err
			}
			if len(w.states) == 0 {
				if wr == nil {
					return nil
				}
				return g.print(cmd.OutOrStdout(), response{workRequest: wr})
			}
			poll := vaultSecrets.poll(c, id)
			s, err := poll(ctx)
			if err != nil {
				return err
			}
			s, err = wait(ctx, g, &w, s, vaultSecrets.state, poll)
			return printResult(cmd, g, response{data: s, workRequest: wr}, err)
		})
	f := cmd.Flags()
	f.StringVar(&id, "secret-id", "", "the OCID of the secret [required]")
	if addFlags != nil {
		addFlags(cmd)
	}
	f.StringVar(&ifMatch, "if-match", "", "act only if the etag matches")
	w.add(cmd, secretStates...)
	return cmd
}

// secretRotate is `rotate`: a new version with generated content becomes
// current (the OCID stays). Coffer rotates secrets whose content it
// generates (--enable-auto-generation), at once: the work request it
// names has already succeeded, so --wait-for-state waits on the secret's
// own lifecycle state rather than on a work request as in OCI.
func secretRotate() *cobra.Command {
	return secretAction("rotate", "Rotate a secret now: a new, generated version becomes current",
		`  coffer vault secret rotate --secret-id $SECRET
  coffer vault secret rotate --secret-id $SECRET --wait-for-state ACTIVE --query 'data."current-version-number"'

Only secrets created with --enable-auto-generation true and a
--secret-generation-context can be rotated by Coffer; for others, upload the
new content with update-base64.`, nil,
		func(ctx context.Context, c vault.VaultsClient, id string, im *string) (*string, error) {
			r, err := c.RotateSecret(ctx, vault.RotateSecretRequest{SecretId: &id, IfMatch: im})
			return r.OpcWorkRequestId, err
		})
}

// secretCancelRotation is `cancel-secret-rotation`: it turns scheduled
// rotation off.
func secretCancelRotation() *cobra.Command {
	cmd := secretAction("cancel-secret-rotation", "Cancel a secret's scheduled rotations (rotation-status becomes NOT_ENABLED)",
		`  coffer vault secret cancel-secret-rotation --secret-id $SECRET --wait-for-state ACTIVE --query 'data."rotation-status"'`, nil,
		func(ctx context.Context, c vault.VaultsClient, id string, im *string) (*string, error) {
			_, err := c.CancelSecretRotation(ctx, vault.CancelSecretRotationRequest{SecretId: &id, IfMatch: im})
			return nil, err
		})
	cmd.Aliases = []string{"cancel-rotation"}
	return cmd
}
