package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/agent"
	"github.com/coffer-vault/coffer/pkg/secretcache"
)

const runLong = `Runs a command with secrets in its environment.

Each --secret NAME=REF reads one secret and sets the environment variable
NAME to its decoded content. REF is a secret OCID or VAULT_OCID/SECRET_NAME,
optionally followed by @STAGE (CURRENT, PENDING, LATEST, PREVIOUS,
DEPRECATED) or @VERSION_NUMBER; the default is the CURRENT version.

The command runs without a shell, with stdin, stdout and stderr passed
through; signals coffer receives (INT, TERM, HUP, QUIT, USR1, USR2, WINCH)
are forwarded to it, and coffer exits with its exit code (128+N when it was
killed by signal N). Secret values are never printed: not in errors, not in
logs. Put "--" before the command so that its own flags are not read as
coffer's.

Authentication and endpoint as for the other client commands:
--config-file ($OCI_CLI_CONFIG_FILE, ~/.oci/config), --profile
($OCI_CLI_PROFILE, DEFAULT), --auth ($OCI_CLI_AUTH: api_key,
instance_principal, resource_principal), --region ($OCI_CLI_REGION) and
--endpoint ($COFFER_ENDPOINT).

Example:
  coffer run --secret DB_PASSWORD=ocid1.vaultsecret.oc1..xxx \
             --secret API_TOKEN=ocid1.vault.oc1..yyy/api-token@LATEST \
             -- ./server --port 8080`

// runOptions are the flags of `coffer run`.
type runOptions struct {
	secrets                                     []string
	configFile, profile, auth, region, endpoint string
	// failed is the secret that could not be read, for the advice.
	failed *secretEnv
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secretEnv is one --secret: the variable to set and the secret it reads.
type secretEnv struct {
	name string
	ref  string
	key  secretcache.Key
}

// parseSecretFlag reads NAME=REF.
func parseSecretFlag(s string) (secretEnv, error) {
	name, ref, ok := strings.Cut(s, "=")
	if !ok || name == "" || ref == "" {
		return secretEnv{}, fmt.Errorf("--secret %q: want NAME=SECRET_OCID or NAME=VAULT_OCID/SECRET_NAME", s)
	}
	if !envNameRE.MatchString(name) {
		return secretEnv{}, fmt.Errorf("--secret: %q is not a valid environment variable name", name)
	}
	e := secretEnv{name: name, ref: ref}
	base, sel, hasSel := strings.Cut(ref, "@")
	if vaultID, secretName, byName := strings.Cut(base, "/"); byName {
		if !strings.HasPrefix(vaultID, "ocid1.") || secretName == "" || strings.Contains(secretName, "/") {
			return secretEnv{}, fmt.Errorf("--secret %s: want VAULT_OCID/SECRET_NAME, got %q", name, ref)
		}
		e.key = secretcache.ByName(vaultID, secretName)
	} else {
		if !strings.HasPrefix(base, "ocid1.") {
			return secretEnv{}, fmt.Errorf("--secret %s: want a secret OCID or VAULT_OCID/SECRET_NAME, got %q", name, ref)
		}
		e.key = secretcache.ByID(base)
	}
	if hasSel {
		if n, err := strconv.ParseInt(sel, 10, 64); err == nil && n > 0 {
			e.key = e.key.AtVersion(n)
		} else {
			st := secretcache.Stage(strings.ToUpper(sel))
			switch st {
			case secretcache.StageCurrent, secretcache.StagePending, secretcache.StageLatest,
				secretcache.StagePrevious, secretcache.StageDeprecated:
				e.key = e.key.AtStage(st)
			default:
				return secretEnv{}, fmt.Errorf("--secret %s: after @ want a stage or a version number, got %q", name, sel)
			}
		}
	}
	return e, nil
}

// newRunCommand is `coffer run`.
func newRunCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run --secret NAME=REF... -- COMMAND [ARGS...]",
		Short: "Run a command with secrets in its environment",
		Long:  runLong,
		Example: `  coffer run --secret DB_PASSWORD=$SECRET_OCID -- ./server
  coffer run --secret TOKEN=$VAULT_OCID/api-token@LATEST -- sh -c 'curl -H "Authorization: Bearer $TOKEN" ...'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.report(cmd, o.run(cmd, args))
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // everything after COMMAND is the command's
	f.StringArrayVar(&o.secrets, "secret", nil, "NAME=SECRET_OCID or NAME=VAULT_OCID/SECRET_NAME, with an optional @STAGE or @VERSION (repeatable)")
	f.StringVar(&o.configFile, "config-file", "", "the OCI config file (default $"+envConfigFile+" or ~/.oci/config)")
	f.StringVar(&o.profile, "profile", "", "the profile in the config file (default $"+envProfile+" or DEFAULT)")
	f.StringVar(&o.auth, "auth", "", "api_key, instance_principal or resource_principal (default $"+envAuth+" or api_key)")
	f.StringVar(&o.region, "region", "", "the region (default $"+envRegion+" or the config file's)")
	f.StringVar(&o.endpoint, "endpoint", "", "the Secrets service URL (default $"+envEndpoint+", else the region's)")
	return cmd
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// report prints a failure of run the way the client commands print
// theirs (reportError: the service's code, message and request id, then
// advice), so that a missing secret reads the same here as in `coffer
// secrets`. The child's own exit status passes through untouched.
func (o *runOptions) report(cmd *cobra.Command, err error) error {
	var ee exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	g := newGlobals()
	g.configFile, g.profile, g.auth, g.region, g.endpoint = o.configFile, o.profile, o.auth, o.region, o.endpoint
	h := hints{notFound: secretBundleNotFound}
	if f := o.failed; f != nil && f.key.SecretID == "" {
		h.byName = func() (string, string) { return f.key.VaultID, f.key.Name }
	} else if f != nil {
		h.target = "--secret " + f.key.SecretID
	}
	return exitError{g.reportError(cmd.ErrOrStderr(), err, h)}
}

func (o *runOptions) run(cmd *cobra.Command, args []string) error {
	if len(o.secrets) == 0 {
		return usageErrorf("run: give at least one --secret NAME=REF")
	}
	envs := make([]secretEnv, 0, len(o.secrets))
	seen := make(map[string]bool)
	for _, s := range o.secrets {
		e, err := parseSecretFlag(s)
		if err != nil {
			return usageErrorf("run: %v", err)
		}
		if seen[e.name] {
			return usageErrorf("run: --secret %s given twice", e.name)
		}
		seen[e.name] = true
		envs = append(envs, e)
	}
	src := agent.Source{
		Auth: agent.Auth{
			Type:       firstNonEmpty(o.auth, os.Getenv(envAuth), agent.AuthAPIKey),
			ConfigFile: firstNonEmpty(o.configFile, os.Getenv(envConfigFile)),
			Profile:    firstNonEmpty(o.profile, os.Getenv(envProfile)),
		},
		Endpoint: firstNonEmpty(o.endpoint, os.Getenv(envEndpoint)),
		Region:   firstNonEmpty(o.region, os.Getenv(envRegion)),
	}
	switch src.Auth.Type {
	case agent.AuthAPIKey, agent.AuthInstancePrincipal, agent.AuthResourcePrincipal:
	default:
		return usageErrorf("run: --auth: want api_key, instance_principal or resource_principal, got %q", src.Auth.Type)
	}
	if src.Auth.Type != agent.AuthAPIKey {
		src.Auth.ConfigFile, src.Auth.Profile = "", ""
	}
	client, err := agent.NewSecretsClient(src)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	cache := secretcache.New(client, secretcache.Options{RefreshAhead: -1})
	defer cache.Close()

	env := os.Environ()
	values := make([][]byte, 0, len(envs))
	defer func() {
		for _, v := range values {
			clear(v)
		}
	}()
	for _, e := range envs {
		s, err := cache.Get(cmd.Context(), e.key)
		if err != nil {
			// The error names the secret, never its content.
			o.failed = &e
			return &stepError{step: fmt.Sprintf("read secret %s for %s", e.ref, e.name), err: err}
		}
		if bytes.IndexByte(s.Bytes(), 0) >= 0 {
			return fmt.Errorf("run: secret %s for %s holds a NUL byte, which an environment variable cannot carry", e.ref, e.name)
		}
		kv := make([]byte, 0, len(e.name)+1+s.Len())
		kv = append(append(append(kv, e.name...), '='), s.Bytes()...)
		values = append(values, kv)
		env = append(env, string(kv))
	}
	return runChild(cmd.Context(), args, env, cmd)
}

// forwarded are the signals coffer run passes on to its child.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// runChild runs args with env, forwarding signals, and returns the child's
// exit status as an exitError.
func runChild(_ context.Context, args, env []string, cmd *cobra.Command) error {
	c := exec.Command(args[0], args[1:]...)
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		// exec's error names the program, never the environment.
		fmt.Fprintf(cmd.ErrOrStderr(), "Error: run: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitError{127}
		}
		return exitError{126}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = c.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := c.Wait()
	close(done)
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitError{128 + int(ws.Signal())}
		}
		return exitError{ee.ExitCode()}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Error: run: %v\n", err)
	return exitError{1}
}
