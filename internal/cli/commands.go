package cli

import (
	"context"
	"fmt"

	"github.com/oracle/oci-go-sdk/v65/common"
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

// cryptoClient is the client of the vault's crypto endpoint: --endpoint,
// or looked up from --vault-id.
func cryptoClient(vaultID *string) clientFn[keymanagement.KmsCryptoClient] {
	return func(cmd *cobra.Command, g *globals) (keymanagement.KmsCryptoClient, error) {
		return g.kmsCryptoClient(cmd.Context(), *vaultID)
	}
}

// managementClient is the client of the vault's management endpoint:
// --endpoint, or looked up from --vault-id (see vaultIDFlag).
func managementClient(vaultID *string) clientFn[keymanagement.KmsManagementClient] {
	return func(cmd *cobra.Command, g *globals) (keymanagement.KmsManagementClient, error) {
		return g.kmsManagementClient(cmd.Context(), *vaultID)
	}
}

// resource says how the commands read one kind of resource: its name in
// help texts, its OCID option, its get call and, for one with a lifecycle,
// how --wait-for-state follows it.
type resource[C, T any] struct {
	what, idFlag string
	get          func(ctx context.Context, c C, id string) (T, *string, error)
	// states, state and id are set for a resource with a lifecycle.
	states []string
	state  func(T) string
	id     func(T) *string
}

// poll gets the resource again, for --wait-for-state.
func (r *resource[C, T]) poll(c C, id string) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) {
		v, _, err := r.get(ctx, c, id)
		return v, err
	}
}

// sendResource makes the command's client, sends a request that answers
// with a resource and its etag, and prints it, after waiting for
// --wait-for-state when w is given (nil: the command has no such option).
// idOf names the resource the wait polls.
func sendResource[C, T any](cmd *cobra.Command, g *globals, r *resource[C, T], client clientFn[C], w *waitFlags,
	idOf func(T) *string, call func(ctx context.Context, c C) (T, *string, error)) error {
	c, err := client(cmd, g)
	if err != nil {
		return err
	}
	v, etag, err := call(cmd.Context(), c)
	if err != nil {
		return err
	}
	if w == nil || len(w.states) == 0 {
		return g.print(cmd.OutOrStdout(), response{data: v, etag: etag})
	}
	id := idOf(v)
	if id == nil {
		return fmt.Errorf("the %s has no id to wait on", r.what)
	}
	return printWaited(cmd, g, w, v, etag, r.state, r.poll(c, *id))
}

// flagID is the idOf of a command that names its resource with an option.
func flagID[T any](id *string) func(T) *string {
	return func(T) *string { return id }
}

// waitOption says whether a create or update command takes --wait-for-state.
type waitOption bool

const (
	withWait waitOption = true
	noWait   waitOption = false
)

// waitFlagsFor returns the --wait-for-state options to register, or nil.
func waitFlagsFor(o waitOption) *waitFlags {
	if o == noWait {
		return nil
	}
	return &waitFlags{}
}

// send makes the command's client, sends one request and prints the
// answer.
func send[C any](cmd *cobra.Command, g *globals, client clientFn[C], call func(ctx context.Context, c C) (response, error)) error {
	c, err := client(cmd, g)
	if err != nil {
		return err
	}
	r, err := call(cmd.Context(), c)
	if err != nil {
		return err
	}
	return g.print(cmd.OutOrStdout(), r)
}

// sendOnly makes the command's client and sends one request whose answer
// has nothing to print.
func sendOnly[C any](cmd *cobra.Command, g *globals, client clientFn[C], call func(ctx context.Context, c C) error) error {
	c, err := client(cmd, g)
	if err != nil {
		return err
	}
	return call(cmd.Context(), c)
}

// getLeaf builds `get --<idFlag>`: one SDK call that returns a resource
// and its etag.
func getLeaf[C, T any](r *resource[C, T], example string, client clientFn[C]) *cobra.Command {
	var id string
	cmd := leaf("get", "Get a "+r.what, example, hints{}, []string{r.idFlag},
		func(cmd *cobra.Command, g *globals) error {
			return send(cmd, g, client, func(ctx context.Context, c C) (response, error) {
				v, etag, err := r.get(ctx, c, id)
				return response{data: v, etag: etag}, err
			})
		})
	ocidFlag(cmd, &id, r.idFlag, r.what)
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

// updateArgs are the options every update takes.
type updateArgs struct {
	id       string
	ifMatch  *string
	freeform map[string]string
	defined  map[string]map[string]any
}

// updateLeaf builds `update --<idFlag>` with --if-match, the tag options
// and, withWait, --wait-for-state. The command registers its own fields on
// the returned command; prepare, when given, checks them before anything
// else; call sends them with u and returns the updated resource and its
// etag.
func updateLeaf[C, T any](r *resource[C, T], short, example string, client clientFn[C], wo waitOption,
	prepare func(cmd *cobra.Command) error, call func(cmd *cobra.Command, c C, u updateArgs) (T, *string, error)) *cobra.Command {
	var u updateArgs
	var ifMatch string
	var tags tagFlags
	w := waitFlagsFor(wo)
	cmd := leaf("update", short, example, hints{}, []string{r.idFlag},
		func(cmd *cobra.Command, g *globals) error {
			if prepare != nil {
				if err := prepare(cmd); err != nil {
					return err
				}
			}
			var err error
			if u.freeform, u.defined, err = tags.parse(); err != nil {
				return err
			}
			u.ifMatch = optString(cmd, "if-match", ifMatch)
			return sendResource(cmd, g, r, client, w, flagID[T](&u.id), func(_ context.Context, c C) (T, *string, error) {
				return call(cmd, c, u)
			})
		})
	ocidFlag(cmd, &u.id, r.idFlag, r.what)
	cmd.Flags().StringVar(&ifMatch, "if-match", "", "update only if the etag matches")
	tags.add(cmd)
	if w != nil {
		w.add(cmd, r.states...)
	}
	return cmd
}

// createArgs are the options every create takes.
type createArgs struct {
	compartment string
	freeform    map[string]string
	defined     map[string]map[string]any
}

// createLeaf builds `create` with --compartment-id, the tag options and,
// withWait, --wait-for-state. compartmentHelp describes --compartment-id;
// empty, the option is the tenancy's and defaults to the tenancy of the
// configuration, as the oci CLI has it for users and groups. prepare, when
// given, checks the command's own options before anything else; call
// sends them with a and returns the new resource and its etag.
func createLeaf[C, T any](r *resource[C, T], short, example, compartmentHelp string, required []string, client clientFn[C], wo waitOption,
	prepare func(cmd *cobra.Command) error, call func(cmd *cobra.Command, c C, a createArgs) (T, *string, error)) *cobra.Command {
	var compartment string
	var tags tagFlags
	w := waitFlagsFor(wo)
	inTenancy := compartmentHelp == ""
	if inTenancy {
		compartmentHelp = tenancyHelp
	}
	cmd := leaf("create", short, example, hints{}, required,
		func(cmd *cobra.Command, g *globals) error {
			if prepare != nil {
				if err := prepare(cmd); err != nil {
					return err
				}
			}
			var a createArgs
			var err error
			if a.freeform, a.defined, err = tags.parse(); err != nil {
				return err
			}
			a.compartment = compartment
			if inTenancy {
				if a.compartment, err = tenancyDefault(g, compartment); err != nil {
					return err
				}
			}
			return sendResource(cmd, g, r, client, w, r.id, func(_ context.Context, c C) (T, *string, error) {
				return call(cmd, c, a)
			})
		})
	cmd.Flags().StringVarP(&compartment, "compartment-id", "c", "", compartmentHelp)
	tags.add(cmd)
	if w != nil {
		w.add(cmd, r.states...)
	}
	return cmd
}

// tenancyHelp describes a --compartment-id that defaults to the tenancy.
const tenancyHelp = "the tenancy OCID (default: the tenancy of the config)"

// tenancyDefault fills an optional --compartment-id with the tenancy from
// the configuration, as the oci CLI does for users and groups.
func tenancyDefault(g *globals, compartment string) (string, error) {
	if compartment != "" {
		return compartment, nil
	}
	p, err := g.configProvider()
	if err != nil {
		return "", err
	}
	t, err := p.TenancyOCID()
	if err != nil {
		return "", &configError{fmt.Errorf("tenancy from the configuration: %w", err)}
	}
	return t, nil
}

// actionLeaf builds a POST on one resource that answers with the resource
// (enable, disable, a deletion or its cancelling): --<idFlag>, --if-match
// and --wait-for-state. prepare, when given, checks the command's own
// options before anything else.
func actionLeaf[C, T any](r *resource[C, T], use, short, example string, required []string, client clientFn[C],
	prepare func(cmd *cobra.Command) error, call func(ctx context.Context, c C, id string, ifMatch *string) (T, *string, error)) *cobra.Command {
	var id, ifMatch string
	var w waitFlags
	cmd := leaf(use, short, example, hints{}, required,
		func(cmd *cobra.Command, g *globals) error {
			if prepare != nil {
				if err := prepare(cmd); err != nil {
					return err
				}
			}
			return sendResource(cmd, g, r, client, &w, flagID[T](&id), func(ctx context.Context, c C) (T, *string, error) {
				return call(ctx, c, id, optString(cmd, "if-match", ifMatch))
			})
		})
	cmd.Flags().StringVar(&id, r.idFlag, "", "the OCID of the "+r.what+" [required]")
	cmd.Flags().StringVar(&ifMatch, "if-match", "", "act only if the etag matches")
	w.add(cmd, r.states...)
	return cmd
}

// deletionTime is --time-of-deletion: empty, the service's default.
type deletionTime struct{ v string }

func (d *deletionTime) add(cmd *cobra.Command, help string) {
	cmd.Flags().StringVar(&d.v, "time-of-deletion", "", help)
}

// parse returns the time, or nil when none was given.
func (d *deletionTime) parse() (*common.SDKTime, error) {
	if d.v == "" {
		return nil, nil
	}
	return parseTime("time-of-deletion", d.v)
}

// deleteLeaf builds `delete --<idFlag> [--if-match] [--force]`.
func deleteLeaf[C, T any](r *resource[C, T], example string, client clientFn[C], del func(ctx context.Context, c C, id string, ifMatch *string) error) *cobra.Command {
	var id, ifMatch string
	var force bool
	cmd := leaf("delete", "Delete a "+r.what, example, hints{}, []string{r.idFlag},
		func(cmd *cobra.Command, g *globals) error {
			if err := confirm(cmd, force, "the "+r.what+" "+id); err != nil {
				return err
			}
			return sendOnly(cmd, g, client, func(ctx context.Context, c C) error {
				return del(ctx, c, id, optString(cmd, "if-match", ifMatch))
			})
		})
	cmd.Flags().StringVar(&id, r.idFlag, "", "the OCID of the "+r.what+" [required]")
	cmd.Flags().StringVar(&ifMatch, "if-match", "", "delete only if the etag matches")
	cmd.Flags().BoolVar(&force, "force", false, "delete without asking for confirmation")
	return cmd
}
