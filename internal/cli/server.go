package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/console"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/peer"
	"github.com/coffer-vault/coffer/internal/server"
)

// PKCS11PINEnv names the environment variable holding the PKCS#11 user PIN.
const PKCS11PINEnv = "COFFER_PKCS11_PIN"

func newServerCommand() *cobra.Command {
	var cfg server.Config
	var logLevel string
	var secretKeyRule bool
	var peerURLs, peerKeys []string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Coffer server",
		Long: `Run the Coffer server.

With --dev it needs nothing else: it creates a temporary data directory
(removed when the server stops; pass --data-dir to keep the data), an
unseal key file, a tenancy with an administrator, and an OCI
SDK config file, and prints how to use them. Without --dev it needs
--data-dir and an unseal source: --unseal-key-file or ` + server.UnsealKeyEnv + `,
or --seal shamir (starts sealed; see coffer operator --help), or --seal pkcs11
(the root key is kept wrapped by an AES key in a PKCS#11 token, named by
--pkcs11-seal-key-label, and the server unseals itself at every start; the
token is --pkcs11-module and --pkcs11-token-label, the PIN in ` + PKCS11PINEnv + `;
--pkcs11-generate-key creates the key at the first start if the token has
none). A --seal pkcs11 server whose token cannot be used starts sealed and
says why in coffer operator status. To move a data directory from one seal
to another, see coffer operator migrate-seal.`,
		Example: `  coffer server --dev
  coffer server --dev --data-dir ./coffer-data --listen 127.0.0.1:8420
  coffer server --dev --realm-domain coffer.localtest.me
  COFFER_UNSEAL_KEY=... coffer server --data-dir /var/lib/coffer --listen 0.0.0.0:8420 --kms-domain vault.example.com
  COFFER_PKCS11_PIN=... coffer server --data-dir /var/lib/coffer --seal pkcs11 --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token-label coffer --pkcs11-generate-key
  COFFER_UNSEAL_KEY=... coffer server --data-dir /var/lib/coffer --listen 0.0.0.0:443 --realm-domain coffer.example.com --region eu-home-1 --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return err
			}
			cfg.Log = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			cfg.Out = cmd.OutOrStdout()
			cfg.SecretKeyRule = &secretKeyRule
			peers, err := parsePeers(peerURLs, peerKeys)
			if err != nil {
				return err
			}
			cfg.Peers = peers
			if cfg.UsageFlushInterval <= 0 || cfg.UsageRetention <= 0 {
				return usageErrorf("--usage-flush-interval and --usage-retention must be positive")
			}
			if cfg.ConsoleOrigin != "" {
				if _, err := console.ParseOrigin(cfg.ConsoleOrigin); err != nil {
					return usageErrorf("--console-origin %q: %v", cfg.ConsoleOrigin, err)
				}
			}
			if cfg.AuthFailLimit <= 0 {
				cfg.AuthFailLimit = -1 // the flag's 0 is off; Config's 0 is the default
			}
			if cfg.DatabaseURL == "" {
				cfg.DatabaseURL = os.Getenv("COFFER_DATABASE_URL")
			}
			if cfg.UnsealKey == "" {
				cfg.UnsealKey = os.Getenv(server.UnsealKeyEnv)
			}
			// The PIN comes from the environment only: a flag would show
			// in the process list and shell history.
			cfg.PKCS11.PIN = os.Getenv(PKCS11PINEnv)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// SIGHUP reloads the TLS certificate, as renewal tools expect.
			// Caught from here on: one sent while the server starts waits
			// instead of killing it.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			srv, err := server.Start(ctx, cfg)
			if err != nil {
				return err
			}
			if cfg.Dev {
				srv.PrintInstructions()
			} else if srv.Bootstrap != nil {
				// A Shamir server bootstraps at its first unseal, which
				// says so itself (coffer operator unseal).
				fmt.Fprintf(cfg.Out, "The tenancy was created. The administrator's OCI config (profile DEFAULT)\nwas written to %s\n", srv.ConfigPath)
			}
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						_ = srv.ReloadTLS() // logged; the old certificate stays
					}
				}
			}()
			if srv.Sealed() {
				cfg.Log.Info("coffer server sealed: listening for coffer operator init/unseal", "endpoint", srv.URL(), "data_dir", srv.DataDir())
			} else {
				cfg.Log.Info("coffer server ready", "endpoint", srv.URL(), "data_dir", srv.DataDir())
			}
			if md := srv.RegionMetadata(); md != "" {
				cfg.Log.Info("region mode: SDK clients need OCI_REGION_METADATA", "region_metadata", md, "hosts", srv.ServiceHosts())
			}
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cfg.Log.Info("coffer server stopping")
			return srv.Close(shutdownCtx)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cfg.Dev, "dev", false, "development mode: bootstrap a tenancy and keep the unseal key in the data directory")
	f.StringVar(&cfg.DataDir, "data-dir", "", "data directory (dev default: a new temporary directory, removed when the server stops)")
	f.StringVar(&cfg.Listen, "listen", server.DefaultListen, "address of the main endpoint")
	f.StringVar(&cfg.Region, "region", server.DefaultRegion, "region name written into OCIDs and the dev config, and into host names in region mode (--realm-domain)")
	f.StringVar(&cfg.UnsealKeyFile, "unseal-key-file", "", "file holding the base64 root key (mode 0600)")
	f.StringVar(&cfg.Seal, "seal", "", "shamir: keep the root key in Shamir shares; the server starts sealed until coffer operator init and coffer operator unseal. pkcs11: keep it wrapped by a key in the PKCS#11 token (--pkcs11-module, --pkcs11-token-label, --pkcs11-seal-key-label); the server unseals itself")
	f.StringVar(&cfg.PKCS11SealKeyLabel, "pkcs11-seal-key-label", server.DefaultSealKeyLabel, "with --seal pkcs11: label of the AES-256 key in the token that wraps the root key")
	f.BoolVar(&cfg.PKCS11GenerateKey, "pkcs11-generate-key", false, "with --seal pkcs11: create the seal key in the token (sensitive, not extractable) at the first start if there is none")
	f.StringVar(&cfg.TLSCertFile, "tls-cert", "", "PEM certificate (chain) to serve HTTPS on every listener; reloaded on SIGHUP")
	f.StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM private key of --tls-cert")
	f.BoolVar(&cfg.InsecureHTTP, "insecure-http", false, "allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy)")
	f.StringArrayVar(&cfg.BackupURIPrefixes, "backup-uri-prefix", nil, "allow BackupVault and BackupKey to write backup files to pre-authenticated request URIs under this prefix (an http(s) URL whose path ends in /); repeatable; none by default")
	f.StringVar(&cfg.KMSDomain, "kms-domain", "", "serve vault endpoints as <id>-management.kms.DOMAIN host names (wildcard DNS) instead of loopback addresses; the main endpoint stays one address for every service")
	f.StringVar(&cfg.RealmDomain, "realm-domain", "", "region mode: serve OCI's host names for --region in a realm with this domain (kms.REGION.DOMAIN, vaults.REGION.oci.DOMAIN, ...), routed by Host, over HTTPS; SDKs then need only OCI_REGION_METADATA (printed in dev mode) and a CA bundle")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL connection string (default: the embedded SQLite store in --data-dir); also from COFFER_DATABASE_URL")
	f.BoolVar(&secretKeyRule, "secret-key-rule", true, "reading a secret bundle, and writing secret content, also needs 'use keys' on the secret's key (Coffer's rule); false decides by OCI's permission table alone")
	f.StringVar(&cfg.AuditLog, "audit-log", "", "append every authorization decision as a JSON line to this file (created 0600); requests fail if it cannot be written")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (off when empty); keep it on a private interface")
	f.IntVar(&cfg.CacheEntries, "cache-entries", 0, "records (secrets, versions, vaults, keys) kept decoded in memory; 0 means 250000, -1 turns the cache off")
	f.IntVar(&cfg.DataKeyCache, "data-key-cache", 0, "unwrapped secret data keys of SOFTWARE keys kept in memory (zeroed when dropped); 0 means 10000, -1 turns it off")
	f.BoolVar(&cfg.CacheHSMDataKeys, "cache-hsm-data-keys", false, "also cache data keys of HSM keys (off by default: every read of an HSM-protected secret then uses the token)")
	f.BoolVar(&cfg.Profiling, "pprof", false, "with --metrics-listen, also serve Go's pprof profiles at http://ADDR/debug/pprof/")
	f.Float64Var(&cfg.RateLimit, "rate-limit", 0, "requests per second allowed to each principal (0: no limit); excess requests get 429 with Retry-After")
	f.IntVar(&cfg.RateBurst, "rate-burst", 20, "requests a principal may burst above --rate-limit")
	f.Float64Var(&cfg.AuthFailLimit, "auth-fail-limit", ociapi.DefaultAuthFailRate, "failed authentications per second allowed to each client address (IPv6: each /64; X-Forwarded-For is not trusted); beyond them and --auth-fail-burst the address gets 429 with Retry-After before its signature is checked (0 or less: no limit)")
	f.IntVar(&cfg.AuthFailBurst, "auth-fail-burst", ociapi.DefaultAuthFailBurst, "failed authentications a client address may burst above --auth-fail-limit")
	f.DurationVar(&cfg.ConsoleIdleTimeout, "console-idle-timeout", console.DefaultIdleTimeout, "end a web console session after this long without a request")
	f.DurationVar(&cfg.ConsoleSessionLifetime, "console-session-lifetime", console.DefaultAbsoluteTimeout, "end a web console session this long after its login, active or not")
	f.StringVar(&cfg.ConsoleOrigin, "console-origin", "", "the web console's public origin (https://HOST[:PORT]) when browsers reach it through a TLS-terminating proxy: changes must come from exactly this origin and the session cookie is Secure when it is https (X-Forwarded-* headers are never trusted); default: the origin each request was sent to")
	f.DurationVar(&cfg.UsageFlushInterval, "usage-flush-interval", time.Minute, "how often this node adds its counted API calls to the store for coffer usage (also when it seals or stops)")
	f.DurationVar(&cfg.UsageRetention, "usage-retention", 400*24*time.Hour, "how long usage records (coffer usage) are kept")
	f.StringArrayVar(&peerURLs, "peer", nil, "REGION=URL: another region of this realm, whose server is at URL; secrets may be replicated to it and replicas of its secrets are kept here (repeatable; needs --peer-key for each and --peer-identity)")
	f.StringArrayVar(&peerKeys, "peer-key", nil, "REGION=ed25519:KEY: the peer identity of a --peer region, as `coffer operator peer-identity show` prints it there (repeatable)")
	f.StringVar(&cfg.PeerIdentityFile, "peer-identity", "", "this region's peer identity (Ed25519 private key, mode 0600), made by `coffer operator peer-identity create`; dev default: DATA_DIR/peer-identity.pem, created when missing")
	f.StringVar(&cfg.PeerCAFile, "peer-ca", "", "PEM CA certificate trusted, besides the system roots, for peers' HTTPS")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&cfg.PKCS11.ModulePath, "pkcs11-module", "", "PKCS#11 module for HSM keys and --seal pkcs11, e.g. /usr/lib/softhsm/libsofthsm2.so (PIN from "+PKCS11PINEnv+"); without it dev mode emulates HSM keys in software")
	f.StringVar(&cfg.PKCS11.TokenLabel, "pkcs11-token-label", "", "label of the PKCS#11 token that holds HSM keys and the --seal pkcs11 key")
	return cmd
}

// parsePeers joins --peer and --peer-key by region.
func parsePeers(urls, keys []string) ([]peer.Peer, error) {
	byRegion := map[string]peer.PublicKey{}
	for _, k := range keys {
		region, key, err := peer.ParsePeerKeyFlag(k)
		if err != nil {
			return nil, usageErrorf("--peer-key %q: %v", k, err)
		}
		if _, dup := byRegion[region]; dup {
			return nil, usageErrorf("--peer-key names region %s twice", region)
		}
		byRegion[region] = key
	}
	var out []peer.Peer
	for _, u := range urls {
		region, url, err := peer.ParsePeerFlag(u)
		if err != nil {
			return nil, usageErrorf("--peer %q: %v", u, err)
		}
		key, ok := byRegion[region]
		if !ok {
			return nil, usageErrorf("--peer %s needs --peer-key %s=ed25519:... (run `coffer operator peer-identity show` in that region)", region, region)
		}
		delete(byRegion, region)
		out = append(out, peer.Peer{Region: region, URL: url, Key: key})
	}
	for region := range byRegion {
		return nil, usageErrorf("--peer-key %s has no --peer %s=URL", region, region)
	}
	return out, nil
}
