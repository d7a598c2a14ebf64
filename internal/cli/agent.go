package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/agent"
)

const agentLong = `Keeps secrets rendered to files for applications that read them from disk.

The agent reads each secret at start, then every refresh_interval (with
jitter) and on SIGHUP; it writes a file only when its content changes
(atomically, with its mode and owner set before any byte is written) and
then runs the file's on_change action. When the service is unreachable the
files keep their last good content and the agent retries with backoff.
SIGTERM or SIGINT stops it: the write in progress finishes, no new action
starts. Logs name secrets and their version numbers, never their content.

Against Coffer the agent also follows the change feed (--follow-changes,
on by default): a rotated secret's files are re-rendered as soon as the
change is reported, without waiting for the schedule. Real OCI and older
Coffer servers have no feed: the agent logs that once and refreshes on
its schedule only.

A missing output directory is created, with its missing parents, mode 0700
and owned by the agent's user. When another user (files[].owner) must reach
the file, create its directory beforehand with the access that user needs.

The configuration is JSON; an unknown field or a bad value is an error that
names the field (e.g. "files[1].mode"). Relative paths are taken from the
configuration file's directory. Example:

  {
    "auth": {"type": "api_key", "config_file": "~/.oci/config", "profile": "DEFAULT"},
    "endpoint": "https://coffer.example:8443",
    "refresh_interval": "5m",
    "files": [
      {
        "path": "/etc/app/db.env",
        "secrets": {
          "db":  {"id": "ocid1.vaultsecret.oc1..."},
          "api": {"vault_id": "ocid1.vault.oc1...", "name": "api-token"}
        },
        "template": "DB_PASSWORD={{ secret \"db\" | jsonField \"password\" }}\nAPI_TOKEN={{ secret \"api\" }}\n",
        "mode": "0640",
        "owner": "app:app",
        "on_change": {"command": ["systemctl", "reload", "app"]}
      },
      {
        "path": "/etc/app/tls.key",
        "secret": {"id": "ocid1.vaultsecret.oc1...", "stage": "CURRENT"},
        "on_change": {"signal": {"pid_file": "/run/app.pid", "signal": "SIGHUP"}}
      }
    ]
  }

Fields:
  auth.type         api_key (default), instance_principal, resource_principal;
                    api_key also takes config_file (default ~/.oci/config),
                    profile (default DEFAULT) and passphrase_env (the NAME of a
                    variable holding the key's passphrase); against Coffer a
                    resource principal's token comes from
                    coffer iam resource-principal-token, an instance's
                    certificate from coffer iam instance-certificate (served
                    by coffer iam instance-metadata)
  endpoint          the service URL (scheme://host[:port], no path); default:
                    the SDK's endpoint for the region; region overrides it
  refresh_interval  default "5m" (at least "1s"); jitter (fraction, default
                    0.1); action_timeout (default "30s")
  files[].secret    raw file: the decoded content of one secret, {"id": OCID}
                    or {"vault_id": OCID, "name": NAME}, with at most one of
                    stage, version, version_name (default stage CURRENT)
  files[].secrets   template file: a map of names to secrets, with template
                    (inline) or template_file
  files[].mode      octal string, default "0600"
  files[].owner     "uid:gid", "user:group" or "user"
  files[].on_change {"command": [argv...]} (no shell) or
                    {"signal": {"pid_file": PATH, "signal": "SIGHUP"}}

Templates are Go text/template with: secret "name" (content), secretVersion
"name", base64decode, base64encode, jsonField "a.b.0", trimSpace and the
builtins (printf, index, slice, eq, ...). range, define and template are
refused. A secret that cannot be read is an error, never an empty value,
and a failed render leaves the file as it was.`

// newAgentCommand is `coffer agent`.
func newAgentCommand() *cobra.Command {
	var configPath, logLevel, logFormat string
	var once, follow bool
	cmd := &cobra.Command{
		Use:   "agent --config FILE",
		Short: "Keep secrets rendered to files, refreshed on a schedule and on SIGHUP",
		Long:  agentLong,
		Example: `  coffer agent --config /etc/coffer/agent.json
  coffer agent --config agent.json --once          # render once, e.g. in an init container
  kill -HUP $(pidof coffer)                        # refresh now`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return reportAgent(cmd, runAgent(cmd, configPath, logLevel, logFormat, once, follow))
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "the agent's JSON configuration file (see above)")
	f.BoolVar(&once, "once", false, "render every file once and exit (non-zero if any file could not be rendered)")
	f.BoolVar(&follow, "follow-changes", true, "follow Coffer's change feed to re-render a rotated secret at once (real OCI has none: the schedule alone refreshes)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	return cmd
}

// reportAgent prints a failure of the agent as the client commands print
// theirs (see reportError): one "Error:" line, or the service's code,
// message and request id with advice, and exit 2 for a usage error.
func reportAgent(cmd *cobra.Command, err error) error {
	var ee exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return exitError{newGlobals().reportError(cmd.ErrOrStderr(), err, hints{notFound: secretBundleNotFound})}
}

func runAgent(cmd *cobra.Command, configPath, logLevel, logFormat string, once, follow bool) error {
	if configPath == "" {
		return usageErrorf("agent: --config is required")
	}
	log, err := agentLogger(cmd, logLevel, logFormat)
	if err != nil {
		return err
	}
	plan, err := agent.Load(configPath)
	if err != nil {
		return err
	}
	client, err := agent.NewSecretsClient(plan.Source())
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	opts := agent.Options{Logger: log, ActionOutput: cmd.ErrOrStderr()}
	if follow && !once {
		opts.Changes = agent.NewChangeFeed(client)
	}
	a := agent.New(plan, client, opts)
	defer a.Close()

	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == syscall.SIGHUP {
					a.Trigger()
					continue
				}
				log.Info("agent: signal received; stopping", slog.String("signal", s.String()))
				cancel()
				return
			}
		}
	}()
	if once {
		if err := a.Refresh(ctx); err != nil && ctx.Err() == nil {
			var se common.ServiceError
			if errors.Is(err, agent.ErrIncomplete) && !errors.As(err, &se) {
				// Each failure is in the log already, where it
				// happened, with its file: say it once. A service's
				// answer is reported as every command reports it, with
				// its hints.
				return errors.New("agent --once: not every file was written; the log above says why")
			}
			return err // its operation (agent.Refresh) names the agent
		}
		return nil
	}
	log.Info("agent: started", slog.String("config", configPath), slog.Int("files", len(plan.Files)),
		slog.Duration("refresh_interval", plan.RefreshInterval))
	return a.Run(ctx)
}

func agentLogger(cmd *cobra.Command, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("agent: --log-level: want debug, info, warn or error, got %q", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts)), nil
	}
	return nil, usageErrorf("agent: --log-format: want text or json, got %q", format)
}
