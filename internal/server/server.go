// Package server assembles a running Coffer: it opens the store behind the
// barrier, bootstraps a dev tenancy, builds the request pipeline for every
// OCI service, opens the main listener and each vault's endpoints, and runs
// the background jobs (deletion windows, retry-token expiry).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/audit"
	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/buildinfo"
	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/console"
	"github.com/coffer-vault/coffer/internal/devmode"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ociapi/operations"
	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/internal/peer"
	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/replication"
	"github.com/coffer-vault/coffer/internal/seal"
	"github.com/coffer-vault/coffer/internal/secrets"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memledger"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
	"github.com/coffer-vault/coffer/internal/usage"
)

// DefaultListen is where the server listens when no address is given. A
// fixed port keeps vault endpoints stable across restarts.
const DefaultListen = "127.0.0.1:8420"

// DefaultRegion is the region written into dev configs and OCIDs.
const DefaultRegion = "local"

// UnsealKeyEnv names the environment variable that may hold the root key.
const UnsealKeyEnv = seal.UnsealKeyEnv

// Config configures a server.
type Config struct {
	Dev     bool
	DataDir string // dev: created when empty
	Listen  string // default DefaultListen
	Region  string // default DefaultRegion
	// UnsealKeyFile and UnsealKey are the unseal sources outside dev mode:
	// a key file path, or the base64 key itself (from UnsealKeyEnv).
	UnsealKeyFile string
	UnsealKey     string
	// Seal selects another unseal source: seal.TypeShamir starts the
	// server sealed, waiting for `coffer operator init` and `unseal`;
	// seal.TypePKCS11 keeps the root key wrapped by the key labelled
	// PKCS11SealKeyLabel in the PKCS11 token and unseals itself with it
	// (created at the first start if absent and PKCS11GenerateKey).
	Seal               string
	PKCS11SealKeyLabel string
	PKCS11GenerateKey  bool
	// TLSCertFile and TLSKeyFile (PEM) make every listener serve HTTPS.
	TLSCertFile, TLSKeyFile string
	// InsecureHTTP allows plain HTTP on a non-loopback address outside dev
	// mode, for deployments behind a TLS-terminating proxy.
	InsecureHTTP bool
	// KMSDomain switches vault endpoints to host names under
	// <label>-management.kms.<KMSDomain>, for wildcard DNS; the main
	// endpoint stays one address that serves every service by path.
	KMSDomain string
	// RealmDomain turns on region mode (region.go): the server answers to
	// the host names the OCI SDKs build for Region in a realm with this
	// domain (optionally with :port), routes by Host, and serves HTTPS.
	// In dev mode without TLS files it makes a local CA under
	// DataDir/tls.
	RealmDomain string
	// BackupURIPrefixes are the URI prefixes BackupVault and BackupKey may
	// write backup files to (PRE_AUTHENTICATED_REQUEST_URI); none by
	// default, and every other URI is refused (ociapi.BackupUploader).
	BackupURIPrefixes []string
	// Log receives structured logs; nil logs JSON to stderr.
	Log *slog.Logger
	// Out receives the dev-mode instructions; nil means stdout.
	Out io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// JobInterval is how often background jobs run; 0 means one minute.
	JobInterval time.Duration
	// SyncInterval is how often the server looks for identity changes made
	// by other nodes sharing its database; 0 means one second.
	SyncInterval time.Duration
	// DatabaseURL selects the PostgreSQL store (a pgx DSN); empty means the
	// embedded SQLite store in DataDir. Several servers may share one
	// PostgreSQL database; background jobs run on one node at a time.
	DatabaseURL string
	// AuditLog, when set, is a file that receives every audit event as a
	// JSON line (created 0600), besides the server log.
	AuditLog string
	// MetricsListen, when set, serves Prometheus metrics at /metrics on a
	// listener of its own.
	MetricsListen string
	// CacheEntries bounds the record cache (recordcache.DefaultMaxEntries
	// when 0; negative turns it off).
	CacheEntries int
	// DataKeyCache bounds the unwrapped secret data keys kept in memory
	// (kms.DefaultDataKeyCache when 0; negative turns it off). Keys of HSM
	// master keys are kept only with CacheHSMDataKeys.
	DataKeyCache     int
	CacheHSMDataKeys bool
	// Profiling also serves Go's pprof profiles at /debug/pprof/ on the
	// metrics listener, for measuring the server under load.
	Profiling bool
	// RateLimit is the sustained requests per second allowed to each
	// principal, with RateBurst on top; 0 means no limit.
	RateLimit float64
	RateBurst int
	// AuthFailLimit is the sustained failed authentications per second
	// allowed to each client address, with AuthFailBurst on top; beyond
	// them the address gets 429 until its bucket refills. 0 means
	// ociapi.DefaultAuthFailRate (and burst DefaultAuthFailBurst);
	// negative turns the limit off.
	AuthFailLimit float64
	AuthFailBurst int
	// ConsoleIdleTimeout ends a console session after this long without a
	// request, ConsoleSessionLifetime in any case; 0 means
	// console.DefaultIdleTimeout (30 min) and DefaultAbsoluteTimeout (12 h).
	ConsoleIdleTimeout     time.Duration
	ConsoleSessionLifetime time.Duration
	// ConsoleOrigin is the console's public origin (https://host[:port])
	// when browsers reach it through a TLS-terminating proxy: the console's
	// origin check accepts exactly it and its cookie is Secure when it is
	// https. Empty: the origin each request was sent to.
	ConsoleOrigin string
	// Authorizer replaces the built-in authorizer (tests).
	Authorizer authz.Authorizer
	// SecretKeyRule is Coffer's rule that reading a secret bundle, and
	// creating or updating secret content, also needs `use keys` on the
	// secret's master key (docs/decisions.md#reading-a-secret-needs-use-keys). nil means on; false decides exactly
	// by OCI's permission table, for teams that mirror a tenancy.
	SecretKeyRule *bool
	// UsageFlushInterval is how often the counted API calls are added to
	// the store (`coffer usage`); 0 means one minute. They are also
	// flushed when the server seals or stops.
	UsageFlushInterval time.Duration
	// UsageRetention is how long usage records are kept; 0 means
	// usage.DefaultRetention (400 days).
	UsageRetention time.Duration
	// ChangeRetention is how long change feed entries are kept (at most
	// changefeed.DefaultMaxEntries of them); 0 means
	// changefeed.DefaultMaxAge.
	ChangeRetention time.Duration
	// ChangePoll is how often a change feed long poll rereads the feed's
	// head, which bounds how late it sees a write on another node whose
	// notification it missed; 0 means changefeed.DefaultPoll (200 ms).
	ChangePoll time.Duration
	// UsageMaxKeys bounds the distinct (principal, operation, secret,
	// outcome) keys counted between flushes; 0 means usage.DefaultMaxKeys.
	UsageMaxKeys int
	// WrapStore, when set, wraps the store as opened, below the barrier
	// (tests: counting or failing store operations).
	WrapStore func(store.Store) store.Store
	// Peers are the other regions of this deployment's realm, with their
	// URLs and peer public keys (docs/replication.md); secrets may be
	// replicated to them and this server pulls their replicated secrets.
	Peers []peer.Peer
	// PeerIdentityFile holds this region's peer identity (an Ed25519
	// private key); required with Peers. Dev mode creates
	// DataDir/peer-identity.pem when it is empty.
	PeerIdentityFile string
	// PeerCAFile is a PEM CA trusted, besides the system roots, for
	// peers' HTTPS.
	PeerCAFile string
	// PeerPollWait is the long poll this server asks of its peers; 0 means
	// replication.MaxWait.
	PeerPollWait time.Duration
	// PKCS11 selects the PKCS#11 token for HSM keys. Without a module, dev
	// mode emulates HSM keys in software (and says so); otherwise HSM keys
	// are refused.
	PKCS11 keyprotect.HSMConfig
}

// auditSink sends audit events to the server log and, when configured, to
// the audit file.
func (s *Server) auditSink() audit.Sink {
	sinks := audit.Multi{audit.LogSink{Log: s.log}}
	if s.auditFile != nil {
		sinks = append(sinks, s.auditFile)
	}
	return sinks
}

func (s *Server) openStore(ctx context.Context) (store.Store, error) {
	if s.cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, s.cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(filepath.Join(s.cfg.DataDir, "coffer.db"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// Server is a running Coffer.
type Server struct {
	cfg       Config
	log       *slog.Logger
	ln        net.Listener
	http      *http.Server
	ready     atomic.Bool
	st        store.Store
	raw       store.Store
	cache     *recordcache.Cache
	endpoints *vaultEndpoints
	// Services, for wiring and tests.
	Identity *identity.Service
	// Policies is the compiled policy engine (also behind the explain API).
	Policies *identity.PolicyEngine
	KMS      *kms.Service
	Secrets  *secrets.Service
	// Result of a fresh dev bootstrap, if one happened.
	Bootstrap *identity.BootstrapResult
	// ConfigPath is the OCI config file written in dev mode.
	ConfigPath string

	mains  *http.ServeMux
	nodeID string
	tls    *tls.Config
	certs  *certSource // nil without TLS
	realm  *realm      // nil outside region mode
	caFile string      // the dev CA, in dev region mode

	// routeTable is every registered operation (Routes).
	routeTable atomic.Pointer[[]RouteInfo]

	auditFile   *audit.FileSink
	metrics     *metrics
	metricsSrv  *http.Server
	metricsAddr string
	hsm         io.Closer // the PKCS#11 token, when configured
	// keyring is the open barrier, for the backup key's operator routes.
	keyring *barrier.Barrier
	// console serves /console/; its expired sessions are a background job.
	console *console.Handler
	// hsmEmulated: HSM keys are emulated in software (dev, no module).
	hsmEmulated bool
	// tempDir is the dev data directory Start made, removed by Close.
	tempDir  string
	stopJobs context.CancelFunc
	jobsDone sync.WaitGroup
	// authFail and memLedger outlive a seal and unseal: what they hold is
	// about requests, not about the keyring.
	authFail  *ociapi.AuthFailLimiter
	memLedger *memledger.Ledger
	// usageCounter counts API calls in memory, also across a seal;
	// usage keeps them in the store while unsealed.
	usageCounter *usage.Counter
	usage        *usage.Service

	// seal holds the seal state and opens the barrier; live is what the
	// unsealed server serves, nil while sealed.
	seal    *seal.Machine
	names   *blindindex.Index               // the barrier's, for names in storage keys
	changes atomic.Pointer[changefeed.Feed] // the change feed, while unsealed
	// peering is the peer identity and peers (nil without them);
	// replicator keeps this region's replicas, rebuilt at each unseal.
	peering    *peering
	replicator atomic.Pointer[replication.Replicator]
	live       atomic.Pointer[liveRoutes]
}

// liveRoutes are the routes of the unsealed server and its record cache;
// they are replaced at every unseal and dropped at every seal.
type liveRoutes struct {
	main      http.Handler
	endpoints *vaultEndpoints
	cache     *recordcache.Cache
}

// Start opens the listener, unseals, and starts serving. It returns once the
// server is ready or has failed. A dev server without a DataDir gets a new
// temporary directory, which Close (or a failed Start) removes: a
// throwaway server leaves nothing behind.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	var temp string
	if cfg.Dev && cfg.DataDir == "" {
		dir, err := devmode.NewDataDir()
		if err != nil {
			return nil, err
		}
		cfg.DataDir, temp = dir, dir
	}
	s, err := start(ctx, cfg)
	if err != nil {
		if temp != "" {
			_ = os.RemoveAll(temp)
		}
		return nil, err
	}
	if temp != "" {
		s.tempDir = temp
		s.log.Info("dev data in a temporary directory, removed when the server stops; pass --data-dir to keep it", "data_dir", temp)
	}
	return s, nil
}

func start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.JobInterval == 0 {
		cfg.JobInterval = time.Minute
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = time.Second
	}
	for _, p := range cfg.BackupURIPrefixes {
		if err := ociapi.CheckBackupURIPrefix(p); err != nil {
			return nil, err
		}
	}
	if cfg.ConsoleOrigin != "" {
		o, err := console.ParseOrigin(cfg.ConsoleOrigin)
		if err != nil {
			return nil, fmt.Errorf("--console-origin %q: %w", cfg.ConsoleOrigin, err)
		}
		cfg.ConsoleOrigin = o
	}
	if cfg.UsageFlushInterval == 0 {
		cfg.UsageFlushInterval = defaultUsageFlush
	}
	if cfg.UsageRetention == 0 {
		cfg.UsageRetention = usage.DefaultRetention
	}
	var err error
	s := &Server{cfg: cfg, log: cfg.Log, nodeID: newNodeID(), authFail: newAuthFailLimiter(cfg), memLedger: memledger.New(0),
		usageCounter: usage.NewCounter(cfg.UsageMaxKeys)}
	s.metrics = newMetrics(s.CacheStats)
	s.metrics.registry.MustRegister(replicationCollector(s.ReplicationStatus))
	if s.log == nil {
		s.log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	s.log.Info("coffer starting", buildinfo.Get().LogAttrs()...)
	sources := seal.Sources{Seal: cfg.Seal, Dev: cfg.Dev, KeyFile: cfg.UnsealKeyFile != "", KeyEnv: cfg.UnsealKey != "", PKCS11Module: cfg.PKCS11.ModulePath != ""}
	if err := sources.Check(); err != nil {
		return nil, err
	}
	if cfg.Seal == seal.TypePKCS11 && !pkcs11hsm.Supported {
		// A configuration that cannot work: refuse it now rather than
		// start sealed for good.
		_, err := pkcs11hsm.New(cfg.PKCS11)
		return nil, fmt.Errorf("--seal pkcs11: %w", err)
	}
	s.seal = seal.New(seal.Config{Type: sources.Type(), Auto: s.autoUnseal(), Log: s.log, Now: cfg.Now, Hooks: s.sealHooks()})
	if cfg.DataDir == "" {
		return nil, errors.New("--data-dir is required outside dev mode")
	}
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := s.requirePrivate(s.cfg.DataDir, "data directory"); err != nil {
		return nil, err
	}
	if s.realm, err = checkRealm(s.cfg); err != nil {
		return nil, err
	}
	if err := s.setupPeers(); err != nil {
		return nil, err
	}
	if err := s.devCertificate(); err != nil {
		return nil, err
	}
	tlsConfig, err := s.loadTLS()
	if err != nil {
		return nil, err
	}
	s.tls = tlsConfig

	// Listen first so that /healthz answers 503 while we unseal.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	s.devRealmPort(ln.Addr())
	if s.tls == nil && !cfg.Dev && !cfg.InsecureHTTP && !isLoopback(ln.Addr()) {
		ln.Close()
		return nil, fmt.Errorf("refusing to serve secrets over plain HTTP on %s: pass --tls-cert and --tls-key, or --insecure-http behind a TLS-terminating proxy", ln.Addr())
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.ln = ln
	s.mains = http.NewServeMux()
	s.mains.HandleFunc("GET /healthz", s.healthz)
	s.registerSys(s.mains)
	s.http = newHTTPServer(http.HandlerFunc(s.serveMain))
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("main listener stopped", "error", err)
		}
	}()

	if err := s.open(ctx); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	if cfg.MetricsListen != "" {
		if err := s.serveMetrics(cfg.MetricsListen); err != nil {
			s.Close(context.Background())
			return nil, fmt.Errorf("metrics listener: %w", err)
		}
	}
	return s, nil
}

// goLive marks the server ready and starts the background jobs.
func (s *Server) goLive() {
	s.ready.Store(true)
	jobCtx, cancel := context.WithCancel(context.Background())
	s.stopJobs = cancel
	s.jobsDone.Add(3)
	go s.runJobs(jobCtx)
	go s.runUsageFlush(jobCtx)
	s.runReplicator(jobCtx)
	go func() {
		defer s.jobsDone.Done()
		// Other nodes sharing the database may change identity data.
		s.Identity.Watch(jobCtx, s.cfg.SyncInterval, s.log)
	}()
	if feed, shared := s.raw.(store.ChangeFeed); shared {
		s.jobsDone.Add(1)
		go func() {
			defer s.jobsDone.Done()
			// ... and any record this node caches.
			if err := s.cache.Follow(jobCtx, feed); err != nil && jobCtx.Err() == nil {
				s.log.Error("change feed stopped; records are read from the database", "error", err)
			}
		}()
	}
}

// open opens the store and, unless the server waits for Shamir shares,
// unseals it with its PKCS#11 seal key or the root key from its key file
// (or dev mode).
func (s *Server) open(ctx context.Context) error {
	if s.cfg.AuditLog != "" {
		f, err := audit.OpenFile(s.cfg.AuditLog)
		if err != nil {
			return err
		}
		s.auditFile = f
	}
	var root barrier.RootKey
	if s.cfg.Seal == "" {
		var err error
		if root, err = s.rootKey(); err != nil {
			return err
		}
		defer root.Zero()
	}
	raw, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	if s.cfg.WrapStore != nil {
		raw = s.cfg.WrapStore(raw)
	}
	s.raw = raw
	if err := s.seal.Start(ctx, raw); err != nil || s.cfg.Seal == seal.TypeShamir {
		return err
	}
	if s.cfg.Seal == seal.TypePKCS11 {
		return s.seal.AutoUnseal(ctx)
	}
	return s.seal.Open(ctx, root)
}

// unsealWith builds the services and routes on the open barrier b and
// opens the vault endpoints (seal.Hooks.Open). When it bootstrapped the
// tenancy it returns where the administrator's OCI config was written.
func (s *Server) unsealWith(ctx context.Context, b *barrier.Barrier) (adminConfig string, err error) {
	bootstrapped := s.Bootstrap
	if err := s.build(ctx, b); err != nil {
		return "", err
	}
	if s.Bootstrap != nil && s.Bootstrap != bootstrapped {
		return s.ConfigPath, nil
	}
	return "", nil
}

// build is unsealWith's work.
func (s *Server) build(ctx context.Context, b *barrier.Barrier) error {
	var err error
	if s.names, err = b.NameIndex(); err != nil {
		return err
	}
	s.cache = recordcache.New(b.Wrap(s.raw), recordcache.Options{MaxEntries: s.cfg.CacheEntries})
	if _, shared := s.raw.(store.ChangeFeed); shared {
		// Serve nothing from the cache until the feed listens (goLive).
		s.cache.Lost()
	}
	s.st = s.cache
	s.Identity = identity.New(s.st, s.names, s.cfg.Region, s.cfg.Now)
	s.KMS = kms.New(s.st, s.cfg.Region, s.cfg.Now)
	s.KMS.SetPeers(s.PeerRegions())
	if s.cfg.DataKeyCache >= 0 {
		s.KMS.CacheDataKeys(s.cfg.DataKeyCache, s.cfg.CacheHSMDataKeys)
	}
	s.keyring = b
	s.KMS.SetBackupSealer(b)
	if err := s.setKeyProtections(b); err != nil {
		return err
	}
	if err := s.bootstrap(ctx); err != nil {
		return err
	}

	authorizer := s.cfg.Authorizer
	if authorizer == nil {
		pe, err := s.policyEngine(ctx)
		if err != nil {
			return err
		}
		authorizer = pe
	}
	tokens, err := s.sessionTokens(ctx)
	if err != nil {
		return err
	}
	verifier := &authn.Verifier{Keys: s.Identity, Tokens: authn.WorkloadTokens{Tokens: tokens}, Now: s.cfg.Now}
	api := &ociapi.API{
		Verifier:    verifier,
		Authorizer:  authorizer,
		RetryTokens: &ociapi.RetryTokens{Store: s.st, Index: s.names, Now: s.cfg.Now},
		Log:         s.log,
		Audit:       s.auditSink(),
		Limiter:     ociapi.NewRateLimiter(s.cfg.RateLimit, s.cfg.RateBurst),
		Observer:    s.metrics,
		Usage:       s.usageCounter,
		Replay:      &ociapi.ReplayGuard{Ledger: s.replayLedger(), Window: verifier.Skew(), Now: s.cfg.Now},
		AuthFail:    s.authFail,
	}
	mgmt, crypto := http.NewServeMux(), http.NewServeMux()
	host, _, _ := net.SplitHostPort(s.ln.Addr().String())
	s.endpoints = &vaultEndpoints{
		kms: s.KMS, log: s.log, domain: s.vaultDomain(), tls: s.tls,
		host: host, port: portOf(s.ln.Addr().String()), mgmt: mgmt, crypto: crypto,
		listeners: map[int][]*http.Server{}, byLabel: map[string]string{},
	}
	main := http.NewServeMux()
	w := &wiring{api: api, main: main, mgmt: mgmt, crypto: crypto}
	for _, wire := range []func(context.Context, *wiring) error{s.wireVaults, s.wireKeys, s.wireSecrets, s.wireIdentity, s.wireOperator, s.wireUsage, s.wireChanges, s.wirePeers, s.wireConsole} {
		if err := wire(ctx, w); err != nil {
			return err
		}
	}
	if err := s.migrateIndexes(ctx); err != nil {
		return err
	}
	s.wireResourcePrincipals(w, tokens)
	if err := s.wireFederation(ctx, w, tokens); err != nil {
		return err
	}
	// What no route matches: an OCI operation Coffer does not serve (501),
	// a wrong method or endpoint, or no operation at all (unserved.go).
	served := servedRoutes(w.routes)
	for ep, m := range map[operations.Endpoint]*http.ServeMux{operations.Main: main, operations.Management: mgmt, operations.Crypto: crypto} {
		m.Handle("/", &unrouted{endpoint: ep, served: served, log: s.log, obs: s.metrics})
	}
	s.routeTable.Store(&w.routes)

	all, err := s.KMS.AllVaults(ctx)
	if err != nil {
		return err
	}
	for _, v := range all {
		if err := s.endpoints.Opened(ctx, v); err != nil {
			return err
		}
	}
	s.live.Store(&liveRoutes{main: main, endpoints: s.endpoints, cache: s.cache})
	return nil
}

// teardown undoes unsealWith and goLive (seal.Hooks.Close): nothing built
// on the keyring outlives a seal.
func (s *Server) teardown(ctx context.Context) {
	s.ready.Store(false)
	s.live.Store(nil)
	s.closeChanges()
	if s.stopJobs != nil {
		s.stopJobs()
		s.jobsDone.Wait()
		s.stopJobs = nil
	}
	if s.endpoints != nil {
		s.endpoints.close(ctx)
		s.endpoints = nil
	}
	// The barrier is still open: keep what was counted.
	s.flushUsage(ctx)
	s.usage = nil
	if s.KMS != nil {
		s.KMS.Forget()
	}
	if s.cache != nil {
		// Nothing decoded under the old keyring outlives the seal.
		s.cache.Lost()
		s.cache = nil
	}
	s.names = nil
	if s.hsm != nil {
		_ = s.hsm.Close()
		s.hsm = nil
	}
	s.Policies = nil
	s.Secrets = nil
	s.replicator.Store(nil)
}

func (s *Server) rootKey() (barrier.RootKey, error) {
	switch {
	case s.cfg.UnsealKey != "":
		return barrier.ParseRootKey([]byte(s.cfg.UnsealKey))
	case s.cfg.UnsealKeyFile != "":
		return barrier.ReadKeyFile(s.cfg.UnsealKeyFile)
	}
	path := filepath.Join(s.cfg.DataDir, devmode.UnsealKeyFile)
	exists, err := devmode.Exists(path)
	if err != nil {
		return barrier.RootKey{}, err
	}
	if exists {
		return barrier.ReadKeyFile(path)
	}
	return barrier.CreateKeyFile(path)
}

func (s *Server) bootstrap(ctx context.Context) error {
	_, err := s.Identity.Tenancy(ctx)
	if err == nil {
		s.ConfigPath = filepath.Join(s.cfg.DataDir, devmode.OCIDir, devmode.ConfigFile)
		return nil
	}
	if !errors.Is(err, identity.ErrNotBootstrapped) {
		return err
	}
	key, err := devmode.GenerateAdminKey()
	if err != nil {
		return err
	}
	res, err := s.Identity.Bootstrap(ctx, identity.BootstrapSpec{TenancyName: "coffer", AdminName: "admin", AdminKey: &key.Private.PublicKey})
	if errors.Is(err, identity.ErrAlreadyBootstrapped) {
		// Another node sharing the database bootstrapped first.
		return nil
	}
	if err != nil {
		return err
	}
	s.Bootstrap = &res
	s.ConfigPath, err = devmode.WriteConfig(s.cfg.DataDir, key, devmode.ConfigSpec{
		TenancyID: res.TenancyID, UserID: res.UserID, Fingerprint: res.Fingerprint, Region: s.cfg.Region,
	})
	if err != nil {
		return err
	}
	// The only copy of the administrator's key: whoever set the server up
	// must learn where it is, in every unseal mode.
	s.log.Info("administrator OCI config written (profile DEFAULT)",
		"path", s.ConfigPath, "user", res.UserID, "tenancy", res.TenancyID)
	return nil
}

// CacheStats reports the record cache's reads since the last unseal.
func (s *Server) CacheStats() recordcache.Stats {
	l := s.live.Load()
	if l == nil || l.cache == nil {
		return recordcache.Stats{}
	}
	return l.cache.Stats()
}

// Sealed reports whether the server is sealed.
func (s *Server) Sealed() bool { return s.seal.Sealed() }

// URL is the main endpoint, e.g. http://127.0.0.1:8420.
func (s *Server) URL() string {
	if s.tls != nil {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// DataDir is the data directory in use.
func (s *Server) DataDir() string { return s.cfg.DataDir }

// PrintInstructions tells a dev user how to reach the server.
func (s *Server) PrintInstructions() {
	w := s.cfg.Out
	fmt.Fprintf(w, "Coffer is running (dev mode: never use this data directory for real secrets).\n\n")
	if s.tempDir != "" {
		fmt.Fprintf(w, "  data directory:  %s\n                   (temporary: removed when the server stops; pass --data-dir to keep it)\n", s.cfg.DataDir)
	} else {
		fmt.Fprintf(w, "  data directory:  %s\n", s.cfg.DataDir)
	}
	fmt.Fprintf(w, "  endpoint:        %s\n", s.URL())
	fmt.Fprintf(w, "  OCI config:      %s (profile DEFAULT)\n\n", s.ConfigPath)
	if s.realm != nil {
		s.printRegion(w)
		s.printKeyProtection(w)
		return
	}
	fmt.Fprintf(w, "Use it from a shell:\n\n")
	fmt.Fprintf(w, "  export OCI_CONFIG_FILE=%s\n", s.ConfigPath)
	fmt.Fprintf(w, "  export OCI_CLI_CONFIG_FILE=%s\n", s.ConfigPath)
	fmt.Fprintf(w, "  export COFFER_ENDPOINT=%s\n\n", s.URL())
	fmt.Fprintf(w, "From the OCI Go SDK: load the config with common.CustomProfileConfigProvider(%q, \"DEFAULT\")\n", s.ConfigPath)
	fmt.Fprintf(w, "and set client.Host = %q on KmsVaultClient, VaultsClient, SecretsClient and IdentityClient.\n", s.URL())
	fmt.Fprintf(w, "Key and crypto clients use the vault's managementEndpoint and cryptoEndpoint as returned.\n\n")
	fmt.Fprintf(w, "The web console is at %s/console/: sign in as admin with the password this prints\n", s.URL())
	fmt.Fprintf(w, "(after the exports above):\n\n")
	fmt.Fprintf(w, "  coffer iam user ui-password create-or-reset --user-id \"$(sed -n 's/^user=//p' \"$OCI_CLI_CONFIG_FILE\")\" \\\n")
	fmt.Fprintf(w, "      --query data.password --raw-output\n")
	s.printKeyProtection(w)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if !s.ready.Load() {
		if s.seal.Sealed() && !s.seal.Initialized() {
			// As Vault's sys/health: 501 until coffer operator init, so a
			// probe tells "never initialized" from "sealed".
			w.WriteHeader(http.StatusNotImplemented)
			_, _ = io.WriteString(w, `{"status":"uninitialized","initialized":false,"sealed":true}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		if s.seal.Sealed() {
			_, _ = io.WriteString(w, `{"status":"sealed","initialized":true,"sealed":true}`)
			return
		}
		_, _ = io.WriteString(w, `{"status":"starting"}`)
		return
	}
	_, _ = io.WriteString(w, `{"status":"ok"}`)
}

func (s *Server) serveMain(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" || sysapi.IsPublicPath(r.URL.Path) {
		s.mains.ServeHTTP(w, r)
		return
	}
	l := s.live.Load()
	if !s.ready.Load() || l == nil {
		if s.seal.Sealed() {
			ociapi.WriteError(w, r, seal.ErrSealed)
			return
		}
		ociapi.WriteError(w, r, errs.E(errs.Unavailable, "the server is starting; retry shortly"))
		return
	}
	if h := l.endpoints.route(r.Context(), r.Host); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	if s.realm != nil && s.realm.classify(r.Host) == hostUnknown {
		unknownHost(w, r)
		return
	}
	l.main.ServeHTTP(w, r)
}

var errNoVaultEndpoint = errs.E(errs.NotFound, "no vault is served at this endpoint")

func notFound(w http.ResponseWriter, r *http.Request) {
	ociapi.WriteError(w, r, errs.E(errs.NoRoute, "%s %s is not an operation this endpoint serves", r.Method, r.URL.Path))
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

func (s *Server) runJobs(ctx context.Context) {
	defer s.jobsDone.Done()
	t := time.NewTicker(s.cfg.JobInterval)
	defer t.Stop()
	for {
		held, err := s.takeJobLease(ctx, 3*s.cfg.JobInterval)
		if err != nil {
			s.log.Error("job lease", "error", err)
		} else if held {
			s.RunJobs(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunJobs runs every background job once: deletions that are due, expired
// retry tokens, replay records, identity work requests, usage records
// past their retention and expired console sessions.
func (s *Server) RunJobs(ctx context.Context) {
	if n, err := s.KMS.CompleteDueDeletions(ctx); err != nil {
		s.log.Error("vault deletion job failed", "error", err)
	} else if n > 0 {
		s.log.Info("vault deletions completed", "count", n)
	}
	s.runKeyJobs(ctx)
	s.runSecretJobs(ctx)
	rt := &ociapi.RetryTokens{Store: s.st, Now: s.cfg.Now}
	if _, err := rt.Expire(ctx); err != nil {
		s.log.Error("retry token expiry failed", "error", err)
	}
	if _, err := s.replayLedger().Purge(ctx, s.cfg.Now()); err != nil {
		s.log.Error("replay ledger purge failed", "error", err)
	}
	if _, err := s.Identity.ExpireWorkRequests(ctx, s.cfg.Now()); err != nil {
		s.log.Error("work request expiry failed", "error", err)
	}
	s.purgeUsage(ctx)
	s.purgeChanges(ctx)
	s.expireConsoleSessions(ctx)
}

// replayLedger is the store's own ledger when nodes share the store
// (PostgreSQL), so a copy one node accepted is refused by all; otherwise
// the in-memory one, which a restart empties.
func (s *Server) replayLedger() store.ReplayLedger {
	if l, shared := s.raw.(store.ReplayLedger); shared {
		return l
	}
	return s.memLedger
}

func newAuthFailLimiter(cfg Config) *ociapi.AuthFailLimiter {
	rate, burst := cfg.AuthFailLimit, cfg.AuthFailBurst
	if rate == 0 {
		rate = ociapi.DefaultAuthFailRate
	}
	if burst <= 0 {
		burst = ociapi.DefaultAuthFailBurst
	}
	return ociapi.NewAuthFailLimiter(rate, burst)
}

// Close stops serving and closes the store.
func (s *Server) Close(ctx context.Context) error {
	s.seal.Shutdown()
	s.ready.Store(false)
	if s.stopJobs != nil {
		s.stopJobs()
		s.jobsDone.Wait()
	}
	if s.endpoints != nil {
		s.endpoints.close(ctx)
	}
	// Long polls end now, not when their wait runs out.
	s.closeChanges()
	if s.http != nil {
		_ = s.http.Shutdown(ctx)
	}
	// Requests have finished; the barrier is open unless sealed.
	s.flushUsage(ctx)
	if s.metricsSrv != nil {
		_ = s.metricsSrv.Shutdown(ctx)
	}
	if s.auditFile != nil {
		_ = s.auditFile.Close()
	}
	if s.hsm != nil {
		_ = s.hsm.Close()
	}
	var err error
	if s.raw != nil {
		err = s.raw.Close()
	}
	if s.tempDir != "" {
		if rerr := os.RemoveAll(s.tempDir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the dev data directory: %w", rerr))
		} else {
			s.log.Info("dev data directory removed", "data_dir", s.tempDir)
		}
		s.tempDir = ""
	}
	return err
}
