package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/internal/peer"
)

// operatorPeerIdentityCommand is `coffer operator peer-identity`: this
// region's identity toward its peer regions (docs/replication.md).
func operatorPeerIdentityCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "peer-identity",
		Short: "Create or show this region's peer identity (cross-region replication)",
		Long: `Regions of one realm know each other as peers (coffer server --peer REGION=URL
--peer-key REGION=KEY). Each region signs what it asks of its peers with its
peer identity, an Ed25519 private key in a file only the server may read
(--peer-identity FILE), and each peer is given the public key, as printed
here. Nothing is sent to a server: these commands read and write the file.`,
		Example: `  coffer operator peer-identity create --file /var/lib/coffer/peer-identity.pem
  coffer operator peer-identity show --file /var/lib/coffer/peer-identity.pem`,
	}
	var file string
	create := &cobra.Command{
		Use: "create --file FILE", Short: "Make a new peer identity in a new file (0600) and print its public key",
		Example: `  coffer operator peer-identity create --file /var/lib/coffer/peer-identity.pem`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := peer.CreateIdentity(file)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id.PublicKey())
			return nil
		},
	}
	show := &cobra.Command{
		Use: "show --file FILE", Short: "Print the public key of a peer identity: what peers pass as --peer-key REGION=KEY",
		Example: `  coffer operator peer-identity show --file /var/lib/coffer/peer-identity.pem`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := peer.LoadIdentity(file)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id.PublicKey())
			return nil
		},
	}
	for _, c := range []*cobra.Command{create, show} {
		c.Flags().StringVar(&file, "file", "", "the identity file")
		_ = c.MarkFlagRequired("file")
	}
	cmd.AddCommand(create, show)
	return cmd
}

// operatorReplicationCommand is `coffer operator replication status`.
func operatorReplicationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "replication", Short: "Cross-region replication of this region's replicas",
		Example: `  coffer operator replication status`}
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show, per source region, whether this node follows it and how far behind it is (inspect vaults in tenancy)",
		Long: `Shows, for each peer region this region replicates from, as seen by the node
answering: whether its last pull succeeded, the lag (the age of the oldest
change in the last answer applied; while the source cannot be reached, at
least the time since it last answered), replicas written since the node
started, and secrets whose replica could not be applied (retried with every
pull). Needs VAULT_INSPECT in the tenancy. Exit 1 when a source is not
connected or a replica is failing.`,
		Example: `  coffer operator replication status
  coffer operator replication status --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(g *globals) error {
				var out sysapi.ReplicationStatusResponse
				if err := signedOperatorCall(cmd, g, sysapi.ReplicationStatusPath, struct{}{}, &out); err != nil {
					return err
				}
				healthy := true
				for _, s := range out.Sources {
					healthy = healthy && s.Connected && len(s.Failed) == 0
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if err := enc.Encode(out); err != nil {
						return err
					}
				} else {
					printReplicationStatus(cmd, out)
				}
				if !healthy {
					return exitError{exitService}
				}
				return nil
			})
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	cmd.AddCommand(status)
	return cmd
}

func printReplicationStatus(cmd *cobra.Command, st sysapi.ReplicationStatusResponse) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Region %s", st.Region)
	if st.PublicKey != "" {
		fmt.Fprintf(w, ", peer identity %s", st.PublicKey)
	}
	fmt.Fprintln(w)
	if len(st.Sources) == 0 {
		fmt.Fprintln(w, "No peers: this region replicates from no other region (coffer server --peer REGION=URL).")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tCONNECTED\tLAG\tAPPLIED\tVAULTS\tFAILING\tLAST CONTACT\tLAST ERROR")
	for _, s := range st.Sources {
		contact := "never"
		if !s.LastContact.IsZero() {
			contact = s.LastContact.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%d\t%d\t%d\t%s\t%s\n", s.Source, s.Connected,
			(time.Duration(s.LagSeconds * float64(time.Second))).Round(time.Millisecond), s.Applied+s.Deleted, s.VaultsApplied, len(s.Failed), contact, s.LastError)
	}
	_ = tw.Flush()
	for _, s := range st.Sources {
		ids := make([]string, 0, len(s.Failed))
		for id := range s.Failed {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			fmt.Fprintf(cmd.ErrOrStderr(), "replica of %s from %s failing: %s\n", id, s.Source, s.Failed[id])
		}
	}
}
