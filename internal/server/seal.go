package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/audit"
	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/shamir"
)

// The operator API (paths under SysPrefix). Its unauthenticated part
// (seal status, init, unseal) answers while the server is sealed: the
// shares are the credential. The authenticated part (seal, rotate) is
// served by the unsealed server through the ordinary request pipeline
// (operator.go).
const (
	SysPrefix         = "/coffer/v1/sys/"
	SysSealStatusPath = SysPrefix + "seal-status"
	SysInitPath       = SysPrefix + "init"
	SysUnsealPath     = SysPrefix + "unseal"
	SysSealPath       = SysPrefix + "seal"
	SysRotatePath     = SysPrefix + "rotate"
)

// Seal types reported by the seal status.
const (
	SealTypeShamir  = barrier.SealShamir
	SealTypeKeyFile = "key-file"
	SealTypeDev     = "dev"
)

// Limits on the unauthenticated operator endpoints: they are reachable by
// anyone who reaches the listener, so each client address gets a small
// token bucket and bodies are tiny.
const (
	sysRatePerSecond = 10
	sysBurst         = 50
	sysMaxBody       = 4 << 10
)

// errSealed is every API call's answer while the server is sealed.
var errSealed = errs.E(errs.Unavailable, "the server is sealed: an operator must unseal it (coffer operator unseal)")

// liveRoutes are the routes of the unsealed server; they are replaced at
// every unseal and dropped at every seal.
type liveRoutes struct {
	main      http.Handler
	endpoints *vaultEndpoints
}

// sealState is the Shamir seal's state: the configuration and the shares
// submitted so far. mu also orders every seal and unseal.
type sealState struct {
	mu          sync.Mutex
	config      barrier.SealConfig
	initialized bool
	// initializedFlag mirrors initialized for /healthz, which must not
	// wait on mu while an unseal holds it.
	initializedFlag atomic.Bool
	pending         []shamir.Share
	rekey           *rekeyState // a rekey in progress (rekey.go), nil if none
	closed          bool
	limiter         *ociapi.RateLimiter
}

// setInitialized records the seal configuration of an initialized (or
// not yet initialized) store; the caller holds mu.
func (st *sealState) setInitialized(cfg barrier.SealConfig, initialized bool) {
	st.config, st.initialized = cfg, initialized
	st.initializedFlag.Store(initialized)
}

func (st *sealState) reset() {
	for _, sh := range st.pending {
		sh.Zero()
	}
	st.pending = nil
}

// shutdown refuses further unseals; Close calls it first.
func (st *sealState) shutdown() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	st.reset()
	st.cancelRekey()
}

// SealStatus is the answer of GET SysSealStatusPath and of every unseal
// call. It tells nothing secret.
type SealStatus struct {
	// Type is how the root key is held: shamir, key-file or dev.
	Type        string `json:"type"`
	Initialized bool   `json:"initialized"`
	Sealed      bool   `json:"sealed"`
	Shares      int    `json:"shares,omitempty"`
	Threshold   int    `json:"threshold,omitempty"`
	// Progress is how many shares have been submitted towards the
	// threshold.
	Progress int `json:"progress"`
	// AdminConfig is set only in the answer of the unseal that bootstrapped
	// the tenancy: the path, on the server, of the OCI config file written
	// for its administrator (profile DEFAULT). Only the caller that
	// completed the threshold sees it.
	AdminConfig string `json:"adminConfig,omitempty"`
}

// InitRequest is the body of POST SysInitPath.
type InitRequest struct {
	Shares    int `json:"shares"`
	Threshold int `json:"threshold"`
}

// InitResponse carries the shares, once: the server keeps none of them.
type InitResponse struct {
	Shares    []string `json:"shares"`
	Threshold int      `json:"threshold"`
}

// UnsealRequest is the body of POST SysUnsealPath: one share, or Reset to
// discard the shares submitted so far.
type UnsealRequest struct {
	Share string `json:"share,omitempty"`
	Reset bool   `json:"reset,omitempty"`
}

// checkSeal refuses contradictory unseal sources.
func checkSeal(cfg Config) error {
	switch cfg.Seal {
	case "":
		return nil
	case barrier.SealShamir:
		if cfg.Dev || cfg.UnsealKeyFile != "" || cfg.UnsealKey != "" {
			return fmt.Errorf("--seal shamir cannot be combined with --dev, --unseal-key-file or %s: the shares are the only unseal source", UnsealKeyEnv)
		}
		return nil
	}
	return fmt.Errorf("unknown --seal %q (supported: %s)", cfg.Seal, barrier.SealShamir)
}

// isOpenSysPath reports whether a path is an operator endpoint served
// whether or not the server is sealed.
func isOpenSysPath(p string) bool {
	return p == SysSealStatusPath || p == SysInitPath || p == SysUnsealPath
}

// registerSys adds the unauthenticated operator endpoints to the main
// listener's outer mux.
func (s *Server) registerSys(m *http.ServeMux) {
	s.sealer.limiter = ociapi.NewRateLimiter(sysRatePerSecond, sysBurst)
	m.HandleFunc("GET "+SysSealStatusPath, s.sysLimited(s.sysSealStatus))
	m.HandleFunc("POST "+SysInitPath, s.sysLimited(s.sysInit))
	m.HandleFunc("POST "+SysUnsealPath, s.sysLimited(s.sysUnseal))
	for _, p := range []string{SysSealStatusPath, SysInitPath, SysUnsealPath} {
		m.HandleFunc(p, notFound)
	}
}

// startSealed opens the store without the root key and leaves the server
// sealed (Config.Seal = shamir).
func (s *Server) startSealed(ctx context.Context) error {
	if s.cfg.AuditLog != "" {
		f, err := audit.OpenFile(s.cfg.AuditLog)
		if err != nil {
			return err
		}
		s.auditFile = f
	}
	raw, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	s.raw = raw
	cfg, ok, err := barrier.ReadSealConfig(ctx, raw)
	if err != nil {
		return err
	}
	initialized, err := barrier.Initialized(ctx, raw)
	if err != nil {
		return err
	}
	if initialized && (!ok || cfg.Type != barrier.SealShamir) {
		return errors.New("this data directory's root key comes from a key file, not Shamir shares: start it with --unseal-key-file or " + UnsealKeyEnv + ", without --seal")
	}
	s.sealer.setInitialized(cfg, initialized)
	s.sealed.Store(true)
	if initialized {
		s.log.Warn("coffer is sealed: submit shares with coffer operator unseal", "threshold", cfg.Threshold, "shares", cfg.Shares)
	} else {
		s.log.Warn("coffer is not initialized: run coffer operator init, then coffer operator unseal")
	}
	return nil
}

// refuseShamirStore fails the key-file and dev modes on a data directory
// whose root key is split into shares.
func (s *Server) refuseShamirStore(ctx context.Context) error {
	cfg, ok, err := barrier.ReadSealConfig(ctx, s.raw)
	if err != nil {
		return err
	}
	if ok && cfg.Type == barrier.SealShamir {
		return errors.New("this data directory's root key is split into Shamir shares: start it with --seal shamir")
	}
	return nil
}

// Sealed reports whether the server is sealed.
func (s *Server) Sealed() bool { return s.sealed.Load() }

func (s *Server) sealType() string {
	switch {
	case s.cfg.Seal != "":
		return s.cfg.Seal
	case s.cfg.UnsealKey != "" || s.cfg.UnsealKeyFile != "":
		return SealTypeKeyFile
	}
	return SealTypeDev
}

// status describes the seal; the caller holds s.sealer.mu.
func (s *Server) status() SealStatus {
	st := SealStatus{Type: s.sealType(), Sealed: s.sealed.Load(), Initialized: true}
	if s.cfg.Seal == barrier.SealShamir {
		st.Initialized = s.sealer.initialized
		st.Shares, st.Threshold = s.sealer.config.Shares, s.sealer.config.Threshold
		st.Progress = len(s.sealer.pending)
	}
	return st
}

// refreshInitialized looks at the store again when this node believes it
// is not initialized: another node sharing the database may have been.
func (s *Server) refreshInitialized(ctx context.Context) error {
	if s.sealer.initialized || s.cfg.Seal != barrier.SealShamir {
		return nil
	}
	cfg, ok, err := barrier.ReadSealConfig(ctx, s.raw)
	if err != nil {
		return err
	}
	init, err := barrier.Initialized(ctx, s.raw)
	if err != nil {
		return err
	}
	if init && ok {
		s.sealer.setInitialized(cfg, true)
	}
	return nil
}

// sysLimited applies the per-address rate limit and the body bound.
func (s *Server) sysLimited(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if ok, wait := s.sealer.limiter.Allow(host, s.cfg.Now()); !ok {
			secs := int(wait/time.Second) + 1
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			ociapi.WriteError(w, r, errs.E(errs.TooManyRequests, "too many operator requests from this address; retry after %d s", secs))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, sysMaxBody)
		if err := h(w, r); err != nil {
			if errs.KindOf(err) == errs.Internal {
				s.log.Error("operator request failed", "path", r.URL.Path, "error", err.Error())
			}
			ociapi.WriteError(w, r, err)
		}
	}
}

func readSysBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	defer clear(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errs.E(errs.TooLarge, "the request body is larger than %d bytes", sysMaxBody)
		}
		return errs.Wrap(errs.CannotParse, err, "the request body could not be read")
	}
	return ociapi.DecodeJSON(body, v)
}

func writeSysJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	defer clear(b)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
	return nil
}

func (s *Server) sysSealStatus(w http.ResponseWriter, r *http.Request) error {
	s.sealer.mu.Lock()
	defer s.sealer.mu.Unlock()
	if err := s.refreshInitialized(r.Context()); err != nil {
		return err
	}
	return writeSysJSON(w, s.status())
}

func (s *Server) sysInit(w http.ResponseWriter, r *http.Request) error {
	var req InitRequest
	if err := readSysBody(r, &req); err != nil {
		return err
	}
	if s.cfg.Seal != barrier.SealShamir {
		return errs.E(errs.IncorrectState, "this server's root key comes from a key file (or dev mode): there are no shares to make; start a new data directory with --seal shamir")
	}
	cfg := barrier.SealConfig{Type: barrier.SealShamir, Shares: req.Shares, Threshold: req.Threshold}
	if err := cfg.Validate(); err != nil {
		return errs.E(errs.Invalid, "shares and threshold must satisfy 2 <= threshold <= shares <= %d", shamir.MaxShares)
	}
	s.sealer.mu.Lock()
	defer s.sealer.mu.Unlock()
	if err := s.refreshInitialized(r.Context()); err != nil {
		return err
	}
	if s.sealer.initialized {
		return errs.E(errs.IncorrectState, "the server is already initialized")
	}
	root, err := barrier.GenerateRootKey()
	if err != nil {
		return err
	}
	defer root.Zero()
	shares, err := root.Split(cfg.Shares, cfg.Threshold)
	if err != nil {
		return err
	}
	defer func() {
		for _, sh := range shares {
			sh.Zero()
		}
	}()
	if err := barrier.Initialize(r.Context(), s.raw, root, cfg, s.cfg.Now()); errors.Is(err, barrier.ErrAlreadyInitialized) {
		_ = s.refreshInitialized(r.Context())
		return errs.E(errs.IncorrectState, "the server is already initialized")
	} else if err != nil {
		return err
	}
	s.sealer.setInitialized(cfg, true)
	resp := InitResponse{Threshold: cfg.Threshold, Shares: make([]string, len(shares))}
	for i, sh := range shares {
		resp.Shares[i] = sh.Text()
	}
	s.log.Warn("coffer initialized: the root key was split into shares, returned once to the caller and kept nowhere; the server stays sealed until the threshold of shares is submitted",
		"shares", cfg.Shares, "threshold", cfg.Threshold)
	return writeSysJSON(w, resp)
}

func (s *Server) sysUnseal(w http.ResponseWriter, r *http.Request) error {
	var req UnsealRequest
	if err := readSysBody(r, &req); err != nil {
		return err
	}
	s.sealer.mu.Lock()
	defer s.sealer.mu.Unlock()
	if req.Reset {
		s.sealer.reset()
		return writeSysJSON(w, s.status())
	}
	if !s.sealed.Load() {
		return writeSysJSON(w, s.status())
	}
	if s.sealer.closed {
		return errs.E(errs.Unavailable, "the server is stopping")
	}
	if err := s.refreshInitialized(r.Context()); err != nil {
		return err
	}
	if !s.sealer.initialized {
		return errs.E(errs.IncorrectState, "the server is not initialized: run coffer operator init first")
	}
	share, err := shamir.ParseShare([]byte(req.Share))
	if err != nil || share.Len() != barrier.RootKeySize {
		share.Zero()
		return errs.E(errs.Invalid, "share is not a share of a Coffer root key (base64 of %d bytes expected)", barrier.RootKeySize+1)
	}
	for _, p := range s.sealer.pending {
		if p.Equal(share) {
			share.Zero()
			return errs.E(errs.Invalid, "this share was already submitted (progress %d/%d)", len(s.sealer.pending), s.sealer.config.Threshold)
		}
	}
	s.sealer.pending = append(s.sealer.pending, share)
	if len(s.sealer.pending) < s.sealer.config.Threshold {
		s.log.Info("unseal share accepted", "progress", len(s.sealer.pending), "threshold", s.sealer.config.Threshold)
		return writeSysJSON(w, s.status())
	}
	root, err := barrier.RootKeyFromShares(s.sealer.pending)
	s.sealer.reset()
	if err != nil {
		s.log.Warn("unseal failed: the shares do not combine; progress reset")
		return errs.E(errs.Invalid, "the shares do not combine (two shares with the same index?); progress reset: submit %d shares again", s.sealer.config.Threshold)
	}
	// The request may end before the services are built; unseal on.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
	defer cancel()
	bootstrapped := s.Bootstrap
	err = s.unsealWith(ctx, root)
	root.Zero()
	if err != nil {
		s.teardown(context.Background())
		if errors.Is(err, barrier.ErrWrongRootKey) {
			s.log.Warn("unseal failed: the shares do not rebuild this server's root key; progress reset")
			return errs.E(errs.Invalid, "the shares do not rebuild this server's root key (a wrong or mistyped share, or a share of another server); progress reset: submit %d shares again", s.sealer.config.Threshold)
		}
		return errs.Wrap(errs.Internal, err, "unseal failed; progress reset")
	}
	s.sealed.Store(false)
	s.goLive()
	s.log.Info("coffer unsealed")
	st := s.status()
	if s.Bootstrap != nil && s.Bootstrap != bootstrapped {
		st.AdminConfig = s.ConfigPath
	}
	return writeSysJSON(w, st)
}

// seal drops the root key, the keyring and every service built on them,
// and closes the vault endpoints: the server answers 503 until it is
// unsealed again. reason is logged.
func (s *Server) seal(ctx context.Context, who string) {
	s.sealer.mu.Lock()
	defer s.sealer.mu.Unlock()
	if s.sealed.Load() || s.sealer.closed {
		return
	}
	s.sealed.Store(true)
	s.sealer.cancelRekey()
	s.teardown(ctx)
	s.log.Warn("coffer sealed", "by", who)
}

// teardown undoes unsealWith; the caller holds s.sealer.mu.
func (s *Server) teardown(ctx context.Context) {
	s.ready.Store(false)
	s.live.Store(nil)
	if s.stopJobs != nil {
		s.stopJobs()
		s.jobsDone.Wait()
		s.stopJobs = nil
	}
	if s.endpoints != nil {
		s.endpoints.close(ctx)
		s.endpoints = nil
	}
	if s.KMS != nil {
		s.KMS.Forget()
	}
	if s.cache != nil {
		// Nothing decoded under the old keyring outlives the seal.
		s.cache.Lost()
		s.cache = nil
	}
	if s.barrier != nil {
		s.barrier.Close()
		s.barrier = nil
	}
	s.names = nil
	if s.hsm != nil {
		_ = s.hsm.Close()
		s.hsm = nil
	}
	s.Policies = nil
	s.Secrets = nil
}
