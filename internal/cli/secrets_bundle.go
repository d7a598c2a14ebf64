package cli

import (
	"context"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/spf13/cobra"
)

// secretsCommand is `coffer secrets`: reading secret bundles, as `oci
// secrets`.
//
// Secret content is never printed unless asked for. By default a bundle is
// printed with data."secret-bundle-content".content replaced by a note
// saying how to show it. It is shown by --decode (the decoded bytes, exactly,
// with nothing added) or by a --query that selects exactly that field
// (typically with --raw-output, for the base64).
func secretsCommand() *cobra.Command {
	s := group("secrets", "Read secret content (secret bundles)",
		`  coffer secrets secret-bundle get --secret-id $SECRET --decode > pw.txt
  coffer secrets secret-bundle get-secret-bundle-by-name --vault-id $VAULT --secret-name db-password --decode`,
		group("secret-bundle", "Secret bundles: a version's content and metadata",
			`  coffer secrets secret-bundle get --secret-id $SECRET --stage PREVIOUS --decode`,
			bundleGet(), bundleGetByName(), bundleListVersions()),
		group("secret-bundle-version", "Secret bundle versions (the oci CLI's name for secret-bundle list-versions)",
			`  coffer secrets secret-bundle-version list-versions --secret-id $SECRET --all`,
			bundleListVersions()),
	)
	return clientGroup(s)
}

var bundleHints = hints{notFound: secretBundleNotFound}

// bundleFlags select a version and how to print it.
type bundleFlags struct {
	stage, versionName string
	version            int64
	decode             bool
}

func (b *bundleFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&b.stage, "stage", "", "the version in this stage: CURRENT (default), PENDING, LATEST, PREVIOUS, DEPRECATED")
	f.Int64Var(&b.version, "version-number", 0, "the version with this number")
	f.StringVar(&b.versionName, "secret-version-name", "", "the version with this name")
	f.BoolVar(&b.decode, "decode", false, "print the decoded content (the bytes exactly) instead of the bundle")
	_ = cmd.RegisterFlagCompletionFunc("stage", cobra.FixedCompletions([]string{"CURRENT", "PENDING", "LATEST", "PREVIOUS", "DEPRECATED"}, cobra.ShellCompDirectiveNoFileComp))
}

func (b *bundleFlags) check(g *globals) error {
	if b.decode && (g.query != "" || g.output == "table") {
		return usageErrorf("--decode prints the content alone; it cannot be combined with --query or --output table")
	}
	return nil
}

func (b *bundleFlags) versionNumber(cmd *cobra.Command) *int64 {
	if cmd.Flags().Changed("version-number") {
		return common.Int64(b.version)
	}
	return nil
}

// send checks the options, gets a bundle and prints it (content hidden)
// or, with --decode, its decoded content.
func (b *bundleFlags) send(cmd *cobra.Command, g *globals, get func(ctx context.Context, c secrets.SecretsClient) (secrets.SecretBundle, error)) error {
	if err := b.check(g); err != nil {
		return err
	}
	c, err := g.secretsClient()
	if err != nil {
		return err
	}
	bundle, err := get(cmd.Context(), c)
	if err != nil {
		return err
	}
	if b.decode {
		c, ok := bundle.SecretBundleContent.(secrets.Base64SecretBundleContentDetails)
		if !ok {
			return usageErrorf("--decode: the bundle holds no base64 content")
		}
		return writeDecoded(cmd, c.Content)
	}
	return g.print(cmd.OutOrStdout(), response{data: bundle, secret: true})
}

func bundleGet() *cobra.Command {
	var id string
	var b bundleFlags
	cmd := leaf("get", "Get a secret bundle (content shown only with --decode or a --query for it)",
		`  coffer secrets secret-bundle get --secret-id $SECRET --decode
  coffer secrets secret-bundle get --secret-id $SECRET --query 'data."secret-bundle-content".content' --raw-output
  coffer secrets secret-bundle get --secret-id $SECRET --version-number 1 --query 'data.stages'`,
		bundleHints, []string{"secret-id"},
		func(cmd *cobra.Command, g *globals) error {
			return b.send(cmd, g, func(ctx context.Context, c secrets.SecretsClient) (secrets.SecretBundle, error) {
				r, err := c.GetSecretBundle(ctx, secrets.GetSecretBundleRequest{SecretId: &id,
					Stage: secrets.GetSecretBundleStageEnum(b.stage), VersionNumber: b.versionNumber(cmd),
					SecretVersionName: optString(cmd, "secret-version-name", b.versionName)})
				return r.SecretBundle, err
			})
		})
	cmd.Flags().StringVar(&id, "secret-id", "", "the OCID of the secret [required]")
	b.add(cmd)
	return cmd
}

func bundleGetByName() *cobra.Command {
	var name, vaultID string
	var b bundleFlags
	cmd := leaf("get-secret-bundle-by-name", "Get a secret bundle by the secret's name in a vault",
		`  coffer secrets secret-bundle get-secret-bundle-by-name --vault-id $VAULT --secret-name db-password --decode`,
		hints{notFound: secretBundleNotFound, byName: func() (string, string) { return vaultID, name }}, []string{"secret-name", "vault-id"},
		func(cmd *cobra.Command, g *globals) error {
			return b.send(cmd, g, func(ctx context.Context, c secrets.SecretsClient) (secrets.SecretBundle, error) {
				r, err := c.GetSecretBundleByName(ctx, secrets.GetSecretBundleByNameRequest{SecretName: &name, VaultId: &vaultID,
					Stage: secrets.GetSecretBundleByNameStageEnum(b.stage), VersionNumber: b.versionNumber(cmd),
					SecretVersionName: optString(cmd, "secret-version-name", b.versionName)})
				return r.SecretBundle, err
			})
		})
	cmd.Flags().StringVar(&name, "secret-name", "", "the name of the secret [required]")
	cmd.Flags().StringVar(&vaultID, "vault-id", "", "the OCID of the vault holding the secret [required]")
	b.add(cmd)
	return cmd
}

func bundleListVersions() *cobra.Command {
	var id string
	var l listFlags
	cmd := listLeaf("list-versions", "List a secret's bundle versions (no content)",
		`  coffer secrets secret-bundle list-versions --secret-id $SECRET --all --output table`,
		[]string{"secret-id"}, &l, secretsClient,
		func(cmd *cobra.Command, c secrets.SecretsClient, limit *int, page *string) ([]secrets.SecretBundleVersionSummary, *string, error) {
			r, err := c.ListSecretBundleVersions(cmd.Context(), secrets.ListSecretBundleVersionsRequest{SecretId: &id, Limit: limit, Page: page,
				SortBy: secrets.ListSecretBundleVersionsSortByEnum(l.sortBy), SortOrder: secrets.ListSecretBundleVersionsSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		}, "VERSION_NUMBER")
	cmd.Flags().StringVar(&id, "secret-id", "", "the OCID of the secret [required]")
	return cmd
}
