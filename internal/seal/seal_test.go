package seal

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/shamir"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// hooks records what the machine asked of the server.
type hooks struct {
	mu                 sync.Mutex
	opens, lives, shut int
	opened             *barrier.Barrier
	failOpen           error
	adminConfig        string
}

func (h *hooks) Hooks() Hooks {
	return Hooks{
		Open: func(_ context.Context, b *barrier.Barrier) (string, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.opens++
			h.opened = b
			return h.adminConfig, h.failOpen
		},
		Live:  func() { h.mu.Lock(); h.lives++; h.mu.Unlock() },
		Close: func(context.Context) { h.mu.Lock(); h.shut++; h.mu.Unlock() },
	}
}

func (h *hooks) counts() (opens, lives, shut int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.opens, h.lives, h.shut
}

type rig struct {
	t     *testing.T
	m     *Machine
	h     *hooks
	st    *memstore.Store
	logs  *bytes.Buffer
	logMu *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// newRig starts a machine of the given type on a fresh in-memory store.
func newRig(t *testing.T, typ string) *rig {
	t.Helper()
	r := &rig{t: t, h: &hooks{}, st: memstore.New(), logs: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	r.m = r.machine(typ)
	if err := r.m.Start(t.Context(), r.st); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return r
}

func (r *rig) machine(typ string) *Machine {
	log := slog.New(slog.NewJSONHandler(lockedWriter{r.logMu, r.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(Config{Type: typ, Log: log, Hooks: r.h.Hooks()})
}

func (r *rig) logText() string {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	return r.logs.String()
}

func wantKind(t *testing.T, err error, kind errs.Kind, contains string) {
	t.Helper()
	if err == nil || errs.KindOf(err) != kind || !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %v; want kind %v containing %q", err, kind, contains)
	}
}

// initialized inits a Shamir machine with n shares, threshold k.
func (r *rig) initialized(n, k int) []string {
	r.t.Helper()
	resp, err := r.m.Init(r.t.Context(), InitRequest{Shares: n, Threshold: k})
	if err != nil || len(resp.Shares) != n || resp.Threshold != k {
		r.t.Fatalf("Init: %+v %v", resp, err)
	}
	return resp.Shares
}

func (r *rig) unsealAll(shares ...string) Status {
	r.t.Helper()
	var st Status
	for i, sh := range shares {
		var err error
		st, err = r.m.Unseal(r.t.Context(), UnsealRequest{Share: sh})
		if err != nil || st.Sealed != (i < len(shares)-1) {
			r.t.Fatalf("share %d: %+v %v", i+1, st, err)
		}
	}
	return st
}

// TestShamirStateMachine: the Shamir life from an empty store: status
// before and after init, refused numbers and repeated init, progress,
// repeated and malformed shares, reset, a foreign share that resets the
// progress without opening anything, the unseal that opens the barrier
// once and goes live, seal that tears down and closes the barrier, and
// rotation only while unsealed.
func TestShamirStateMachine(t *testing.T) {
	r := newRig(t, TypeShamir)
	ctx := t.Context()
	r.h.adminConfig = "/data/oci/config"
	st, err := r.m.Status(ctx)
	if err != nil || st.Initialized || !st.Sealed || st.Type != TypeShamir || r.m.Initialized() || !r.m.Sealed() {
		t.Fatalf("fresh status %+v %v", st, err)
	}
	_, err = r.m.Unseal(ctx, UnsealRequest{Share: "AAE="})
	wantKind(t, err, errs.IncorrectState, "not initialized")
	for _, bad := range []InitRequest{{Shares: 5, Threshold: 1}, {Shares: 2, Threshold: 3}, {Shares: 256, Threshold: 2}, {Shares: -1, Threshold: -1}} {
		_, err := r.m.Init(ctx, bad)
		wantKind(t, err, errs.Invalid, "2 <= threshold")
	}
	shares := r.initialized(5, 3)
	_, err = r.m.Init(ctx, InitRequest{Shares: 5, Threshold: 3})
	wantKind(t, err, errs.IncorrectState, "already initialized")
	if st, _ := r.m.Status(ctx); !st.Initialized || !st.Sealed || st.Shares != 5 || st.Threshold != 3 || !r.m.Initialized() {
		t.Fatalf("status after init %+v", st)
	}

	if st, err := r.m.Unseal(ctx, UnsealRequest{Share: shares[0]}); err != nil || st.Progress != 1 {
		t.Fatalf("first share: %+v %v", st, err)
	}
	_, err = r.m.Unseal(ctx, UnsealRequest{Share: shares[0]})
	wantKind(t, err, errs.Invalid, "already submitted (progress 1/3)")
	for _, bad := range []string{"", "not a share", "AAE=", shares[0][:len(shares[0])-8]} {
		_, err = r.m.Unseal(ctx, UnsealRequest{Share: bad})
		wantKind(t, err, errs.Invalid, "not a share")
	}
	held := r.m.pending[0]
	if st, err := r.m.Unseal(ctx, UnsealRequest{Reset: true}); err != nil || st.Progress != 0 {
		t.Fatalf("reset: %+v %v", st, err)
	}
	if !bytes.Equal(held.Bytes(), make([]byte, held.Len()+1)) {
		t.Error("reset left a submitted share in memory")
	}

	foreign, _ := shamir.Split(make([]byte, barrier.RootKeySize), 5, 3)
	r.m.Unseal(ctx, UnsealRequest{Share: shares[0]})
	r.m.Unseal(ctx, UnsealRequest{Share: shares[1]})
	_, err = r.m.Unseal(ctx, UnsealRequest{Share: foreign[2].Text()})
	wantKind(t, err, errs.Invalid, "do not rebuild")
	if st, _ := r.m.Status(ctx); !st.Sealed || st.Progress != 0 {
		t.Fatalf("after foreign shares %+v", st)
	}
	if o, l, _ := r.h.counts(); o != 0 || l != 0 {
		t.Fatalf("wrong shares reached the hooks: open %d live %d", o, l)
	}
	_, err = r.m.Rotate(ctx)
	if !errors.Is(err, ErrSealed) {
		t.Fatalf("rotate while sealed: %v", err)
	}

	st = r.unsealAll(shares[2], shares[3], shares[4])
	if st.AdminConfig != "/data/oci/config" || st.Progress != 0 || r.m.Sealed() {
		t.Fatalf("unsealed status %+v", st)
	}
	if o, l, c := r.h.counts(); o != 1 || l != 1 || c != 0 {
		t.Fatalf("hooks after unseal: open %d live %d close %d", o, l, c)
	}
	// Unsealed, a share is not needed: the status, and no second open.
	if st, err := r.m.Unseal(ctx, UnsealRequest{Share: shares[0]}); err != nil || st.Sealed || st.AdminConfig != "" {
		t.Fatalf("unseal while unsealed: %+v %v", st, err)
	}
	rot, err := r.m.Rotate(ctx)
	if err != nil || rot.Term != 2 || rot.Terms != 2 {
		t.Fatalf("rotate: %+v %v", rot, err)
	}

	opened := r.h.opened
	if err := r.m.Seal(ctx, "ocid1.user.oc1..admin"); err != nil || !r.m.Sealed() {
		t.Fatalf("seal: %v", err)
	}
	if _, err := opened.Status(); !errors.Is(err, barrier.ErrSealed) {
		t.Fatalf("the barrier stays open after a seal: %v", err)
	}
	if err := r.m.Seal(ctx, "again"); err != nil {
		t.Fatalf("second seal: %v", err)
	}
	if _, _, c := r.h.counts(); c != 1 {
		t.Fatalf("close hook ran %d times for two seals", c)
	}
	// The data survived: a new machine on the same store opens with
	// another threshold of shares, and sees the rotated keyring.
	r2 := &rig{t: t, h: &hooks{}, st: r.st, logs: r.logs, logMu: r.logMu}
	r2.m = r2.machine(TypeShamir)
	if err := r2.m.Start(ctx, r.st); err != nil {
		t.Fatal(err)
	}
	r2.unsealAll(shares[4], shares[0], shares[2])
	if bs, err := r2.h.opened.Status(); err != nil || bs.Terms != 2 {
		t.Fatalf("keyring after restart: %+v %v", bs, err)
	}

	logs := r.logText()
	for _, want := range []string{"coffer initialized", "coffer unsealed", "coffer sealed", "keyring rotated", "ocid1.user.oc1..admin"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	for _, s := range append(shares, foreign[2].Text()) {
		if strings.Contains(logs, s) || strings.Contains(logs, strings.TrimRight(s, "=")) {
			t.Error("a share appears in the logs")
		}
	}
}

// TestOpenFailureTearsDown: when the server cannot build on the opened
// barrier, the machine undoes it, closes the barrier and stays sealed; the
// progress restarts.
func TestOpenFailureTearsDown(t *testing.T) {
	r := newRig(t, TypeShamir)
	shares := r.initialized(2, 2)
	r.h.failOpen = errors.New("endpoint port taken")
	r.m.Unseal(t.Context(), UnsealRequest{Share: shares[0]})
	_, err := r.m.Unseal(t.Context(), UnsealRequest{Share: shares[1]})
	wantKind(t, err, errs.Internal, "endpoint port taken")
	if o, l, c := r.h.counts(); o != 1 || l != 0 || c != 1 || !r.m.Sealed() {
		t.Fatalf("open %d live %d close %d sealed %t", o, l, c, r.m.Sealed())
	}
	if _, err := r.h.opened.Status(); !errors.Is(err, barrier.ErrSealed) {
		t.Fatalf("barrier left open: %v", err)
	}
	r.h.failOpen = nil
	r.unsealAll(shares[1], shares[0])
}

// TestShutdownRefusesUnseal: a stopping server drops the shares held and
// takes no more.
func TestShutdownRefusesUnseal(t *testing.T) {
	r := newRig(t, TypeShamir)
	shares := r.initialized(3, 2)
	r.m.Unseal(t.Context(), UnsealRequest{Share: shares[0]})
	held := r.m.pending[0]
	r.m.Shutdown()
	if !bytes.Equal(held.Bytes(), make([]byte, held.Len()+1)) {
		t.Error("shutdown left a submitted share in memory")
	}
	_, err := r.m.Unseal(t.Context(), UnsealRequest{Share: shares[1]})
	wantKind(t, err, errs.Unavailable, "stopping")
	if o, _, _ := r.h.counts(); o != 0 {
		t.Fatal("opened after shutdown")
	}
}

// TestConcurrentUnseal: the threshold of shares submitted at once, among
// status reads, opens the barrier exactly once.
func TestConcurrentUnseal(t *testing.T) {
	r := newRig(t, TypeShamir)
	shares := r.initialized(5, 3)
	var wg sync.WaitGroup
	for _, sh := range shares[:3] {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := r.m.Unseal(context.Background(), UnsealRequest{Share: sh}); err != nil {
				t.Errorf("unseal: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := r.m.Status(context.Background()); err != nil {
				t.Errorf("status: %v", err)
			}
		}()
	}
	wg.Wait()
	if o, l, _ := r.h.counts(); o != 1 || l != 1 || r.m.Sealed() {
		t.Fatalf("open %d live %d sealed %t", o, l, r.m.Sealed())
	}
}

// TestKeyFileMachine: a key-file (or dev) server opens at once, has no
// shares to make, rekey or seal, rotates, and refuses a Shamir store; a
// Shamir server refuses a key-file store.
func TestKeyFileMachine(t *testing.T) {
	ctx := t.Context()
	r := newRig(t, TypeKeyFile)
	if st, err := r.m.Status(ctx); err != nil || st.Sealed || !st.Initialized || st.Type != TypeKeyFile || !r.m.Initialized() {
		t.Fatalf("status %+v %v", st, err)
	}
	root, err := barrier.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	defer root.Zero()
	if err := r.m.Open(ctx, root); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if o, l, _ := r.h.counts(); o != 1 || l != 1 {
		t.Fatalf("open %d live %d", o, l)
	}
	_, err = r.m.Init(ctx, InitRequest{Shares: 3, Threshold: 2})
	wantKind(t, err, errs.IncorrectState, "no shares to make")
	wantKind(t, r.m.Seal(ctx, "x"), errs.IncorrectState, "cannot be sealed while running")
	_, err = r.m.Rekey(ctx, RekeyRequest{Shares: 3, Threshold: 2}, "x")
	wantKind(t, err, errs.IncorrectState, "rekey-file")
	if st, err := r.m.Unseal(ctx, UnsealRequest{Share: "AAE="}); err != nil || st.Sealed {
		t.Fatalf("unseal of an open key-file server: %+v %v", st, err)
	}
	if rot, err := r.m.Rotate(ctx); err != nil || rot.Term != 2 {
		t.Fatalf("rotate: %+v %v", rot, err)
	}

	// A Shamir store refuses a key-file machine, and the other way round.
	sh := newRig(t, TypeShamir)
	sh.initialized(2, 2)
	if err := r.machine(TypeKeyFile).Start(ctx, sh.st); err == nil || !strings.Contains(err.Error(), "--seal shamir") {
		t.Fatalf("key-file machine on a Shamir store: %v", err)
	}
	if err := r.machine(TypeShamir).Start(ctx, r.st); err == nil || !strings.Contains(err.Error(), "key file") {
		t.Fatalf("Shamir machine on a key-file store: %v", err)
	}
}

// TestBeforeStart: a call that comes before the store is open says the
// server is starting, rather than failing on a missing store.
func TestBeforeStart(t *testing.T) {
	m := New(Config{Type: TypeShamir, Log: slog.New(slog.DiscardHandler), Hooks: (&hooks{}).Hooks()})
	_, err := m.Status(t.Context())
	wantKind(t, err, errs.Unavailable, "starting")
	_, err = m.Init(t.Context(), InitRequest{Shares: 2, Threshold: 2})
	wantKind(t, err, errs.Unavailable, "starting")
}

func TestSources(t *testing.T) {
	for _, tc := range []struct {
		src      Sources
		typ, err string
	}{
		{Sources{Dev: true}, TypeDev, ""},
		{Sources{KeyFile: true}, TypeKeyFile, ""},
		{Sources{KeyEnv: true}, TypeKeyFile, ""},
		{Sources{Seal: TypeShamir}, TypeShamir, ""},
		{Sources{}, TypeDev, "without an unseal source"},
		{Sources{Seal: TypeShamir, Dev: true}, TypeShamir, "cannot be combined"},
		{Sources{Seal: TypeShamir, KeyFile: true}, TypeShamir, "cannot be combined"},
		{Sources{Seal: TypeShamir, KeyEnv: true}, TypeShamir, "cannot be combined"},
		{Sources{Seal: "pkcs11-someday"}, "pkcs11-someday", "unknown --seal"},
		{Sources{Seal: TypePKCS11, PKCS11Module: true}, TypePKCS11, ""},
		{Sources{Seal: TypePKCS11}, TypePKCS11, "needs --pkcs11-module"},
		{Sources{Seal: TypePKCS11, PKCS11Module: true, KeyEnv: true}, TypePKCS11, "cannot be combined"},
		{Sources{Seal: TypePKCS11, PKCS11Module: true, Dev: true}, TypePKCS11, "cannot be combined"},
	} {
		err := tc.src.Check()
		if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: Check = %v, want %q", tc.src, err, tc.err)
		}
		if got := tc.src.Type(); got != tc.typ {
			t.Errorf("%+v: Type = %q, want %q", tc.src, got, tc.typ)
		}
	}
}

// TestLogValuesRedact: the request and answer types that carry shares
// never show them in a log.
func TestLogValuesRedact(t *testing.T) {
	const share = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh"
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "init", InitResponse{Shares: []string{share}, Threshold: 2},
		"unseal", UnsealRequest{Share: share}, "rekey", RekeyRequest{Share: share, Nonce: "n"},
		"done", RekeyResponse{Complete: true, Shares: []string{share}})
	if strings.Contains(buf.String(), share) || strings.Contains(buf.String(), share[:20]) {
		t.Fatalf("a share in a log line: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"complete":true`) {
		t.Fatalf("the redacted values say nothing: %s", buf.String())
	}
}
