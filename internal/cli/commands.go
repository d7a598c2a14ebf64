package cli

import (
	"context"

	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/spf13/cobra"
)

// The shapes most client commands share: make the SDK client, call, print.
// Each command supplies only its options and its SDK call.

// clientFn makes a command's SDK client once its options are parsed.
type clientFn[C any] func(cmd *cobra.Command, g *globals) (C, error)

// regional adapts a regional client constructor (kms vaults, vaults,
// secrets, identity) to a clientFn.
func regional[C any](mk func(*globals) (C, error)) clientFn[C] {
	return func(_ *cobra.Command, g *globals) (C, error) { return mk(g) }
}

var (
	kmsVaultClient = regional((*globals).kmsVaultClient)
	vaultsClient   = regional((*globals).vaultsClient)
	secretsClient  = regional((*globals).secretsClient)
	identityClient = regional((*globals).identityClient)
)

// managementClient is the client of the vault's management endpoint:
// --endpoint, or looked up from --vault-id (see vaultIDFlag).
func managementClient(vaultID *string) clientFn[keymanagement.KmsManagementClient] {
	return func(cmd *cobra.Command, g *globals) (keymanagement.KmsManagementClient, error) {
		return g.kmsManagementClient(cmd.Context(), *vaultID)
	}
}

// getLeaf builds `get --<idFlag>`: one SDK call that returns a resource
// and its etag.
func getLeaf[C, T any](what, idFlag, example string, client clientFn[C], get func(ctx context.Context, c C, id string) (T, *string, error)) *cobra.Command {
	var id string
	cmd := leaf("get", "Get a "+what, example, hints{}, []string{idFlag},
		func(cmd *cobra.Command, g *globals) error {
			c, err := client(cmd, g)
			if err != nil {
				return err
			}
			v, etag, err := get(cmd.Context(), c, id)
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: v, etag: etag})
		})
	ocidFlag(cmd, &id, idFlag, what)
	return cmd
}

// ocidFlag adds the required --<name> option naming the resource a
// command acts on; --compartment-id is also -c, as everywhere.
func ocidFlag(cmd *cobra.Command, dst *string, name, what string) {
	short := ""
	if name == "compartment-id" {
		short = "c"
	}
	cmd.Flags().StringVarP(dst, name, short, "", "the OCID of the "+what+" [required]")
}

// listLeaf builds a list command: fetch is called for one page, or, with
// --all, for every page; l also holds --sort-by (one of sortFields) and
// --sort-order for fetch to send.
func listLeaf[C, T any](use, short, example string, required []string, l *listFlags, client clientFn[C],
	fetch func(cmd *cobra.Command, c C, limit *int, page *string) ([]T, *string, error), sortFields ...string) *cobra.Command {
	cmd := leaf(use, short, example, hints{}, required,
		func(cmd *cobra.Command, g *globals) error {
			c, err := client(cmd, g)
			if err != nil {
				return err
			}
			items, next, err := list(l, func(limit *int, page *string) ([]T, *string, error) {
				return fetch(cmd, c, limit, page)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: items, nextPage: next})
		})
	l.add(cmd, sortFields...)
	return cmd
}

// printWaited waits for --wait-for-state, when given, and prints the
// resource; after a wait that timed out it prints the last state seen, then
// fails.
func printWaited[T any](cmd *cobra.Command, g *globals, w *waitFlags, v T, etag *string, state func(T) string, get func(context.Context) (T, error)) error {
	v, err := wait(cmd.Context(), g, w, v, state, get)
	return printResult(cmd, g, response{data: v, etag: etag}, err)
}

// waitable says how --wait-for-state polls a resource: its states, how to
// read its state, and how to get it again.
type waitable[C, T any] struct {
	states []string
	state  func(T) string
	get    func(c C, id string) func(context.Context) (T, error)
}

// updateArgs are the options every update takes.
type updateArgs struct {
	id       string
	ifMatch  *string
	freeform map[string]string
	defined  map[string]map[string]any
}

// updateLeaf builds `update --<idFlag>` with --if-match, the tag options
// and, when wt is given, --wait-for-state. The command registers its own
// fields on the returned command; call sends them with u and returns the
// updated resource and its etag.
func updateLeaf[C, T any](idFlag, what, short, example string, client clientFn[C], wt *waitable[C, T],
	call func(cmd *cobra.Command, c C, u updateArgs) (T, *string, error)) *cobra.Command {
	var u updateArgs
	var ifMatch string
	var tags tagFlags
	var w waitFlags
	cmd := leaf("update", short, example, hints{}, []string{idFlag},
		func(cmd *cobra.Command, g *globals) error {
			var err error
			if u.freeform, u.defined, err = tags.parse(); err != nil {
				return err
			}
			u.ifMatch = optString(cmd, "if-match", ifMatch)
			c, err := client(cmd, g)
			if err != nil {
				return err
			}
			v, etag, err := call(cmd, c, u)
			if err != nil {
				return err
			}
			if wt == nil {
				return g.print(cmd.OutOrStdout(), response{data: v, etag: etag})
			}
			return printWaited(cmd, g, &w, v, etag, wt.state, wt.get(c, u.id))
		})
	f := cmd.Flags()
	ocidFlag(cmd, &u.id, idFlag, what)
	f.StringVar(&ifMatch, "if-match", "", "update only if the etag matches")
	tags.add(cmd)
	if wt != nil {
		w.add(cmd, wt.states...)
	}
	return cmd
}
