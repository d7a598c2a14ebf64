package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/internal/seal"
)

// exitSealed is `coffer operator status`'s exit code for a sealed server,
// as `vault status` does, so scripts can wait for an unseal.
const exitSealed = 2

// operatorCommand is `coffer operator`: the barrier's life (init, unseal,
// seal, rotate, rekey, rekey-file) and its status.
func operatorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Initialize, unseal, seal and rotate the server's barrier",
		Long: `Operator commands for the server's root key and keyring.

A server started with --seal shamir starts SEALED: it answers /healthz and
every API call with 503 until it is initialized once (coffer operator init,
which splits a fresh root key into shares) and then unsealed by the
threshold of those shares (coffer operator unseal, one share per call, from
any of the share holders). coffer operator seal drops the key again
(administrators only). coffer operator rotate adds a keyring term that
encrypts every value written from then on (administrators only). coffer
operator rekey replaces the root key and its shares, given the threshold of
the current shares (administrators only).

A server started with --seal pkcs11 unseals itself with its token key; if
the token cannot be used it stays sealed and coffer operator status says
why, and coffer operator unseal (no share) tries the token again.
coffer operator migrate-seal moves a stopped server's root key between key
file, Shamir shares and a PKCS#11 token.

status, init and unseal need only --endpoint (or COFFER_ENDPOINT); seal,
rotate and rekey sign their request with the OCI config like every other command.`,
		Example: `  coffer server --data-dir /var/lib/coffer --seal shamir &
  export COFFER_ENDPOINT=http://127.0.0.1:8420
  coffer operator init --shares 5 --threshold 3
  coffer operator unseal          # three holders, one share each
  coffer operator status`,
	}
	cmd.AddCommand(operatorStatusCommand(), operatorInitCommand(), operatorUnsealCommand(),
		operatorSealCommand(), operatorRotateCommand(), operatorRekeyCommand(), operatorRekeyFileCommand(),
		operatorMigrateSealCommand(), operatorBackupKeyCommand(), operatorPeerIdentityCommand(), operatorReplicationCommand())
	return clientGroup(cmd)
}

// sysClient calls the unauthenticated operator endpoints.
type sysClient struct {
	endpoint string
	http     *http.Client
}

func newSysClient(g *globals) (*sysClient, error) {
	endpoint := g.regionalEndpoint()
	if endpoint == "" {
		return nil, usageErrorf("pass --endpoint or set %s", envEndpoint)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The SDK's own variable for a private CA bundle, honoured as the
	// other commands honour it.
	if path := os.Getenv("OCI_DEFAULT_CERTS_PATH"); path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, &configError{fmt.Errorf("OCI_DEFAULT_CERTS_PATH: %w", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &configError{fmt.Errorf("OCI_DEFAULT_CERTS_PATH %s holds no PEM certificate", path)}
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &sysClient{endpoint: endpoint, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}, nil
}

// sysError is an error answer of an operator endpoint, in OCI's shape.
type sysError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *sysError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func (c *sysClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		defer clear(b)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	defer clear(rb)
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		se := &sysError{Status: resp.StatusCode}
		if json.Unmarshal(rb, se) != nil || se.Code == "" {
			se.Code, se.Message = http.StatusText(resp.StatusCode), "the server's answer is not an OCI error body"
		}
		return se
	}
	return json.Unmarshal(rb, out)
}

// sysCall calls an unauthenticated operator endpoint and decodes its
// answer.
func sysCall[T any](cmd *cobra.Command, g *globals, method, path string, in any) (T, error) {
	var out T
	c, err := newSysClient(g)
	if err != nil {
		return out, err
	}
	return out, c.do(cmd.Context(), method, path, in, &out)
}

func printSealStatus(w io.Writer, st seal.Status) {
	fmt.Fprintf(w, "Seal type:    %s\n", st.Type)
	fmt.Fprintf(w, "Initialized:  %t\n", st.Initialized)
	fmt.Fprintf(w, "Sealed:       %t\n", st.Sealed)
	if st.Reason != "" {
		fmt.Fprintf(w, "Reason:       %s\n", st.Reason)
	}
	if st.Threshold > 0 {
		fmt.Fprintf(w, "Shares:       %d\n", st.Shares)
		fmt.Fprintf(w, "Threshold:    %d\n", st.Threshold)
		if st.Sealed {
			fmt.Fprintf(w, "Progress:     %d/%d\n", st.Progress, st.Threshold)
		}
	}
	if st.AdminConfig != "" {
		fmt.Fprintf(w, "\nThe tenancy was created. The administrator's OCI config (profile DEFAULT)\nwas written on the server to %s\n", st.AdminConfig)
	}
}

// runOperator runs f and turns its error into an exit code with the
// usual report.
func runOperator(cmd *cobra.Command, f func(g *globals) error) error {
	g := globalsFrom(cmd)
	if err := f(g); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee
		}
		var se *sysError
		if errors.As(err, &se) {
			fmt.Fprintf(cmd.ErrOrStderr(), "Error: %s\n", se)
			return exitError{exitService}
		}
		return exitError{g.reportError(cmd.ErrOrStderr(), err, hints{})}
	}
	return nil
}

func operatorStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether the server is initialized and sealed (exit 2 when sealed)",
		Example: `  coffer operator status --endpoint https://coffer.example.com:8420
  until coffer operator status >/dev/null; do sleep 5; done   # wait for the unseal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(g *globals) error {
				st, err := sysCall[seal.Status](cmd, g, http.MethodGet, sysapi.SealStatusPath, nil)
				if err != nil {
					return err
				}
				printSealStatus(cmd.OutOrStdout(), st)
				if st.Sealed {
					return exitError{exitSealed}
				}
				return nil
			})
		},
	}
}

func operatorInitCommand() *cobra.Command {
	var req seal.InitRequest
	var shareDir string
	cmd := &cobra.Command{
		Use:   "init --shares N --threshold K",
		Short: "Initialize a --seal shamir server: split a new root key into shares",
		Long: `Generates the server's root key and splits it into --shares Shamir shares, any
--threshold of which unseal the server. The shares are shown ONCE, here: the
server keeps none of them and cannot show them again. Give each to a
different holder. The server stays sealed: unseal it with the threshold of
shares (coffer operator unseal), which also proves that the shares work.

With --share-dir the shares are written to DIR/share-1 ... share-N (0600,
created atomically) instead of printed.`,
		Example: `  coffer operator init --shares 5 --threshold 3
  coffer operator init --shares 3 --threshold 2 --share-dir /secure/tmp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(g *globals) error {
				if req.Shares < 1 || req.Threshold < 1 {
					return usageErrorf("--shares and --threshold are required")
				}
				if shareDir != "" {
					if err := checkOutputDir("--share-dir", shareDir); err != nil {
						return err
					}
				}
				resp, err := sysCall[seal.InitResponse](cmd, g, http.MethodPost, sysapi.InitPath, req)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if err := printShares(w, "Share", resp.Shares, shareDir); err != nil {
					return err
				}
				fmt.Fprintf(w, "\nThe root key was split into %d shares; any %d of them unseal the server.\n", len(resp.Shares), resp.Threshold)
				fmt.Fprintf(w, "They are shown only now: the server keeps none of them. Store each one apart.\n")
				fmt.Fprintf(w, "The server is sealed: unseal it with `coffer operator unseal` and %d shares.\n", resp.Threshold)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&req.Shares, "shares", 0, "number of shares to make (2-255)")
	cmd.Flags().IntVar(&req.Threshold, "threshold", 0, "number of shares needed to unseal (2 to --shares)")
	cmd.Flags().StringVar(&shareDir, "share-dir", "", "write the shares to files share-1..share-N in this directory instead of printing them")
	return cmd
}

// readShare reads one share: without echo from a terminal, else the first
// line of standard input. Shares never come from arguments, which show in
// the process list and shell history.
func readShare(cmd *cobra.Command) ([]byte, error) {
	return readSharePrompt(cmd, "Unseal share")
}

// readSharePrompt is readShare with the terminal prompt's wording.
func readSharePrompt(cmd *cobra.Command, prompt string) ([]byte, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt+" (will be hidden): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		return b, err
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4<<10)).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return bytes.TrimSpace(line), nil
}

func operatorUnsealCommand() *cobra.Command {
	var reset bool
	cmd := &cobra.Command{
		Use:   "unseal",
		Short: "Submit one unseal share (from standard input or a hidden prompt)",
		Long: `Submits one share towards unsealing a --seal shamir server. The share is read
without echo from the terminal, or from the first line of standard input
(never from an argument). Each holder runs it once; when the threshold is
reached the server rebuilds the root key, opens the keyring and starts
serving. Wrong shares are reported when the threshold is reached, and the
progress starts again from zero. --reset discards the shares submitted so
far.

On a sealed --seal pkcs11 server it reads no share: it asks the server to
try its token again (at most once every 5 seconds; not after the token
refused the PIN, which needs a restart with the right one).`,
		Example: `  coffer operator unseal
  coffer operator unseal < /secure/share-2
  coffer operator unseal --reset`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(g *globals) error {
				c, err := newSysClient(g)
				if err != nil {
					return err
				}
				req := seal.UnsealRequest{Reset: reset}
				var now seal.Status
				if err := c.do(cmd.Context(), http.MethodGet, sysapi.SealStatusPath, nil, &now); err != nil {
					return err
				}
				// A pkcs11 server takes no share: the empty request
				// asks it to try its token again.
				if !reset && now.Type != seal.TypePKCS11 {
					share, err := readShare(cmd)
					if err != nil {
						return fmt.Errorf("read share: %w", err)
					}
					if len(share) == 0 {
						clear(share)
						return usageErrorf("no share on standard input")
					}
					req.Share = string(share)
					clear(share)
				}
				var st seal.Status
				if err := c.do(cmd.Context(), http.MethodPost, sysapi.UnsealPath, req, &st); err != nil {
					return err
				}
				printSealStatus(cmd.OutOrStdout(), st)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&reset, "reset", false, "discard the shares submitted so far")
	return cmd
}

// printShares prints new unseal shares, each labelled ("Share 1: ..."), or
// writes them to shareDir/share-N and says where.
func printShares(w io.Writer, label string, shares []string, shareDir string) error {
	if shareDir == "" {
		for i, s := range shares {
			fmt.Fprintf(w, "%s %d: %s\n", label, i+1, s)
		}
		return nil
	}
	files := make([]dirFile, len(shares))
	for i, s := range shares {
		files[i] = dirFile{"share-" + strconv.Itoa(i+1), []byte(s + "\n")}
	}
	n, err := writeFiles(shareDir, files...)
	for i := range n {
		fmt.Fprintf(w, "%s %d written to %s\n", label, i+1, filepath.Join(shareDir, files[i].name))
	}
	return err
}

// signedOperatorCall POSTs in to an operator path, signed with the OCI
// config as the SDK's clients do, and decodes the answer into out.
func signedOperatorCall(cmd *cobra.Command, g *globals, path string, in, out any) error {
	c, err := newAdminClient(g, "")
	if err != nil {
		return err
	}
	return c.post(cmd.Context(), path, "POST "+path, in, out)
}

func operatorSealCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "seal",
		Short: "Seal a --seal shamir server (administrators: manage policies in tenancy)",
		Long: `Seals the server: it drops the root key and the keyring from memory, closes the
vault endpoints and answers 503 until the threshold of shares unseals it
again. Needs POLICY_UPDATE in the tenancy (the SealServer operation).
A server whose key comes from a key file or a PKCS#11 token cannot be sealed
(it would unseal itself again): stop it instead.`,
		Example: `  coffer operator seal --profile ADMIN`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(g *globals) error {
				var out sysapi.SealResponse
				if err := signedOperatorCall(cmd, g, sysapi.SealPath, struct{}{}, &out); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "The server is sealed.")
				return nil
			})
		},
	}
}

func operatorRotateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Add a new keyring term that encrypts everything written from now on",
		Long: `Adds a fresh term to the keyring and makes it active: every value written from
now on is encrypted with it; values written before keep their term and still
open. Needs POLICY_UPDATE in the tenancy (the RotateKeyring operation).`,
		Example: `  coffer operator rotate --profile ADMIN`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(g *globals) error {
				var out seal.Rotation
				if err := signedOperatorCall(cmd, g, sysapi.RotatePath, struct{}{}, &out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Keyring rotated: term %d is active (%d terms).\n", out.Term, out.Terms)
				return nil
			})
		},
	}
}

func operatorRekeyFileCommand() *cobra.Command {
	var dataDir, oldFile, newFile, dbURL string
	cmd := &cobra.Command{
		Use:   "rekey-file --data-dir DIR --unseal-key-file OLD --new-key-file NEW",
		Short: "Offline: seal the keyring of a key-file server under a new root key file",
		Long: `Re-seals the keyring of a stopped key-file server under a freshly generated
root key, written to --new-key-file (created 0600; it must not exist). The
stored values are not rewritten: the keyring's terms stay, only the key that
seals them changes. Stop every server using the data directory (or
database) first; afterwards start them with --unseal-key-file NEW and
destroy the old key file.`,
		Example: `  coffer operator rekey-file --data-dir /var/lib/coffer --unseal-key-file /etc/coffer/root.key --new-key-file /etc/coffer/root.key.new`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(*globals) error {
				return rekeyFile(cmd, dataDir, dbURL, oldFile, newFile)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "", "the server's data directory (SQLite store)")
	f.StringVar(&dbURL, "database-url", "", "the PostgreSQL store instead of --data-dir")
	f.StringVar(&oldFile, "unseal-key-file", "", "the current root key file")
	f.StringVar(&newFile, "new-key-file", "", "where to write the new root key file (must not exist)")
	return cmd
}

func rekeyFile(cmd *cobra.Command, dataDir, dbURL, oldFile, newFile string) error {
	if (dataDir == "") == (dbURL == "") || oldFile == "" || newFile == "" {
		return usageErrorf("--unseal-key-file, --new-key-file and one of --data-dir or --database-url are required")
	}
	ctx := cmd.Context()
	old, err := barrier.ReadKeyFile(oldFile)
	if err != nil {
		return err
	}
	defer old.Zero()
	st, err := openOfflineStore(ctx, dataDir, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if ok, err := barrier.Initialized(ctx, st); err != nil {
		return err
	} else if !ok {
		return errors.New("the store has no keyring: there is nothing to rekey")
	}
	if cfg, ok, err := barrier.ReadSealConfig(ctx, st); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("this store's root key is held by its %s seal, not kept in a key file (coffer operator migrate-seal moves it)", cfg.Type)
	}
	b, err := barrier.Unseal(ctx, st, old)
	if err != nil {
		return err
	}
	defer b.Close()
	// The new key is on disk before the keyring depends on it.
	newKey, err := barrier.CreateKeyFile(newFile)
	if err != nil {
		return err
	}
	defer newKey.Zero()
	if err := b.Rekey(ctx, newKey, nil); err != nil {
		_ = os.Remove(newFile)
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "The keyring is now sealed by %s; the old key file no longer opens it.\n", newFile)
	fmt.Fprintf(cmd.OutOrStdout(), "Start the server with --unseal-key-file %s and destroy %s.\n", newFile, oldFile)
	return nil
}
