package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm"
	"github.com/coffer-vault/coffer/internal/seal"
	"github.com/coffer-vault/coffer/internal/server"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

// migrateSealFlags are coffer operator migrate-seal's flags.
type migrateSealFlags struct {
	dataDir, dbURL string
	to             string
	// The current holder, for a key-file store.
	oldKeyFile string
	// The new holder.
	newKeyFile        string
	shares, threshold int
	shareDir          string
	hsm               keyprotect.HSMConfig
	keyLabel          string
	generate          bool
}

func operatorMigrateSealCommand() *cobra.Command {
	var f migrateSealFlags
	cmd := &cobra.Command{
		Use:   "migrate-seal --data-dir DIR --to key-file|shamir|pkcs11 [flags]",
		Short: "Offline: move the root key to another seal (key file, Shamir shares, PKCS#11 token)",
		Long: `Moves a stopped server's root key from the seal its store records to another
one, or to a new holder of the same kind (a new key file, a new Shamir split,
another token key). A fresh root key seals the keyring, so the old key file,
shares or token key no longer open the store; stored values are not
rewritten. Stop every server using the data directory (or database) first.

The current root key comes from what the store records:
  key file: --unseal-key-file OLD (or ` + server.UnsealKeyEnv + `)
  shamir:   the threshold of current shares, one per line on standard input
            (or hidden prompts on a terminal)
  pkcs11:   the token (--pkcs11-module, --pkcs11-token-label, PIN in ` + PKCS11PINEnv + `)
            and the key label recorded in the store

The new holder:
  --to key-file --new-key-file NEW          (created 0600; must not exist)
  --to shamir --shares N --threshold K      (printed once, or --share-dir DIR)
  --to pkcs11 --pkcs11-seal-key-label L     (in the same token; --pkcs11-generate-key
                                             creates the key if the token has none)

The new holder is made before the one transaction that switches the store to
it: if the migration stops before that, the old holder still opens the store
(and a new key file or shares made are void); after it, only the new one does.
Afterwards start the servers with the new seal's flags.`,
		Example: `  COFFER_PKCS11_PIN=1234 coffer operator migrate-seal --data-dir /var/lib/coffer --unseal-key-file /etc/coffer/root.key \
      --to pkcs11 --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token-label coffer --pkcs11-generate-key
  COFFER_PKCS11_PIN=1234 coffer operator migrate-seal --data-dir /var/lib/coffer --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \
      --pkcs11-token-label coffer --to shamir --shares 5 --threshold 3 --share-dir /secure/tmp
  coffer operator migrate-seal --data-dir /var/lib/coffer --to key-file --new-key-file /etc/coffer/root.key < three-shares.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOperator(cmd, func(*globals) error {
				f.hsm.PIN = os.Getenv(PKCS11PINEnv)
				return migrateSeal(cmd, f)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "the server's data directory (SQLite store)")
	fl.StringVar(&f.dbURL, "database-url", "", "the PostgreSQL store instead of --data-dir")
	fl.StringVar(&f.to, "to", "", "the new seal: key-file, shamir or pkcs11")
	fl.StringVar(&f.oldKeyFile, "unseal-key-file", "", "the current root key file (key-file stores; or "+server.UnsealKeyEnv+")")
	fl.StringVar(&f.newKeyFile, "new-key-file", "", "--to key-file: where to write the new root key file (must not exist)")
	fl.IntVar(&f.shares, "shares", 0, "--to shamir: number of shares to make (2-255)")
	fl.IntVar(&f.threshold, "threshold", 0, "--to shamir: number of shares needed to unseal")
	fl.StringVar(&f.shareDir, "share-dir", "", "--to shamir: write the new shares to files share-1..share-N in this directory instead of printing them")
	fl.StringVar(&f.hsm.ModulePath, "pkcs11-module", "", "PKCS#11 module of the token (pkcs11 stores, --to pkcs11); PIN from "+PKCS11PINEnv)
	fl.StringVar(&f.hsm.TokenLabel, "pkcs11-token-label", "", "label of the PKCS#11 token")
	fl.StringVar(&f.keyLabel, "pkcs11-seal-key-label", server.DefaultSealKeyLabel, "--to pkcs11: label of the AES-256 token key that wraps the new root key")
	fl.BoolVar(&f.generate, "pkcs11-generate-key", false, "--to pkcs11: create the key in the token if there is none")
	return cmd
}

func migrateSeal(cmd *cobra.Command, f migrateSealFlags) error {
	if (f.dataDir == "") == (f.dbURL == "") {
		return usageErrorf("one of --data-dir or --database-url is required")
	}
	mig := seal.Migration{To: f.to}
	w := cmd.OutOrStdout()
	var after string
	switch f.to {
	case seal.TypeKeyFile:
		if f.newKeyFile == "" {
			return usageErrorf("--to key-file needs --new-key-file")
		}
		mig.KeyFile = f.newKeyFile
		after = fmt.Sprintf("Start the servers with --unseal-key-file %s (without --seal).", f.newKeyFile)
	case seal.TypeShamir:
		if f.shares < 1 || f.threshold < 1 {
			return usageErrorf("--to shamir needs --shares and --threshold")
		}
		if f.shareDir != "" {
			if err := checkOutputDir("--share-dir", f.shareDir); err != nil {
				return err
			}
		}
		mig.Shares, mig.Threshold = f.shares, f.threshold
		mig.Deliver = func(shares []string) error {
			fmt.Fprintf(w, "New shares (any %d of %d unseal the store once the migration completes):\n", f.threshold, f.shares)
			return printShares(w, "Share", shares, f.shareDir)
		}
		after = "Start the servers with --seal shamir and unseal each with the new shares."
	case seal.TypePKCS11:
		if f.hsm.ModulePath == "" || f.hsm.TokenLabel == "" {
			return usageErrorf("--to pkcs11 needs --pkcs11-module and --pkcs11-token-label (the PIN in %s)", PKCS11PINEnv)
		}
		key, err := pkcs11hsm.OpenSealKey(f.hsm, f.keyLabel, f.generate)
		if err != nil {
			return err
		}
		defer key.Close()
		mig.Wrapper, mig.KeyLabel = key, f.keyLabel
		after = fmt.Sprintf("Start the servers with --seal pkcs11 --pkcs11-seal-key-label %s and the same token.", f.keyLabel)
	default:
		return usageErrorf("--to must be %s, %s or %s", seal.TypeKeyFile, seal.TypeShamir, seal.TypePKCS11)
	}
	ctx := cmd.Context()
	st, err := openOfflineStore(ctx, f.dataDir, f.dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	current, from, err := currentRoot(cmd, st, f)
	if err != nil {
		return err
	}
	defer current.Zero()
	if err := seal.Migrate(ctx, st, current, mig); err != nil {
		if f.to == seal.TypeShamir {
			return fmt.Errorf("%w (any shares printed above are void: the store is still sealed the old way)", err)
		}
		return err
	}
	fmt.Fprintf(w, "The root key was replaced and moved from %s to %s; the old one no longer opens the store.\n", from, f.to)
	fmt.Fprintln(w, after)
	if from == seal.TypeKeyFile {
		fmt.Fprintln(w, "Destroy the old key file.")
	}
	return nil
}

// currentRoot gets the root key of st from the holder its seal
// configuration names, and says which that is.
func currentRoot(cmd *cobra.Command, st store.Store, f migrateSealFlags) (barrier.RootKey, string, error) {
	ctx := cmd.Context()
	if ok, err := barrier.Initialized(ctx, st); err != nil {
		return barrier.RootKey{}, "", err
	} else if !ok {
		return barrier.RootKey{}, "", errors.New("the store has no keyring: there is nothing to migrate (start the server with the new seal instead)")
	}
	cfg, ok, err := barrier.ReadSealConfig(ctx, st)
	if err != nil {
		return barrier.RootKey{}, "", err
	}
	if !ok {
		var root barrier.RootKey
		switch env := os.Getenv(server.UnsealKeyEnv); {
		case f.oldKeyFile != "":
			root, err = barrier.ReadKeyFile(f.oldKeyFile)
		case env != "":
			root, err = barrier.ParseRootKey([]byte(env))
		default:
			return barrier.RootKey{}, "", usageErrorf("this store's root key is in a key file: pass --unseal-key-file OLD or set %s", server.UnsealKeyEnv)
		}
		return root, seal.TypeKeyFile, err
	}
	switch cfg.Type {
	case seal.TypeShamir:
		texts, err := readShares(cmd, cfg.Threshold)
		if err != nil {
			return barrier.RootKey{}, "", err
		}
		root, err := seal.RootKeyFromShares(texts)
		return root, seal.TypeShamir, err
	case seal.TypePKCS11:
		if f.hsm.ModulePath == "" || f.hsm.TokenLabel == "" {
			return barrier.RootKey{}, "", usageErrorf("this store's root key is wrapped by the PKCS#11 key %q: pass --pkcs11-module and --pkcs11-token-label (the PIN in %s)", cfg.KeyLabel, PKCS11PINEnv)
		}
		key, err := pkcs11hsm.OpenSealKey(f.hsm, cfg.KeyLabel, false)
		if err != nil {
			return barrier.RootKey{}, "", err
		}
		defer key.Close()
		root, err := barrier.UnwrapRootKey(key, cfg)
		return root, seal.TypePKCS11, err
	}
	return barrier.RootKey{}, "", fmt.Errorf("the store records an unknown seal type %q", cfg.Type)
}

// readShares reads n current shares: each from a hidden prompt on a
// terminal, else one per line of standard input.
func readShares(cmd *cobra.Command, n int) ([]string, error) {
	in := cmd.InOrStdin()
	out := make([]string, 0, n)
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		for i := range n {
			fmt.Fprintf(cmd.ErrOrStderr(), "Current share %d of %d (will be hidden): ", i+1, n)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(cmd.ErrOrStderr())
			if err != nil {
				return nil, err
			}
			out = append(out, string(bytes.TrimSpace(b)))
			clear(b)
		}
		return out, nil
	}
	r := bufio.NewReader(io.LimitReader(in, int64(n)*4<<10))
	for len(out) < n {
		line, err := r.ReadBytes('\n')
		if t := bytes.TrimSpace(line); len(t) > 0 {
			out = append(out, string(t))
		}
		clear(line)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(out) < n {
		return nil, usageErrorf("this store's root key is split into Shamir shares: %d current shares are needed on standard input, one per line; got %d", n, len(out))
	}
	return out, nil
}

// openOfflineStore opens the store of a stopped server.
func openOfflineStore(ctx context.Context, dataDir, dbURL string) (store.Store, error) {
	var st store.Store
	var err error
	if dbURL != "" {
		st, err = postgres.Open(ctx, dbURL)
	} else {
		path := filepath.Join(dataDir, "coffer.db")
		if _, statErr := os.Stat(path); statErr != nil {
			return nil, fmt.Errorf("no store in %s: %w", dataDir, statErr)
		}
		st, err = sqlite.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}
