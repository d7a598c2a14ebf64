// Package seal is a Coffer server's seal state machine: whether the root
// key is held, Shamir init and unseal from shares, the PKCS#11 auto-unseal
// (autoseal.go), seal, keyring rotation, the rekey of the root key
// (rekey.go) and the offline migration between seal types (migrate.go). It opens and closes the
// barrier; what a server builds on an open barrier (services, routes,
// vault endpoints, jobs) is the caller's, passed in as Hooks. It knows
// nothing of listeners or HTTP: the operator API that drives it is
// internal/ociapi/sysapi.
package seal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/shamir"
	"github.com/coffer-vault/coffer/internal/store"
)

// How the root key is held, as Status.Type reports it.
const (
	TypeShamir  = barrier.SealShamir
	TypePKCS11  = barrier.SealPKCS11
	TypeKeyFile = "key-file"
	TypeDev     = "dev"
)

// unsealTimeout bounds an unseal or rekey once the shares combine: the
// request that completed the threshold may end, the work goes on.
const unsealTimeout = time.Minute

// ErrSealed is every API call's answer while the server is sealed.
var ErrSealed = errs.E(errs.Unavailable, "the server is sealed: an operator must unseal it (coffer operator unseal)")

// errStarting answers an operator call that comes before Start.
var errStarting = errs.E(errs.Unavailable, "the server is starting; retry shortly")

// Hooks are what the server does around the barrier's life. Each is
// called with the machine's lock held, so none runs concurrently with
// another or with a seal.
type Hooks struct {
	// Open builds, on the freshly opened barrier, everything the unsealed
	// server serves. When it bootstrapped the tenancy it returns where the
	// administrator's OCI config was written, which the unseal answer
	// names. After a failure the machine calls Close and closes b.
	Open func(ctx context.Context, b *barrier.Barrier) (adminConfig string, err error)
	// Live starts serving what Open built; the machine counts as unsealed
	// from then on.
	Live func()
	// Close undoes Open and Live; the machine closes the barrier after it.
	Close func(ctx context.Context)
}

// Config configures a Machine.
type Config struct {
	// Type is how this server holds its root key: TypeShamir, TypePKCS11,
	// TypeKeyFile or TypeDev (Sources.Type).
	Type string
	// Auto is the token key of a TypePKCS11 machine.
	Auto  *AutoUnseal
	Log   *slog.Logger
	Now   func() time.Time
	Hooks Hooks
}

// Machine is the seal state. Its lock orders every init, unseal, seal,
// rotation and rekey.
type Machine struct {
	cfg Config

	mu sync.Mutex
	// store is the raw store, beneath the barrier; nil until Start.
	store       store.Store
	config      barrier.SealConfig // the Shamir split, or the wrapped root key (TypePKCS11)
	initialized bool
	// initializedFlag mirrors initialized for health checks, which must
	// not wait on mu while an unseal holds it.
	initializedFlag atomic.Bool
	sealed          atomic.Bool
	barrier         *barrier.Barrier // nil while sealed
	pending         []shamir.Share   // unseal shares submitted so far
	rekey           *rekeyState      // a rekey in progress, nil if none
	closed          bool
	// reason says why a TypePKCS11 machine is sealed; loginRefused, that
	// the token refused the PIN; lastTry, when it last tried the token.
	reason       string
	loginRefused bool
	lastTry      time.Time
}

// New returns the machine of a server whose store is not open yet
// (Start); neither sealed nor open.
func New(cfg Config) *Machine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Machine{cfg: cfg}
}

// Status is the answer of the seal status and of every unseal call. It
// tells nothing secret.
type Status struct {
	// Type is how the root key is held: shamir, pkcs11, key-file or dev.
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
	// Reason says why a server that unseals itself (pkcs11) is sealed:
	// what the operator should fix. It names no secret.
	Reason string `json:"reason,omitempty"`
}

// InitRequest asks to split a fresh root key.
type InitRequest struct {
	Shares    int `json:"shares"`
	Threshold int `json:"threshold"`
}

// InitResponse carries the shares, once: the server keeps none of them.
type InitResponse struct {
	Shares    []string `json:"shares"`
	Threshold int      `json:"threshold"`
}

// LogValue never shows the shares.
func (r InitResponse) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("shares", len(r.Shares)), slog.Int("threshold", r.Threshold))
}

// UnsealRequest submits one share, or with Reset discards the shares
// submitted so far.
type UnsealRequest struct {
	Share string `json:"share,omitempty"`
	Reset bool   `json:"reset,omitempty"`
}

// LogValue never shows the share.
func (r UnsealRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("reset", r.Reset), slog.String("share", "REDACTED"))
}

// Rotation is the keyring's new active term after a rotation.
type Rotation struct {
	Term        uint32    `json:"term"`
	Terms       int       `json:"terms"`
	TimeCreated time.Time `json:"timeCreated"`
}

// Start looks at st, the raw store. A Shamir server stays sealed, waiting
// for Init and Unseal; a PKCS#11 one stays sealed until AutoUnseal; the
// other types go on with Open. Each refuses a store whose root key is held
// another way.
func (m *Machine) Start(ctx context.Context, st store.Store) error {
	cfg, ok, err := barrier.ReadSealConfig(ctx, st)
	if err != nil {
		return err
	}
	initialized, err := barrier.Initialized(ctx, st)
	if err != nil {
		return err
	}
	if initialized {
		if err := m.checkHeldAs(cfg, ok); err != nil {
			return err
		}
	}
	if !m.tracksInit() {
		m.mu.Lock()
		m.store = st
		m.mu.Unlock()
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.store = st
	m.setInitialized(cfg, initialized)
	m.sealed.Store(true)
	if m.cfg.Type == TypePKCS11 {
		m.reason = "the server has not tried its PKCS#11 seal key yet"
		return nil
	}
	if initialized {
		m.cfg.Log.Warn("coffer is sealed: submit shares with coffer operator unseal", "threshold", cfg.Threshold, "shares", cfg.Shares)
	} else {
		m.cfg.Log.Warn("coffer is not initialized: run coffer operator init, then coffer operator unseal")
	}
	return nil
}

// tracksInit reports whether the machine keeps track of the store being
// initialized: the types whose root key is recorded in the store's seal
// configuration.
func (m *Machine) tracksInit() bool { return m.cfg.Type == TypeShamir || m.cfg.Type == TypePKCS11 }

// checkHeldAs refuses an initialized store whose seal configuration (ok:
// there is one) says its root key is held another way than this server's.
func (m *Machine) checkHeldAs(cfg barrier.SealConfig, ok bool) error {
	held := TypeKeyFile
	if ok {
		held = cfg.Type
	}
	mine := m.cfg.Type
	if mine == TypeDev {
		mine = TypeKeyFile
	}
	if held == mine {
		if held == TypePKCS11 && m.cfg.Auto != nil && cfg.KeyLabel != m.cfg.Auto.KeyLabel {
			return fmt.Errorf("this data directory's root key is wrapped by the PKCS#11 key labelled %q: start it with --pkcs11-seal-key-label %q (or migrate it: coffer operator migrate-seal)", cfg.KeyLabel, cfg.KeyLabel)
		}
		return nil
	}
	switch held {
	case TypeShamir:
		return errors.New("this data directory's root key is split into Shamir shares: start it with --seal shamir")
	case TypePKCS11:
		return fmt.Errorf("this data directory's root key is wrapped by a key in a PKCS#11 token: start it with --seal pkcs11 --pkcs11-seal-key-label %q", cfg.KeyLabel)
	case TypeKeyFile:
		return fmt.Errorf("this data directory's root key comes from a key file: start it with --unseal-key-file or %s, without --seal", UnsealKeyEnv)
	}
	return fmt.Errorf("this data directory's root key is held by an unknown seal type %q", held)
}

// Open opens the barrier with a root key from a key file (or dev mode)
// and makes the server live. The caller keeps and zeroes root.
func (m *Machine) Open(ctx context.Context, root barrier.RootKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.open(ctx, root); err != nil {
		return err
	}
	m.cfg.Hooks.Live()
	return nil
}

// open opens the barrier and runs the Open hook, undoing both on failure;
// the caller holds mu.
func (m *Machine) open(ctx context.Context, root barrier.RootKey) (adminConfig string, err error) {
	if m.store == nil {
		return "", errStarting
	}
	b, err := barrier.Unseal(ctx, m.store, root)
	if err != nil {
		return "", err
	}
	m.barrier = b
	adminConfig, err = m.cfg.Hooks.Open(ctx, b)
	if err != nil {
		m.teardown(ctx)
		return "", err
	}
	return adminConfig, nil
}

// teardown undoes open; the caller holds mu.
func (m *Machine) teardown(ctx context.Context) {
	m.cfg.Hooks.Close(ctx)
	if m.barrier != nil {
		m.barrier.Close()
		m.barrier = nil
	}
}

// Sealed reports whether the server is sealed.
func (m *Machine) Sealed() bool { return m.sealed.Load() }

// Initialized reports whether the store has a root key; it does not wait
// for an unseal in progress.
func (m *Machine) Initialized() bool {
	return !m.tracksInit() || m.initializedFlag.Load()
}

// setInitialized records the seal configuration of an initialized (or
// not yet initialized) store; the caller holds mu.
func (m *Machine) setInitialized(cfg barrier.SealConfig, initialized bool) {
	m.config, m.initialized = cfg, initialized
	m.initializedFlag.Store(initialized)
}

// reset discards the unseal shares submitted so far; the caller holds mu.
func (m *Machine) reset() {
	zeroShares(m.pending)
	m.pending = nil
}

func zeroShares(shares []shamir.Share) {
	for _, sh := range shares {
		sh.Zero()
	}
}

// Shutdown refuses further unseals and drops every share held; the server
// calls it first when it stops.
func (m *Machine) Shutdown() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.reset()
	m.cancelRekey()
}

// status describes the seal; the caller holds mu.
func (m *Machine) status() Status {
	st := Status{Type: m.cfg.Type, Sealed: m.sealed.Load(), Initialized: true}
	switch m.cfg.Type {
	case TypeShamir:
		st.Initialized = m.initialized
		st.Shares, st.Threshold = m.config.Shares, m.config.Threshold
		st.Progress = len(m.pending)
	case TypePKCS11:
		st.Initialized = m.initialized
		if st.Sealed {
			st.Reason = m.reason
		}
	}
	return st
}

// refreshInitialized looks at the store again when this node believes it
// is not initialized: another node sharing the database may have been.
// The caller holds mu.
func (m *Machine) refreshInitialized(ctx context.Context) error {
	if m.initialized || !m.tracksInit() {
		return nil
	}
	if m.store == nil {
		return errStarting
	}
	cfg, ok, err := barrier.ReadSealConfig(ctx, m.store)
	if err != nil {
		return err
	}
	init, err := barrier.Initialized(ctx, m.store)
	if err != nil {
		return err
	}
	if init && ok && cfg.Type == m.cfg.Type {
		m.setInitialized(cfg, true)
	}
	return nil
}

// Status describes the seal.
func (m *Machine) Status(ctx context.Context) (Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.refreshInitialized(ctx); err != nil {
		return Status{}, err
	}
	return m.status(), nil
}

// keyFileRoot begins the refusal of a Shamir operation on a key-file or
// dev server; pkcs11Root on a PKCS#11 one.
const (
	keyFileRoot = "this server's root key comes from a key file (or dev mode)"
	pkcs11Root  = "this server's root key is wrapped by its PKCS#11 seal key"
)

// notShamir is the start of the refusal of a Shamir operation on a server
// of another type.
func (m *Machine) notShamir() string {
	if m.cfg.Type == TypePKCS11 {
		return pkcs11Root
	}
	return keyFileRoot
}

func errSplit() error {
	return errs.E(errs.Invalid, "shares and threshold must satisfy 2 <= threshold <= shares <= %d", shamir.MaxShares)
}

func errNotShare() error {
	return errs.E(errs.Invalid, "share is not a share of a Coffer root key (base64 of %d bytes expected)", barrier.RootKeySize+1)
}

// parseShare parses one submitted share of a root key.
func parseShare(text string) (shamir.Share, error) {
	share, err := shamir.ParseShare([]byte(text))
	if err != nil || share.Len() != barrier.RootKeySize {
		share.Zero()
		return shamir.Share{}, errNotShare()
	}
	return share, nil
}

// splitRoot makes a fresh root key and splits it by cfg. The caller zeroes
// the root key and the shares.
func splitRoot(cfg barrier.SealConfig) (barrier.RootKey, []shamir.Share, error) {
	root, err := barrier.GenerateRootKey()
	if err != nil {
		return barrier.RootKey{}, nil, err
	}
	shares, err := root.Split(cfg.Shares, cfg.Threshold)
	if err != nil {
		root.Zero()
		return barrier.RootKey{}, nil, err
	}
	return root, shares, nil
}

// shareTexts is the text form of shares, for the one answer that carries
// them.
func shareTexts(shares []shamir.Share) []string {
	out := make([]string, len(shares))
	for i, sh := range shares {
		out[i] = sh.Text()
	}
	return out
}

// Init splits a fresh root key into shares and initializes the store with
// it. The server stays sealed: unsealing with the threshold of the shares
// proves they work.
func (m *Machine) Init(ctx context.Context, req InitRequest) (InitResponse, error) {
	if m.cfg.Type != TypeShamir {
		return InitResponse{}, errs.E(errs.IncorrectState, "%s: there are no shares to make (it initializes itself at its first start); start a new data directory with --seal shamir for shares", m.notShamir())
	}
	cfg := barrier.SealConfig{Type: barrier.SealShamir, Shares: req.Shares, Threshold: req.Threshold}
	if err := cfg.Validate(); err != nil {
		return InitResponse{}, errSplit()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.refreshInitialized(ctx); err != nil {
		return InitResponse{}, err
	}
	errInitialized := errs.E(errs.IncorrectState, "the server is already initialized")
	if m.initialized {
		return InitResponse{}, errInitialized
	}
	root, shares, err := splitRoot(cfg)
	if err != nil {
		return InitResponse{}, err
	}
	defer root.Zero()
	defer zeroShares(shares)
	if err := barrier.Initialize(ctx, m.store, root, cfg, m.cfg.Now()); errors.Is(err, barrier.ErrAlreadyInitialized) {
		_ = m.refreshInitialized(ctx)
		return InitResponse{}, errInitialized
	} else if err != nil {
		return InitResponse{}, err
	}
	m.setInitialized(cfg, true)
	m.cfg.Log.Warn("coffer initialized: the root key was split into shares, returned once to the caller and kept nowhere; the server stays sealed until the threshold of shares is submitted",
		"shares", cfg.Shares, "threshold", cfg.Threshold)
	return InitResponse{Threshold: cfg.Threshold, Shares: shareTexts(shares)}, nil
}

// Unseal submits one share (or resets the progress). The share that
// completes the threshold rebuilds the root key, opens the barrier and
// makes the server live; a wrong set of shares resets the progress.
func (m *Machine) Unseal(ctx context.Context, req UnsealRequest) (Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg.Type == TypePKCS11 {
		return m.retryAutoUnseal(ctx, req)
	}
	if req.Reset {
		m.reset()
		return m.status(), nil
	}
	if !m.sealed.Load() {
		return m.status(), nil
	}
	if m.closed {
		return Status{}, errs.E(errs.Unavailable, "the server is stopping")
	}
	if err := m.refreshInitialized(ctx); err != nil {
		return Status{}, err
	}
	if !m.initialized {
		return Status{}, errs.E(errs.IncorrectState, "the server is not initialized: run coffer operator init first")
	}
	root, done, err := m.collect(&m.pending, req.Share, "unseal", "")
	if err != nil {
		return Status{}, err
	}
	if !done {
		return m.status(), nil
	}
	defer root.Zero()
	threshold := m.config.Threshold
	// The request may end before the services are built; unseal on.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unsealTimeout)
	defer cancel()
	adminConfig, err := m.open(ctx, root)
	if errors.Is(err, barrier.ErrWrongRootKey) {
		m.cfg.Log.Warn("unseal failed: the shares do not rebuild this server's root key; progress reset")
		return Status{}, errs.E(errs.Invalid, "the shares do not rebuild this server's root key (a wrong or mistyped share, or a share of another server); progress reset: submit %d shares again", threshold)
	} else if err != nil {
		return Status{}, errs.Wrap(errs.Internal, err, "unseal failed; progress reset")
	}
	m.sealed.Store(false)
	m.cfg.Hooks.Live()
	m.cfg.Log.Info("coffer unsealed")
	st := m.status()
	st.AdminConfig = adminConfig
	return st, nil
}

// collect adds one submitted share of the current root key to pending,
// the unseal's or a rekey's (op, for the logs; which, for the caller's
// words). At the threshold it combines them and empties pending, and
// returns the root key (done), which the caller zeroes; a set of shares
// that does not combine resets the progress.
func (m *Machine) collect(pending *[]shamir.Share, text, op, which string) (root barrier.RootKey, done bool, err error) {
	share, err := parseShare(text)
	if err != nil {
		return barrier.RootKey{}, false, err
	}
	threshold := m.config.Threshold
	dup := false
	for _, p := range *pending {
		dup = p.Equal(share) || dup // no early exit: every comparison runs
	}
	if dup {
		share.Zero()
		return barrier.RootKey{}, false, errs.E(errs.Invalid, "this share was already submitted (progress %d/%d)", len(*pending), threshold)
	}
	*pending = append(*pending, share)
	if len(*pending) < threshold {
		m.cfg.Log.Info(op+" share accepted", "progress", len(*pending), "threshold", threshold)
		return barrier.RootKey{}, false, nil
	}
	root, err = barrier.RootKeyFromShares(*pending)
	zeroShares(*pending)
	*pending = nil
	if err != nil {
		m.cfg.Log.Warn(op + " failed: the shares do not combine; progress reset")
		return barrier.RootKey{}, false, errs.E(errs.Invalid, "the shares do not combine (two shares with the same index?); progress reset: submit %d %sshares again", threshold, which)
	}
	return root, true, nil
}

// Seal drops the root key, the keyring and everything built on them (the
// Close hook): the server answers ErrSealed until it is unsealed again.
// by, who asked, is logged.
func (m *Machine) Seal(ctx context.Context, by string) error {
	if m.cfg.Type != TypeShamir {
		return errs.E(errs.IncorrectState, "%s, so it cannot be sealed while running (it would unseal itself again): stop the server instead", m.notShamir())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sealed.Load() || m.closed {
		return nil
	}
	m.sealed.Store(true)
	m.cancelRekey()
	m.teardown(ctx)
	m.cfg.Log.Warn("coffer sealed", "by", by)
	return nil
}

// Rotate adds a keyring term that seals every value written from now on.
func (m *Machine) Rotate(ctx context.Context) (Rotation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sealed.Load() || m.barrier == nil {
		return Rotation{}, ErrSealed
	}
	term, err := m.barrier.Rotate(ctx, m.cfg.Now())
	if err != nil {
		return Rotation{}, err
	}
	st, err := m.barrier.Status()
	if err != nil {
		return Rotation{}, err
	}
	m.cfg.Log.Warn("keyring rotated: new values are sealed with the new term", "term", term, "terms", st.Terms)
	return Rotation{Term: term, Terms: st.Terms, TimeCreated: st.Installed}, nil
}
