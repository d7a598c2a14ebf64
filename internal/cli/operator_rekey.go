package cli

import (
	"fmt"
	"io"

	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/internal/seal"
	"github.com/spf13/cobra"
)

// operatorRekeyCommand is `coffer operator rekey`: the Shamir rekey, run
// by an administrator and the holders of the current shares.
func operatorRekeyCommand() *cobra.Command {
	var req seal.RekeyRequest
	var shareDir string
	cmd := &cobra.Command{
		Use:   "rekey --shares N --threshold K | --nonce NONCE | --cancel",
		Short: "Replace the root key and its Shamir shares, given the threshold of the current shares",
		Long: `Replaces the root key of a --seal shamir server and splits the new one into a
new number of shares with a new threshold, as vault operator rekey does.

1. An administrator starts the rekey with --shares and --threshold (the new
   split); the answer is a nonce.
2. Holders of the CURRENT shares each run coffer operator rekey --nonce
   NONCE; the share is read without echo from the terminal, or from the first
   line of standard input (never from an argument).
3. When the current threshold is reached and the shares rebuild the current
   root key, the server generates a new root key, seals the keyring under it
   and prints the NEW shares, once: the server keeps none of them. From then
   on only the new shares unseal the server.

Wrong shares are reported when the threshold is reached, and the progress
starts again from zero. --cancel discards a rekey in progress; sealing the
server does too. Every call needs POLICY_UPDATE in the tenancy (the
RekeyRootKey operation), so each share holder runs it with an administrator's
profile. With no flag the command shows the rekey in progress.

With --share-dir the new shares are written to DIR/share-1 ... share-N (0600,
created atomically) instead of printed.`,
		Example: `  coffer operator rekey --shares 3 --threshold 2 --profile ADMIN
  coffer operator rekey --nonce NONCE --profile ADMIN           # each current holder
  coffer operator rekey --nonce NONCE < /secure/share-4 --share-dir /secure/new
  coffer operator rekey --cancel --profile ADMIN`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(g *globals) error {
				starting := req.Shares != 0 || req.Threshold != 0
				switch {
				case req.Cancel && starting:
					return usageErrorf("--cancel takes no --shares or --threshold")
				case starting && req.Nonce != "":
					return usageErrorf("--shares and --threshold start a rekey; --nonce continues one: pass one or the other")
				case starting && (req.Shares < 1 || req.Threshold < 1):
					return usageErrorf("--shares and --threshold are both required to start a rekey")
				}
				if shareDir != "" {
					if err := checkOutputDir("--share-dir", shareDir); err != nil {
						return err
					}
				}
				if req.Nonce != "" && !req.Cancel {
					share, err := readSharePrompt(cmd, "Current unseal share")
					if err != nil {
						return fmt.Errorf("read share: %w", err)
					}
					if len(share) == 0 {
						return usageErrorf("no share on standard input")
					}
					req.Share = string(share)
					clear(share)
				}
				var out seal.RekeyResponse
				if err := signedOperatorCall(cmd, g, sysapi.RekeyPath, req, &out); err != nil {
					return err
				}
				return printRekey(cmd.OutOrStdout(), out, shareDir)
			})
		},
	}
	f := cmd.Flags()
	f.IntVar(&req.Shares, "shares", 0, "start a rekey: number of new shares to make (2-255)")
	f.IntVar(&req.Threshold, "threshold", 0, "start a rekey: number of new shares needed to unseal (2 to --shares)")
	f.StringVar(&req.Nonce, "nonce", "", "the rekey's nonce: submit one current share (read from standard input or a hidden prompt)")
	f.BoolVar(&req.Cancel, "cancel", false, "discard the rekey in progress")
	f.StringVar(&shareDir, "share-dir", "", "write the new shares to files share-1..share-N in this directory instead of printing them")
	return cmd
}

func printRekey(w io.Writer, out seal.RekeyResponse, shareDir string) error {
	if out.Complete {
		if err := printShares(w, "New share", out.Shares, shareDir); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nRekey complete: the new root key was split into %d shares; any %d of them unseal the server.\n", len(out.Shares), out.NewThreshold)
		fmt.Fprintf(w, "They are shown only now: the server keeps none of them. The old shares no longer unseal; destroy them.\n")
		return nil
	}
	if !out.Started {
		fmt.Fprintln(w, "No rekey is in progress.")
		return nil
	}
	fmt.Fprintf(w, "Nonce:          %s\n", out.Nonce)
	fmt.Fprintf(w, "New shares:     %d\n", out.NewShares)
	fmt.Fprintf(w, "New threshold:  %d\n", out.NewThreshold)
	fmt.Fprintf(w, "Progress:       %d/%d current shares\n", out.Progress, out.Required)
	return nil
}
