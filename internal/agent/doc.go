// Package agent keeps secrets rendered to files for applications that read
// them from disk: it is `coffer agent`. It reads each secret on a schedule
// (and on demand), renders each file from the raw content of one secret or
// a template over several, writes a file only when its content changes
// (pkg/securefile: atomic, mode and owner set before any byte is written,
// no symlink followed), and then runs the file's action: a command (no
// shell) or a signal to the process named by a pid file.
//
// It keeps working through an outage: a read that fails is retried with
// backoff (internal/retry), files keep their last good content, and each
// secret's version is tracked and logged on its own. Content is never
// logged, and never appears in an error: template errors keep only their
// position.
//
// # Configuration
//
// The configuration is JSON (only the standard library parses it, and the
// format is strict: an unknown field is an error naming it). Relative
// paths are taken from the configuration file's directory.
//
//	{
//	  "auth": {"type": "api_key", "config_file": "~/.oci/config", "profile": "DEFAULT"},
//	  "endpoint": "https://coffer.example:8443",
//	  "refresh_interval": "5m",
//	  "files": [
//	    {
//	      "path": "/etc/app/db.env",
//	      "secrets": {
//	        "db":  {"id": "ocid1.vaultsecret.oc1..."},
//	        "api": {"vault_id": "ocid1.vault.oc1...", "name": "api-token", "stage": "CURRENT"}
//	      },
//	      "template": "DB_PASSWORD={{ secret \"db\" | jsonField \"password\" }}\nAPI_TOKEN={{ secret \"api\" }}\n",
//	      "mode": "0640",
//	      "owner": "app:app",
//	      "on_change": {"command": ["systemctl", "reload", "app"]}
//	    },
//	    {
//	      "path": "/etc/app/tls.key",
//	      "secret": {"id": "ocid1.vaultsecret.oc1...", "version": 3},
//	      "on_change": {"signal": {"pid_file": "/run/app.pid", "signal": "SIGHUP"}}
//	    }
//	  ]
//	}
//
// Fields:
//
//   - auth.type: api_key (default), instance_principal or
//     resource_principal (the SDK's providers; the latter two read their
//     usual environment and metadata). Against Coffer, a resource
//     principal gets its token from `coffer iam resource-principal-token`
//     (OCI_RESOURCE_PRINCIPAL_VERSION=2.2 with the RPST and key as files;
//     minting again into the same directory before expiry rotates both);
//     an instance principal gets its certificate from
//     `coffer iam instance-certificate` and reads it from the metadata
//     stand-in `coffer iam instance-metadata` (OCI_METADATA_BASE_URL), then
//     federates at Coffer's /v1/x509 (OCI_SDK_AUTH_CLIENT_REGION_URL).
//     api_key also takes config_file
//     (default ~/.oci/config), profile (default DEFAULT) and
//     passphrase_env (the name of a variable holding the key's passphrase).
//   - endpoint: the Secrets service URL, scheme://host[:port] with no path;
//     empty means the SDK's endpoint for the region. region overrides the
//     auth method's region.
//   - refresh_interval (default "5m", at least "1s"), jitter (a fraction,
//     default 0.1, at most 0.5), action_timeout (default "30s").
//   - files[].path: the file; a missing directory is created, with its
//     missing parents, mode 0700 (DirMode) and owned by the agent's user.
//   - files[].secret: a raw file, the decoded content of one secret.
//     Or files[].secrets (a map from a name to a secret) and template (or
//     template_file). A secret is {"id": OCID} or {"vault_id": OCID,
//     "name": NAME}, with at most one of stage, version, version_name
//     (default stage CURRENT).
//   - files[].mode: octal string, default "0600". files[].owner: "uid:gid",
//     "user:group" or "user" (needs privilege unless it is the agent's own).
//   - files[].on_change: {"command": [argv...]} or {"signal": {"pid_file":
//     PATH, "signal": "SIGHUP"}}. An action runs once per refresh in which
//     its file's content changed (once in all if several files share it);
//     a failed action is logged and not retried until the next change.
//
// The template language is described at [Template].
//
// # Running
//
// Load a Plan, build a client with NewSecretsClient, then New and Run. Run
// refreshes at once and then every refresh_interval (jittered), and on
// Trigger (SIGHUP in `coffer agent`); after a refresh that failed it
// retries sooner, backing off exponentially up to the interval.
// With Options.Changes (NewChangeFeed; `coffer agent` sets it unless
// --follow-changes=false) Run also follows Coffer's change feed after its
// first refresh: a change to a secret it reads re-reads that secret and
// re-renders the files that use it at once, without moving the schedule;
// a feed reset refreshes everything. A service without a feed (real OCI)
// is logged once at info and the schedule alone refreshes.
// Cancelling Run's context stops it: the write in progress completes and
// no new action starts.
package agent
