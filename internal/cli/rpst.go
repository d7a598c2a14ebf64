package cli

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/ociapi/rpstapi"
)

// Files written by `coffer iam resource-principal-token`, in --output-dir.
const (
	rpstTokenFile = "rpst"
	rpstKeyFile   = "private.pem"
)

// addResourcePrincipalToken adds `resource-principal-token` to the iam
// group of root, whose global options (config file, profile, endpoint)
// it uses.
func addResourcePrincipalToken(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == "iam" {
			c.AddCommand(newResourcePrincipalTokenCommand())
			return
		}
	}
}

func newResourcePrincipalTokenCommand() *cobra.Command {
	var d rpstapi.CreateDetails
	var outDir string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "resource-principal-token --resource-id OCID --resource-type TYPE --compartment-id OCID --output-dir DIR",
		Short: "Mint a resource principal session token (RPST) for a workload",
		Long: `Mints a resource principal session token for a workload (a function, a job, a
container) so that it can call Coffer with the SDK's resource principal
provider, as OCI's platform does for its own services.

A fresh RSA-2048 session key is generated here; the server binds the token to
its public key, so the token is useless without the private key. Both are
written to --output-dir (0600, atomically): rpst and private.pem. The
command prints the environment the SDK reads (OCI_RESOURCE_PRINCIPAL_VERSION
2.2, _RPST, _PRIVATE_PEM, _REGION); give the workload the two files and those
variables, and point it at Coffer (COFFER_ENDPOINT, or "endpoint" in the
agent's configuration with auth type resource_principal).

Policies reach the workload through dynamic groups, whose matching rules see
resource.type, resource.id and resource.compartment.id, e.g.
  coffer iam dynamic-group create --name fns --matching-rule "ALL {resource.type = 'fnfunc'}" ...
  allow dynamic-group fns to read secret-family in compartment apps

Minting needs manage dynamic-groups in the tenancy (it is authorized as
CreateDynamicGroup). The token is not printed.`,
		Example: `  coffer iam resource-principal-token --resource-id ocid1.fnfunc.oc1..app --resource-type fnfunc \
      --compartment-id $COMPARTMENT --output-dir /run/app/rp --ttl 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g := globalsFrom(cmd)
			if err := mintRPST(cmd, g, d, ttl, outDir); err != nil {
				return exitError{g.reportError(cmd.ErrOrStderr(), err, hints{})}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&d.ResourceID, "resource-id", "", "the workload's OCID (resource.id in matching rules)")
	f.StringVar(&d.ResourceType, "resource-type", "", "the workload's type, e.g. fnfunc (resource.type)")
	f.StringVar(&d.CompartmentID, "compartment-id", "", "the workload's compartment (resource.compartment.id)")
	f.StringVar(&outDir, "output-dir", "", "the directory for rpst and private.pem (must exist)")
	f.DurationVar(&ttl, "ttl", time.Hour, "the token's lifetime (1m to 24h)")
	return cmd
}

func mintRPST(cmd *cobra.Command, g *globals, d rpstapi.CreateDetails, ttl time.Duration, outDir string) error {
	if d.ResourceID == "" || d.ResourceType == "" || d.CompartmentID == "" || outDir == "" {
		return usageErrorf("--resource-id, --resource-type, --compartment-id and --output-dir are required")
	}
	if err := checkOutputDir("--output-dir", outDir); err != nil {
		return err
	}
	c, err := newAdminClient(g, "resource principal tokens are Coffer's API")
	if err != nil {
		return err
	}
	region, err := c.provider.Region()
	if err != nil {
		return &configError{fmt.Errorf("region: %w", err)}
	}
	key, pub, err := newWorkloadKey("session key")
	if err != nil {
		return err
	}
	d.PublicKey = pub
	d.TTLInSeconds = int64(ttl / time.Second)
	var tok rpstapi.Token
	if err := c.post(cmd.Context(), rpstapi.Path, "mint resource principal token", d, &tok); err != nil {
		return err
	}
	if tok.Token == "" {
		return errors.New("mint resource principal token: the server's answer has no token")
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	defer clear(keyPEM)
	abs, err := filepath.Abs(outDir)
	if err != nil {
		return err
	}
	// The key first: a token without its key is useless, a key without a
	// token harmless.
	if _, err := writeFiles(abs, dirFile{rpstKeyFile, keyPEM}, dirFile{rpstTokenFile, []byte(tok.Token)}); err != nil {
		return err
	}
	keyPath, tokPath := filepath.Join(abs, rpstKeyFile), filepath.Join(abs, rpstTokenFile)
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "# resource principal token for %s (%s), expires %s\n", d.ResourceID, d.ResourceType, tok.TimeExpires.Format(time.RFC3339))
	fmt.Fprintf(w, "export OCI_RESOURCE_PRINCIPAL_VERSION=2.2\n")
	fmt.Fprintf(w, "export OCI_RESOURCE_PRINCIPAL_RPST=%s\n", tokPath)
	fmt.Fprintf(w, "export OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM=%s\n", keyPath)
	fmt.Fprintf(w, "export OCI_RESOURCE_PRINCIPAL_REGION=%s\n", region)
	fmt.Fprintf(w, "export COFFER_ENDPOINT=%s\n", c.endpoint)
	return nil
}
