package seal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect"
)

// An auto-unseal seal (TypePKCS11) keeps the root key in the store,
// wrapped by a key that never leaves a PKCS#11 token, as Vault's pkcs11
// seal does. The server unwraps it at start and unseals itself: no shares,
// no key file. When the token cannot be used (module or token absent, PIN
// refused, key missing, another token's key) the server stays sealed, logs
// why, and says so in the seal status; an unseal call without a share
// tries the token again.

// Wrapper is the open token key: barrier.KeyWrapper plus Close, which
// logs out of the token.
type Wrapper interface {
	barrier.KeyWrapper
	Close() error
}

// AutoUnseal configures a TypePKCS11 machine.
type AutoUnseal struct {
	// KeyLabel names the token key that wraps the root key.
	KeyLabel string
	// Generate lets the first start of an empty store create the key
	// when the token has none.
	Generate bool
	// Open opens the token key labelled label, creating it if generate
	// and absent. Its errors wrap keyprotect.ErrHSMUnavailable (and
	// ErrHSMLogin for a refused PIN) or keyprotect.ErrMaterialNotFound.
	Open func(ctx context.Context, label string, generate bool) (Wrapper, error)
}

// retryInterval spaces the auto-unseal attempts that unseal calls trigger:
// the unseal route is unauthenticated, and each attempt logs into the
// token.
const retryInterval = 5 * time.Second

// AutoUnseal unwraps the root key with the token key and opens the barrier;
// on the first start of an empty store it makes the root key and records
// it wrapped. A token that cannot be used leaves the server sealed (the
// reason is logged and in the status) and is not an error; what fails after
// the barrier opened is.
func (m *Machine) AutoUnseal(ctx context.Context) error {
	if m.cfg.Type != TypePKCS11 {
		return errs.E(errs.IncorrectState, "this server does not auto-unseal")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.autoUnseal(ctx)
}

// autoUnseal is AutoUnseal; the caller holds mu.
func (m *Machine) autoUnseal(ctx context.Context) error {
	if !m.sealed.Load() {
		return nil
	}
	if m.store == nil {
		return errStarting
	}
	m.lastTry = m.cfg.Now()
	root, err := m.autoRoot(ctx)
	if err == nil {
		defer root.Zero()
		var adminConfig string
		if adminConfig, err = m.open(ctx, root); err == nil {
			m.sealed.Store(false)
			m.reason, m.loginRefused = "", false
			m.cfg.Hooks.Live()
			m.cfg.Log.Info("coffer unsealed with the PKCS#11 seal key", "keyLabel", m.config.KeyLabel, "adminConfig", adminConfig)
			return nil
		}
		if !errors.Is(err, barrier.ErrWrongRootKey) {
			return err
		}
	}
	m.reason = autoReason(err, m.cfg.Auto.KeyLabel)
	m.loginRefused = errors.Is(err, keyprotect.ErrHSMLogin)
	m.cfg.Log.Error("auto-unseal failed: the server stays sealed", "reason", m.reason, "error", err)
	return nil
}

// autoRoot opens the token key and unwraps the stored root key, or, for an
// empty store, makes one and records it wrapped. The caller holds mu and
// zeroes the key.
func (m *Machine) autoRoot(ctx context.Context) (barrier.RootKey, error) {
	if err := m.refreshInitialized(ctx); err != nil {
		return barrier.RootKey{}, err
	}
	auto := m.cfg.Auto
	w, err := auto.Open(ctx, auto.KeyLabel, auto.Generate && !m.initialized)
	if err != nil {
		return barrier.RootKey{}, err
	}
	defer w.Close()
	if !m.initialized {
		root, err := barrier.GenerateRootKey()
		if err != nil {
			return barrier.RootKey{}, err
		}
		cfg, err := barrier.WrapRootKey(w, auto.KeyLabel, root)
		if err == nil {
			err = barrier.Initialize(ctx, m.store, root, cfg, m.cfg.Now())
		}
		if err == nil {
			m.setInitialized(cfg, true)
			m.cfg.Log.Warn("coffer initialized: the root key is stored wrapped by the PKCS#11 seal key; back the token key up (see docs/security.md)", "keyLabel", auto.KeyLabel)
			return root, nil
		}
		root.Zero()
		if !errors.Is(err, barrier.ErrAlreadyInitialized) {
			return barrier.RootKey{}, err
		}
		// Another node sharing the database initialized it first.
		if err := m.refreshInitialized(ctx); err != nil {
			return barrier.RootKey{}, err
		}
	}
	return barrier.UnwrapRootKey(w, m.config)
}

// autoReason is the seal status's reason for a failed auto-unseal: what the
// operator should look at, without the token's error text.
func autoReason(err error, label string) string {
	switch {
	case errors.Is(err, keyprotect.ErrHSMLogin):
		return "the PKCS#11 token refused the PIN (COFFER_PKCS11_PIN): fix it and restart the server"
	case errors.Is(err, keyprotect.ErrHSMUnavailable):
		return "the PKCS#11 token cannot be used (module or token label): see the server log"
	case errors.Is(err, keyprotect.ErrMaterialNotFound):
		return fmt.Sprintf("the PKCS#11 token has no seal key labelled %q", label)
	case errors.Is(err, barrier.ErrWrongRootKey):
		return fmt.Sprintf("the PKCS#11 seal key %q does not unwrap this data directory's root key (another token or key?)", label)
	}
	return "auto-unseal failed: see the server log"
}

// retryAutoUnseal is an unseal call on a TypePKCS11 server: it tries the
// token again, unless the token refused the PIN (a restart with the right
// one is needed) or the last attempt was less than retryInterval ago. The
// caller holds mu.
func (m *Machine) retryAutoUnseal(ctx context.Context, req UnsealRequest) (Status, error) {
	if req.Share != "" {
		return Status{}, errs.E(errs.Invalid, "this server unseals itself with its PKCS#11 seal key and takes no shares; an unseal without a share tries the token again")
	}
	if !m.sealed.Load() || req.Reset {
		return m.status(), nil
	}
	if m.closed {
		return Status{}, errs.E(errs.Unavailable, "the server is stopping")
	}
	if m.loginRefused {
		return Status{}, errs.E(errs.IncorrectState, "the PKCS#11 token refused the PIN: fix COFFER_PKCS11_PIN and restart the server (trying again would bring the token's PIN lockout closer)")
	}
	if m.cfg.Now().Sub(m.lastTry) < retryInterval {
		return m.status(), nil
	}
	// The request may end before the services are built; unseal on.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unsealTimeout)
	defer cancel()
	if err := m.autoUnseal(ctx); err != nil {
		return Status{}, errs.Wrap(errs.Internal, err, "unseal failed")
	}
	return m.status(), nil
}
