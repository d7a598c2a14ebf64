package seal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/faulty"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// fakeToken stands for a PKCS#11 token: AES keys by label, in memory.
type fakeToken struct {
	mu     sync.Mutex
	keys   map[string]cipher.AEAD
	down   error // when set, Open fails with it
	opens  int
	closed int
}

func newFakeToken() *fakeToken { return &fakeToken{keys: map[string]cipher.AEAD{}} }

type fakeKey struct {
	t *fakeToken
	a cipher.AEAD
}

func (k fakeKey) Seal(nonce, plain, aad []byte) ([]byte, error) {
	return k.a.Seal(nil, nonce, plain, aad), nil
}

func (k fakeKey) Open(nonce, ct, aad []byte) ([]byte, error) { return k.a.Open(nil, nonce, ct, aad) }

func (k fakeKey) Close() error {
	k.t.mu.Lock()
	defer k.t.mu.Unlock()
	k.t.closed++
	return nil
}

func (tk *fakeToken) open(_ context.Context, label string, generate bool) (Wrapper, error) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.opens++
	if tk.down != nil {
		return nil, tk.down
	}
	a, ok := tk.keys[label]
	if !ok && !generate {
		return nil, fmt.Errorf("seal key %q: %w", label, keyprotect.ErrMaterialNotFound)
	}
	if !ok {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		block, _ := aes.NewCipher(key)
		a, _ = cipher.NewGCM(block)
		tk.keys[label] = a
	}
	return fakeKey{tk, a}, nil
}

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// autoMachine starts a TypePKCS11 machine on st with the token key label.
func (r *rig) autoMachine(st store.Store, tk *fakeToken, label string, generate bool, now *clock) (*Machine, error) {
	log := slog.New(slog.NewJSONHandler(lockedWriter{r.logMu, r.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := New(Config{Type: TypePKCS11, Log: log, Now: now.Now, Hooks: r.h.Hooks(),
		Auto: &AutoUnseal{KeyLabel: label, Generate: generate, Open: tk.open}})
	return m, m.Start(r.t.Context(), st)
}

func newAutoRig(t *testing.T) (*rig, *clock) {
	r := &rig{t: t, h: &hooks{}, st: memstore.New(), logs: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	return r, &clock{now: time.Unix(1_700_000_000, 0)}
}

// TestAutoUnsealLifecycle: the first start of an empty store makes the
// token key (with Generate), records the root key wrapped and unseals; a
// restart (a new machine on the same store) unseals with no shares; the
// Shamir operations are refused; nothing secret is logged.
func TestAutoUnsealLifecycle(t *testing.T) {
	r, now := newAutoRig(t)
	ctx := t.Context()
	tk := newFakeToken()
	m, err := r.autoMachine(r.st, tk, "seal-1", true, now)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Status(ctx); !st.Sealed || st.Initialized || st.Type != TypePKCS11 || st.Reason == "" {
		t.Fatalf("before AutoUnseal: %+v", st)
	}
	if err := m.AutoUnseal(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := m.Status(ctx)
	if st.Sealed || !st.Initialized || st.Reason != "" || m.Sealed() || !m.Initialized() {
		t.Fatalf("after AutoUnseal: %+v", st)
	}
	if opens, lives, _ := r.h.counts(); opens != 1 || lives != 1 {
		t.Fatalf("hooks: opens %d lives %d", opens, lives)
	}
	cfg, ok, err := barrier.ReadSealConfig(ctx, r.st)
	if err != nil || !ok || cfg.Type != TypePKCS11 || cfg.KeyLabel != "seal-1" || cfg.Mechanism != barrier.MechanismAESGCM {
		t.Fatalf("seal config %+v %v %v", cfg, ok, err)
	}
	if tk.opens != 1 || tk.closed != 1 {
		t.Fatalf("token opened %d, closed %d: the key must be closed after use", tk.opens, tk.closed)
	}
	_, err = m.Init(ctx, InitRequest{Shares: 3, Threshold: 2})
	wantKind(t, err, errs.IncorrectState, "PKCS#11 seal key")
	wantKind(t, m.Seal(ctx, "admin"), errs.IncorrectState, "stop the server")
	_, err = m.Rekey(ctx, RekeyRequest{Shares: 3, Threshold: 2}, "admin")
	wantKind(t, err, errs.IncorrectState, "migrate-seal")
	_, err = m.Unseal(ctx, UnsealRequest{Share: "AAE="})
	wantKind(t, err, errs.Invalid, "takes no shares")
	if _, err := m.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	m.Shutdown()

	// Restart: unsealed by the token, without generating anything.
	m2, err := r.autoMachine(r.st, tk, "seal-1", false, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.AutoUnseal(ctx); err != nil || m2.Sealed() {
		t.Fatalf("restart: sealed %v, %v", m2.Sealed(), err)
	}
	if len(tk.keys) != 1 {
		t.Fatalf("token holds %d keys", len(tk.keys))
	}
	// Another label than the one recorded is refused at start, naming it.
	if _, err := r.autoMachine(r.st, tk, "seal-2", true, now); err == nil || !strings.Contains(err.Error(), `--pkcs11-seal-key-label "seal-1"`) {
		t.Fatalf("other label: %v", err)
	}
	// So is a key-file or Shamir server on this store, and a pkcs11 one on a key-file store.
	for _, typ := range []string{TypeKeyFile, TypeShamir, TypeDev} {
		if err := r.machine(typ).Start(ctx, r.st); err == nil || !strings.Contains(err.Error(), "--seal pkcs11") {
			t.Errorf("%s on a pkcs11 store: %v", typ, err)
		}
	}
	kf := memstore.New()
	root, _ := barrier.GenerateRootKey()
	if b, err := barrier.Unseal(ctx, kf, root); err != nil {
		t.Fatal(err)
	} else {
		b.Close()
	}
	if _, err := r.autoMachine(kf, tk, "seal-1", true, now); err == nil || !strings.Contains(err.Error(), "key file") {
		t.Fatalf("pkcs11 on a key-file store: %v", err)
	}
	logs := r.logText()
	if strings.Contains(logs, cfg.WrappedRootKey) {
		t.Fatal("the wrapped root key was logged")
	}
}

// TestAutoUnsealFailuresStaySealed: a token that cannot be used leaves the
// server sealed with a reason and no error; an unseal call tries again,
// at most once per retryInterval and never after the PIN was refused.
func TestAutoUnsealFailuresStaySealed(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name     string
		down     error
		label    string
		reason   string
		noRetry  bool
		generate bool
	}{
		{name: "token absent", down: fmt.Errorf("%w: open token: no such token", keyprotect.ErrHSMUnavailable), label: "k", reason: "cannot be used"},
		{name: "PIN refused", down: fmt.Errorf("%w: %w: CKR_PIN_INCORRECT", keyprotect.ErrHSMUnavailable, keyprotect.ErrHSMLogin), label: "k", reason: "refused the PIN", noRetry: true},
		{name: "key missing", label: "k", reason: `no seal key labelled "k"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, now := newAutoRig(t)
			tk := newFakeToken()
			// Initialize the store with the key, then lose the key or the token.
			m, err := r.autoMachine(r.st, tk, "k", true, now)
			if err != nil || m.AutoUnseal(ctx) != nil || m.Sealed() {
				t.Fatalf("setup: %v", err)
			}
			m.Shutdown()
			keys := tk.keys
			if tc.down != nil {
				tk.down = tc.down
			} else {
				tk.keys = map[string]cipher.AEAD{}
			}
			m, err = r.autoMachine(r.st, tk, "k", true, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.AutoUnseal(ctx); err != nil {
				t.Fatalf("AutoUnseal: %v (a token failure is no error)", err)
			}
			st, _ := m.Status(ctx)
			if !st.Sealed || !st.Initialized || !strings.Contains(st.Reason, tc.reason) {
				t.Fatalf("status %+v, want sealed with reason %q", st, tc.reason)
			}
			if len(tk.keys) != 0 && tc.down == nil {
				t.Fatal("a key was generated for an initialized store")
			}
			if !strings.Contains(r.logText(), "auto-unseal failed") {
				t.Fatal("the failure was not logged")
			}
			// The token comes back.
			tk.down, tk.keys = nil, keys
			opens := tk.opens
			_, err = m.Unseal(ctx, UnsealRequest{})
			if tc.noRetry {
				wantKind(t, err, errs.IncorrectState, "restart the server")
				if tk.opens != opens {
					t.Fatal("the token was tried again after it refused the PIN")
				}
				return
			}
			if err != nil || !m.Sealed() || tk.opens != opens {
				t.Fatalf("retry within %v: sealed %v err %v, opens %d -> %d", retryInterval, m.Sealed(), err, opens, tk.opens)
			}
			now.Add(retryInterval)
			st, err = m.Unseal(ctx, UnsealRequest{})
			if err != nil || st.Sealed || st.Reason != "" || m.Sealed() {
				t.Fatalf("retry: %+v %v", st, err)
			}
		})
	}
}

// TestAutoUnsealWrongKey: a token key that does not unwrap the stored root
// key (another key under the recorded label) leaves the server sealed.
func TestAutoUnsealWrongKey(t *testing.T) {
	ctx := t.Context()
	r, now := newAutoRig(t)
	tk := newFakeToken()
	m, _ := r.autoMachine(r.st, tk, "k", true, now)
	if err := m.AutoUnseal(ctx); err != nil {
		t.Fatal(err)
	}
	m.Shutdown()
	other := newFakeToken()
	m, _ = r.autoMachine(r.st, other, "k", true, now)
	delete(other.keys, "k")
	other.open(ctx, "k", true) // a different key with the same label
	if err := m.AutoUnseal(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Status(ctx); !st.Sealed || !strings.Contains(st.Reason, "does not unwrap") {
		t.Fatalf("status %+v", st)
	}
}

// TestAutoUnsealRace: two nodes sharing a store initialize at once; one
// wins, the other unwraps what the winner recorded.
func TestAutoUnsealRace(t *testing.T) {
	ctx := t.Context()
	r, now := newAutoRig(t)
	tk := newFakeToken()
	tk.open(ctx, "k", true)
	a, _ := r.autoMachine(r.st, tk, "k", false, now)
	b, _ := r.autoMachine(r.st, tk, "k", false, now)
	var wg sync.WaitGroup
	for _, m := range []*Machine{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.AutoUnseal(ctx) }()
	}
	wg.Wait()
	if a.Sealed() || b.Sealed() {
		t.Fatalf("sealed: a %v b %v", a.Sealed(), b.Sealed())
	}
}

// keyringOpens reports whether root opens st's keyring.
func keyringOpens(t *testing.T, st store.Store, root barrier.RootKey) bool {
	t.Helper()
	b, err := barrier.Unseal(t.Context(), st, root)
	if errors.Is(err, barrier.ErrWrongRootKey) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	return true
}

// storedValue writes a value through the barrier, to read it back after
// each migration.
func storedValue(t *testing.T, st store.Store, root barrier.RootKey, put bool) string {
	t.Helper()
	b, err := barrier.Unseal(t.Context(), st, root)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sealed := b.Wrap(st)
	if put {
		if err := sealed.Update(t.Context(), func(tx store.Tx) error { return tx.Put("data/x", []byte("value")) }); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	if err := sealed.View(t.Context(), func(r store.Reader) error { got, err = r.Get("data/x"); return err }); err != nil {
		t.Fatal(err)
	}
	return string(got)
}

// TestMigrateRoundTrip: key file -> pkcs11 -> shamir -> key file -> the
// same pkcs11 again under another token key; after each step the new
// holder opens the store and the data, and the old one does not.
func TestMigrateRoundTrip(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	dir := t.TempDir()
	root, err := barrier.CreateKeyFile(dir + "/k1")
	if err != nil {
		t.Fatal(err)
	}
	if got := storedValue(t, st, root, true); got != "value" {
		t.Fatal(got)
	}
	tk := newFakeToken()
	w, _ := tk.open(ctx, "seal-a", true)

	// key file -> pkcs11
	if err := Migrate(ctx, st, root, Migration{To: TypePKCS11, Wrapper: w, KeyLabel: "seal-a"}); err != nil {
		t.Fatal(err)
	}
	cfg, ok, _ := barrier.ReadSealConfig(ctx, st)
	if !ok || cfg.Type != TypePKCS11 {
		t.Fatalf("config %+v", cfg)
	}
	if keyringOpens(t, st, root) {
		t.Fatal("the old key file still opens the store")
	}
	pk, err := barrier.UnwrapRootKey(w, cfg)
	if err != nil || storedValue(t, st, pk, false) != "value" {
		t.Fatalf("pkcs11 root: %v", err)
	}

	// pkcs11 -> shamir
	var shares []string
	err = Migrate(ctx, st, pk, Migration{To: TypeShamir, Shares: 3, Threshold: 2, Deliver: func(s []string) error {
		shares = append([]string(nil), s...)
		return nil
	}})
	if err != nil || len(shares) != 3 {
		t.Fatalf("to shamir: %v, %d shares", err, len(shares))
	}
	if cfg, _, _ := barrier.ReadSealConfig(ctx, st); cfg.Type != TypeShamir || cfg.Threshold != 2 || cfg.WrappedRootKey != "" {
		t.Fatalf("config %+v", cfg)
	}
	if keyringOpens(t, st, pk) {
		t.Fatal("the token key still opens the store")
	}
	sr, err := RootKeyFromShares(shares[1:])
	if err != nil || storedValue(t, st, sr, false) != "value" {
		t.Fatalf("shamir root: %v", err)
	}
	// A Shamir machine now starts on it.
	r := newRig(t, TypeShamir)
	if err := r.m.Start(ctx, st); err != nil {
		t.Fatalf("shamir Start after migration: %v", err)
	}

	// shamir -> key file
	if err := Migrate(ctx, st, sr, Migration{To: TypeKeyFile, KeyFile: dir + "/k2"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := barrier.ReadSealConfig(ctx, st); ok {
		t.Fatal("a key-file store keeps a seal configuration")
	}
	k2, err := barrier.ReadKeyFile(dir + "/k2")
	if err != nil || storedValue(t, st, k2, false) != "value" || keyringOpens(t, st, sr) {
		t.Fatalf("key file root: %v", err)
	}

	// key file -> pkcs11 under a freshly generated key, and pkcs11 -> pkcs11 (another key).
	if err := Migrate(ctx, st, k2, Migration{To: TypePKCS11, Wrapper: w, KeyLabel: "seal-a"}); err != nil {
		t.Fatal(err)
	}
	cfg, _, _ = barrier.ReadSealConfig(ctx, st)
	pk, _ = barrier.UnwrapRootKey(w, cfg)
	w2, _ := tk.open(ctx, "seal-b", true)
	if err := Migrate(ctx, st, pk, Migration{To: TypePKCS11, Wrapper: w2, KeyLabel: "seal-b"}); err != nil {
		t.Fatal(err)
	}
	cfg, _, _ = barrier.ReadSealConfig(ctx, st)
	if _, err := barrier.UnwrapRootKey(w, cfg); err == nil {
		t.Fatal("the old token key unwraps the new root key")
	}
	pk2, err := barrier.UnwrapRootKey(w2, cfg)
	if err != nil || storedValue(t, st, pk2, false) != "value" || keyringOpens(t, st, pk) {
		t.Fatalf("second token key: %v", err)
	}
}

// TestMigrateInterrupted: a migration stopped after the new holder was
// made (a hook) or whose switching transaction fails (the fault injector)
// leaves the store opened by the old holder, never by neither; a failed
// switch takes a new key file back.
func TestMigrateInterrupted(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	mem := memstore.New()
	fs := faulty.New(mem)
	root, _ := barrier.GenerateRootKey()
	if storedValue(t, fs, root, true) != "value" {
		t.Fatal("setup")
	}
	tk := newFakeToken()
	w, _ := tk.open(ctx, "k", true)
	crash := errors.New("crash")
	var delivered []string
	for _, mig := range []Migration{
		{To: TypePKCS11, Wrapper: w, KeyLabel: "k", BeforeCommit: func() error { return crash }},
		{To: TypeShamir, Shares: 2, Threshold: 2, Deliver: func(s []string) error { delivered = s; return nil }, BeforeCommit: func() error { return crash }},
		{To: TypeKeyFile, KeyFile: dir + "/new-1", BeforeCommit: func() error { return crash }},
	} {
		if err := Migrate(ctx, fs, root, mig); !errors.Is(err, crash) {
			t.Fatalf("to %s: %v", mig.To, err)
		}
		if _, ok, _ := barrier.ReadSealConfig(ctx, fs); ok || storedValue(t, fs, root, false) != "value" {
			t.Fatalf("after a crash before the switch to %s the old key must open the store", mig.To)
		}
	}
	if len(delivered) != 2 {
		t.Fatal("shares were not delivered before the switch")
	}
	// The switching transaction fails: the same, and the new key file is removed.
	for _, mig := range []Migration{
		{To: TypePKCS11, Wrapper: w, KeyLabel: "k"},
		{To: TypeKeyFile, KeyFile: dir + "/new-2"},
	} {
		fs.FailOn(faulty.Commit, 2, nil) // the first commit is barrier.Unseal's check
		if err := Migrate(ctx, fs, root, mig); !errors.Is(err, faulty.ErrInjected) {
			t.Fatalf("to %s: %v", mig.To, err)
		}
		if _, ok, _ := barrier.ReadSealConfig(ctx, fs); ok || storedValue(t, fs, root, false) != "value" {
			t.Fatalf("after a failed switch to %s the old key must open the store", mig.To)
		}
	}
	if _, err := barrier.ReadKeyFile(dir + "/new-2"); err == nil {
		t.Fatal("the key file of a failed switch was left behind")
	}
	// Committed but reported as failed (the connection dropped after COMMIT):
	// the new holder opens the store.
	fs.FailOn(faulty.AfterCommit, 2, nil)
	err := Migrate(ctx, fs, root, Migration{To: TypePKCS11, Wrapper: w, KeyLabel: "k"})
	if !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("after-commit fault: %v", err)
	}
	cfg, ok, _ := barrier.ReadSealConfig(ctx, fs)
	if !ok {
		t.Fatal("no config after a committed switch")
	}
	pk, err := barrier.UnwrapRootKey(w, cfg)
	if err != nil || storedValue(t, fs, pk, false) != "value" {
		t.Fatalf("the new holder does not open the committed store: %v", err)
	}
}

// TestMigrateRefusals: bad targets, an empty store, a wrong current key.
func TestMigrateRefusals(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	root, _ := barrier.GenerateRootKey()
	if err := Migrate(ctx, st, root, Migration{To: TypeKeyFile, KeyFile: t.TempDir() + "/k"}); err == nil || !strings.Contains(err.Error(), "no keyring") {
		t.Fatalf("empty store: %v", err)
	}
	storedValue(t, st, root, true)
	for _, mig := range []Migration{{To: "vault"}, {To: TypeKeyFile}, {To: TypeShamir, Shares: 1, Threshold: 1}, {To: TypeShamir, Shares: 3, Threshold: 2}, {To: TypePKCS11}} {
		if err := Migrate(ctx, st, root, mig); err == nil {
			t.Errorf("%+v accepted", mig)
		}
	}
	other, _ := barrier.GenerateRootKey()
	path := t.TempDir() + "/k"
	if err := Migrate(ctx, st, other, Migration{To: TypeKeyFile, KeyFile: path}); !errors.Is(err, barrier.ErrWrongRootKey) {
		t.Fatalf("wrong current key: %v", err)
	}
	if _, err := barrier.ReadKeyFile(path); err == nil {
		t.Fatal("a key file was written for a refused migration")
	}
	if _, err := RootKeyFromShares([]string{"garbage", "x"}); err == nil {
		t.Fatal("garbage shares combined")
	}
}
