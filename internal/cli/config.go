package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/common/auth"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/coffer-vault/coffer/internal/retry"
	"github.com/coffer-vault/coffer/internal/sdkauth"
)

// Environment variables the client commands read, as the oci CLI does, plus
// COFFER_ENDPOINT, which points every regional client at one Coffer server.
const (
	envProfile    = "OCI_CLI_PROFILE"
	envConfigFile = "OCI_CLI_CONFIG_FILE"
	envAuth       = "OCI_CLI_AUTH"
	envRegion     = "OCI_CLI_REGION"
	envEndpoint   = "COFFER_ENDPOINT"
)

// Authentication types accepted by --auth, named as the oci CLI names them.
const (
	authAPIKey            = "api_key"
	authSecurityToken     = "security_token"
	authInstancePrincipal = "instance_principal"
	authResourcePrincipal = "resource_principal"
)

// defaultRetry is the retry policy of every SDK client the CLI builds.
// Tests shorten its delays.
var defaultRetry = retry.Policy{}

// globals holds the oci-style global options and what is derived from them
// lazily: no configuration is read and no SDK client is built until a
// command runs, so that --help and completion start in milliseconds.
type globals struct {
	configFile, profile, region, endpoint, auth string
	query, output                               string
	rcFile, fromJSON                            string
	generateJSON                                bool
	rawOutput, noRetry, wide                    bool
	maxRetries                                  int

	getenv func(string) string
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error

	// stderr is the command's error stream; stderrTTY says whether it is
	// a terminal, where --wait-for-state shows its progress.
	stderr    io.Writer
	stderrTTY bool

	// rc is the oci_cli_rc settings file, when there is one.
	rc rcFile

	provider common.ConfigurationProvider
	// attempts counts SDK attempts of the last call, for error reports.
	attempts atomic.Int32
}

type globalsKey struct{}

// newGlobals returns the options with the process environment and real
// clock.
func newGlobals() *globals {
	return &globals{
		getenv: os.Getenv,
		now:    time.Now,
		sleep:  retry.Sleep,
	}
}

// clientAnnotation marks a client command group (kms, vault, secrets,
// iam): the commands under it take the global options.
const clientAnnotation = "coffer/client"

// clientGroup marks a command group as one whose commands call the
// service through the SDK and take the global options.
func clientGroup(c *cobra.Command) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[clientAnnotation] = "true"
	return c
}

// isClient reports whether cmd is, or is under, a client command group.
func isClient(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[clientAnnotation] != "" {
			return true
		}
	}
	return false
}

// bindGlobals registers the global options once, as persistent flags of
// the root, so that they are accepted before the command group (`coffer
// --profile X kms ...`, as the oci CLI takes them) as well as after it.
// Commands under a client group reach them through globalsFrom. The other
// commands (server, agent, run, completion) do not show them in their help
// and refuse them: their own options of the same names (run's --profile,
// server's --region) take precedence wherever they are given.
func bindGlobals(root *cobra.Command) *globals {
	g := newGlobals()
	f := root.PersistentFlags()
	f.StringVar(&g.configFile, "config-file", "", "the path to the OCI config file (default $"+envConfigFile+" or ~/.oci/config)")
	f.StringVar(&g.profile, "profile", "", "the profile in the config file to load (default $"+envProfile+" or DEFAULT)")
	f.StringVar(&g.region, "region", "", "the region to make calls against (overrides the config file)")
	f.StringVar(&g.endpoint, "endpoint", "", "the endpoint to call; for key and crypto commands the vault's management or crypto endpoint (default $"+envEndpoint+" for regional services)")
	f.StringVar(&g.auth, "auth", "", "authentication: api_key, security_token, instance_principal, resource_principal (default api_key)")
	f.StringVar(&g.query, "query", "", "JMESPath query applied to the output, e.g. 'data[].id'")
	f.BoolVar(&g.rawOutput, "raw-output", false, "print a string result without JSON quoting")
	f.StringVar(&g.output, "output", "json", "output format: json or table")
	f.BoolVar(&g.wide, "wide", false, "with --output table, print every column in full rather than fit the terminal (or $COLUMNS, default 100)")
	f.BoolVar(&g.noRetry, "no-retry", false, "do not retry 429 and 5xx responses")
	f.IntVar(&g.maxRetries, "max-retries", retry.DefaultMaxAttempts-1, "retries of a 429, 5xx or network failure (exponential backoff with jitter)")
	f.StringVar(&g.rcFile, "cli-rc-file", "", "the oci CLI settings file: default profile, canned queries, option defaults (default $"+envRCFile+" or ~/.oci/oci_cli_rc)")
	f.StringVar(&g.fromJSON, "from-json", "", "the command's options as a JSON object (or file://path), keys as --generate-full-command-json-input prints them")
	f.BoolVar(&g.generateJSON, "generate-full-command-json-input", false, "print the command's options as JSON for --from-json, and exit")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "table"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("auth", cobra.FixedCompletions([]string{authAPIKey, authSecurityToken, authInstancePrincipal, authResourcePrincipal}, cobra.ShellCompDirectiveNoFileComp))
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if !isClient(cmd) {
			return refuseGlobals(cmd)
		}
		cmd.SetContext(context.WithValue(cmd.Context(), globalsKey{}, g))
		g.stderr = cmd.ErrOrStderr()
		g.stderrTTY = isTerminal(g.stderr)
		if err := g.loadRC(); err != nil {
			return exitError{g.reportError(cmd.ErrOrStderr(), err, hints{})}
		}
		if g.generateJSON {
			if err := printSkeleton(cmd); err != nil {
				return exitError{g.reportError(cmd.ErrOrStderr(), err, hints{})}
			}
			// Done: the skeleton is the whole output, as in the oci CLI.
			return exitError{0}
		}
		for _, step := range []func() error{
			func() error { return g.applyFromJSON(cmd) },
			func() error { return g.applyRCDefaults(cmd) },
			g.cannedQuery,
			g.validate,
		} {
			if err := step(); err != nil {
				return exitError{g.reportError(cmd.ErrOrStderr(), err, hints{})}
			}
		}
		return nil
	}
	// A bad option is a usage error (exit 2) for every command, client or
	// not.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return exitError{reportUsage(cmd.ErrOrStderr(), err.Error())}
	})
	return g
}

// refuseGlobals fails a command outside the client groups that was given
// a global option it does not use, rather than ignore it.
func refuseGlobals(cmd *cobra.Command) error {
	var given []string
	cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			given = append(given, "--"+f.Name)
		}
	})
	if len(given) == 0 {
		return nil
	}
	return exitError{reportUsage(cmd.ErrOrStderr(), fmt.Sprintf("%s does not take %s: global options are for the client commands (kms, vault, secrets, iam)",
		cmd.CommandPath(), strings.Join(given, ", ")))}
}

// localUsage is cobra's usage template without the "Global Flags"
// section, for the commands that do not take the global options.
func localUsage(root *cobra.Command) string {
	const section = "{{if .HasAvailableInheritedFlags}}\n\nGlobal Flags:\n{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}"
	return strings.Replace(root.UsageTemplate(), section, "", 1)
}

// globalsFrom returns the global options. It is valid inside RunE of any
// command under a client group (see clientGroup).
func globalsFrom(cmd *cobra.Command) *globals {
	if g, ok := cmd.Context().Value(globalsKey{}).(*globals); ok {
		return g
	}
	panic("cli: command " + cmd.CommandPath() + " is not under a client command group")
}

func (g *globals) validate() error {
	switch g.output {
	case "json", "table":
	default:
		return usageErrorf("--output must be json or table, not %q", g.output)
	}
	switch g.authType() {
	case authAPIKey, authSecurityToken, authInstancePrincipal, authResourcePrincipal:
	default:
		return usageErrorf("--auth must be one of api_key, security_token, instance_principal, resource_principal; got %q", g.auth)
	}
	if g.maxRetries < 0 {
		return usageErrorf("--max-retries must not be negative")
	}
	if g.query != "" {
		if err := compileQuery(g.query); err != nil {
			return usageErrorf("--query: %v", err)
		}
	}
	return nil
}

func (g *globals) authType() string {
	return cmp.Or(g.auth, g.getenv(envAuth), authAPIKey)
}

// configPath is --config-file, then OCI_CLI_CONFIG_FILE, then
// ~/.oci/config.
func (g *globals) configPath() string {
	p := g.configFile
	if p == "" {
		p = g.getenv(envConfigFile)
	}
	if p == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "~"
		}
		p = filepath.Join(home, ".oci", "config")
	}
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	return p
}

// profileName is --profile, then OCI_CLI_PROFILE, then the cli rc file's
// default_profile, then DEFAULT.
func (g *globals) profileName() string {
	return cmp.Or(g.profile, g.getenv(envProfile), g.rcProfile(), "DEFAULT")
}

func (g *globals) regionOverride() string {
	return cmp.Or(g.region, g.getenv(envRegion))
}

// configError is a problem with the local configuration (file, profile,
// key): no request was sent.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// configProvider builds (once) the SDK configuration provider for --auth.
func (g *globals) configProvider() (common.ConfigurationProvider, error) {
	if g.provider != nil {
		return g.provider, nil
	}
	var p common.ConfigurationProvider
	var err error
	switch g.authType() {
	case authAPIKey, authSecurityToken:
		path, profile := g.configPath(), g.profileName()
		if err := checkProfile(path, profile); err != nil {
			return nil, &configError{err}
		}
		if g.authType() == authSecurityToken {
			p, err = common.ConfigurationProviderForSessionTokenWithProfile(path, profile, "")
		} else {
			p, err = common.ConfigurationProviderFromFileWithProfile(path, profile, "")
		}
		if err == nil {
			_, err = common.IsConfigurationProviderValid(sdkauth.WithRegion(p, g.regionOverride()))
		}
		if err != nil {
			return nil, &configError{fmt.Errorf("config file %s, profile %s: %w", path, profile, err)}
		}
	case authInstancePrincipal:
		p, err = sdkauth.InstancePrincipal(g.regionOverride())
		if err != nil {
			return nil, &configError{fmt.Errorf("instance principal: %w", err)}
		}
	case authResourcePrincipal:
		p, err = auth.ResourcePrincipalConfigurationProvider()
		if err != nil {
			return nil, &configError{fmt.Errorf("resource principal: %w", err)}
		}
	}
	if r := g.regionOverride(); r != "" {
		p = sdkauth.WithRegion(p, r)
	}
	g.provider = p
	return p, nil
}

// checkProfile gives the errors a user can act on before the SDK gives its
// own: the file is missing, or the profile is not in it.
func checkProfile(path, profile string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("config file %s does not exist: pass --config-file, set %s, or run `coffer server --dev` and use the config it writes", path, envConfigFile)
	}
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "["+profile+"]" {
			return nil
		}
	}
	return fmt.Errorf("config file %s has no profile [%s]: pass --profile or set %s", path, profile, envProfile)
}

// regionalEndpoint is the endpoint for the regional services (kms vaults,
// vaults, secrets, identity): --endpoint, then COFFER_ENDPOINT; empty means
// the SDK's region-derived endpoint.
func (g *globals) regionalEndpoint() string {
	return cmp.Or(g.endpoint, g.getenv(envEndpoint))
}

// configure applies the endpoint and retry policy to an SDK client.
func (g *globals) configure(c *common.BaseClient, host string) {
	if host != "" {
		c.Host = host
	}
	rp := g.retryPolicy()
	c.SetCustomClientConfiguration(common.CustomClientConfiguration{RetryPolicy: &rp})
}

// retryPolicy retries 429, 5xx and network failures with the shared policy
// (internal/retry). Unlike the library default it does not retry a 409
// IncorrectState: at a terminal a conflict such as "the vault is pending
// deletion" must be reported at once, not after half a minute.
func (g *globals) retryPolicy() common.RetryPolicy {
	p := defaultRetry
	p.MaxAttempts = g.maxRetries + 1
	if g.noRetry {
		p.MaxAttempts = 1
	}
	p.Retryable = cliRetryable
	rp := p.SDK()
	should := rp.ShouldRetryOperation
	g.attempts.Store(0)
	rp.ShouldRetryOperation = func(r common.OCIOperationResponse) bool {
		g.attempts.Store(int32(r.AttemptNumber))
		return should(r)
	}
	return rp
}

func cliRetryable(err error) bool {
	var se common.ServiceError
	if errors.As(err, &se) {
		s := se.GetHTTPStatusCode()
		return s == 429 || (s >= 500 && s <= 599 && s != 501)
	}
	return retry.Retryable(err)
}

// readSecretInput reads content from a file or, for "-", from stdin.
func readSecretInput(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxContent+1))
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		if len(b) > maxContent {
			return nil, usageErrorf("content on stdin is larger than %d bytes", maxContent)
		}
		return b, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("content file: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxContent+1))
	if err != nil {
		return nil, err // "read PATH: ..."
	}
	if len(b) > maxContent {
		return nil, usageErrorf("content file %s is larger than %d bytes", path, maxContent)
	}
	return b, nil
}

// maxContent bounds secret content read from a file or stdin; OCI's limit
// for a secret bundle is 25 KB, so 1 MiB is generous and still bounded.
const maxContent = 1 << 20
