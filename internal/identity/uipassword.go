package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Console (UI) passwords. As in OCI, the service generates the password and
// returns it once (CreateOrResetUIPassword); Coffer keeps only an argon2id
// hash with its parameters, so the parameters can change later and old
// hashes still verify.
//
// The default parameters are OWASP's argon2id minimum (19 MiB, 2 passes,
// 1 lane): 43 ms and 19 MiB per hash on the 2-core test machine
// (BenchmarkUIPasswordHash). RFC 9106's 64 MiB, 3 passes, 4 lanes
// took 0.57 s on the 2-core test machine and holds 64 MiB per login in
// flight; at most hashSlots hashes run at once, so a flood of logins costs
// bounded memory. A generated password carries 130 bits, so the hash's
// cost protects the store's copy, not a guessable secret.

const prefixUIPassword = "identity/uipassword/" // <user> -> UIPassword

// PasswordParams are argon2id's parameters.
type PasswordParams struct {
	Time      uint32 `json:"t"`
	MemoryKiB uint32 `json:"m"`
	Threads   uint8  `json:"p"`
}

// DefaultPasswordParams are the parameters new hashes get.
var DefaultPasswordParams = PasswordParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// hashSlots bounds the argon2id hashes computed at once.
const hashSlots = 4

// passwordHash is a stored argon2id hash and how to recompute it.
type passwordHash struct {
	Algorithm string         `json:"alg"` // "argon2id"
	Version   int            `json:"v"`   // argon2.Version
	Params    PasswordParams `json:"params"`
	Salt      []byte         `json:"salt"`
	Key       []byte         `json:"key"`
}

// UIPassword is a user's console password record: never the password.
type UIPassword struct {
	UserID      string    `json:"userId"`
	State       string    `json:"lifecycleState"`
	TimeCreated time.Time `json:"timeCreated"`
	// Stamp changes on every reset: console sessions carry the stamp they
	// were made under, so a reset ends them on every node.
	Stamp string       `json:"stamp"`
	Hash  passwordHash `json:"hash"`
}

// NewUIPassword is a password CreateOrResetUIPassword generated: Password
// is shown to the caller once and held nowhere else.
type NewUIPassword struct {
	UIPassword
	Password Password
}

// Password is a console password in the clear. It prints and logs
// redacted.
type Password string

// String implements fmt.Stringer, redacted.
func (Password) String() string { return "[REDACTED]" }

// LogValue implements slog.LogValuer, redacted.
func (Password) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// ErrBadLogin is every failed console login: unknown user, no password,
// inactive user, wrong password. Callers must not tell them apart.
var ErrBadLogin = errors.New("identity: user name or password is wrong")

// ConsoleUser is who a console login proved to be.
type ConsoleUser struct {
	UserID   string
	UserName string
	// Stamp is the password's stamp at login (UIPassword.Stamp).
	Stamp string
}

// hash computes an argon2id hash, waiting for one of hashSlots (or ctx).
func (s *Service) hash(ctx context.Context, password []byte, salt []byte, p PasswordParams) ([]byte, error) {
	select {
	case s.hashSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.hashSem }()
	s.hashes.Add(1)
	return argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, 32), nil
}

// dummyHash is what a login with nothing to compare (an unknown user, no
// password) is checked against, so it costs one hash with the parameters
// of new passwords, as a wrong password does.
func (s *Service) dummyHash() passwordHash {
	return passwordHash{Algorithm: "argon2id", Version: argon2.Version, Params: s.PasswordParams,
		Salt: make([]byte, 16), Key: make([]byte, 32)}
}

// CreateOrResetUIPassword generates a new console password for a user,
// replacing any earlier one (which ends the sessions made with it).
func (s *Service) CreateOrResetUIPassword(ctx context.Context, userID string) (NewUIPassword, error) {
	pw := Password(rand.Text()) // 26 base32 characters: 130 bits
	salt := make([]byte, 16)
	stamp := make([]byte, 16)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	_, _ = rand.Read(stamp)
	p := s.PasswordParams
	key, err := s.hash(ctx, []byte(pw), salt, p)
	if err != nil {
		return NewUIPassword{}, fmt.Errorf("identity: create or reset ui password: %w", err)
	}
	rec := UIPassword{UserID: userID, State: StateActive, TimeCreated: s.now().UTC(), Stamp: hex.EncodeToString(stamp),
		Hash: passwordHash{Algorithm: "argon2id", Version: argon2.Version, Params: p, Salt: salt, Key: key}}
	err = s.update(ctx, func(tx store.Tx) error {
		if _, err := get[User](tx, prefixUser+userID, "user", userID); err != nil {
			return err
		}
		return record.Put(tx, prefixUIPassword+userID, rec)
	})
	if err != nil {
		return NewUIPassword{}, fmt.Errorf("identity: create or reset ui password: %w", err)
	}
	return NewUIPassword{UIPassword: rec, Password: pw}, nil
}

// UIPasswordInformation returns a user's console password record (no
// password); NotFound when the user has none.
func (s *Service) UIPasswordInformation(ctx context.Context, userID string) (UIPassword, error) {
	var rec UIPassword
	err := s.st.View(ctx, func(r store.Reader) error {
		if _, err := get[User](r, prefixUser+userID, "user", userID); err != nil {
			return err
		}
		var err error
		rec, err = record.Get[UIPassword](r, prefixUIPassword+userID)
		if errors.Is(err, store.ErrNotFound) {
			return errs.E(errs.NotFound, "user %s has no console password", userID)
		}
		return err
	})
	return rec, err
}

// CheckUIPassword checks a console login. Every failure is ErrBadLogin, and
// each costs one argon2id hash, whether the user exists or not.
func (s *Service) CheckUIPassword(ctx context.Context, userName string, password []byte) (ConsoleUser, error) {
	var (
		user  User
		rec   UIPassword
		found bool
	)
	err := s.st.View(ctx, func(r store.Reader) error {
		id, err := record.Get[string](r, s.nameKey(nameUser, "", userName))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if user, err = record.Get[User](r, prefixUser+id); errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if rec, err = record.Get[UIPassword](r, prefixUIPassword+id); errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		found = true
		return nil
	})
	if err != nil {
		return ConsoleUser{}, fmt.Errorf("identity: console login: %w", err)
	}
	h := s.dummyHash()
	if found && rec.Hash.Algorithm == "argon2id" && rec.Hash.Version == argon2.Version {
		h = rec.Hash
	} else {
		found = false
	}
	got, err := s.hash(ctx, password, h.Salt, h.Params)
	if err != nil {
		return ConsoleUser{}, fmt.Errorf("identity: console login: %w", err)
	}
	ok := subtle.ConstantTimeCompare(got, h.Key) == 1
	if !ok || !found || user.State != StateActive || rec.State != StateActive {
		return ConsoleUser{}, ErrBadLogin
	}
	return ConsoleUser{UserID: user.ID, UserName: user.Name, Stamp: rec.Stamp}, nil
}

// ErrSessionEnded means a console session no longer stands: its user is
// gone or inactive, or the password it was made with was reset.
var ErrSessionEnded = errors.New("identity: console session ended")

// ConsolePrincipal is the principal of a console session made under stamp,
// as authentication makes it for the user's API key; ErrSessionEnded when
// the user is gone or inactive or its password changed since.
func (s *Service) ConsolePrincipal(ctx context.Context, userID, stamp string) (*authz.Principal, error) {
	var p *authz.Principal
	err := s.st.View(ctx, func(r store.Reader) error {
		t, err := tenancyOf(r)
		if err != nil {
			return err
		}
		u, err := record.Get[User](r, prefixUser+userID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrSessionEnded
		} else if err != nil {
			return err
		}
		rec, err := record.Get[UIPassword](r, prefixUIPassword+userID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrSessionEnded
		} else if err != nil {
			return err
		}
		if u.State != StateActive || rec.State != StateActive || subtle.ConstantTimeCompare([]byte(rec.Stamp), []byte(stamp)) != 1 {
			return ErrSessionEnded
		}
		groups, err := userGroups(r, userID)
		if err != nil {
			return err
		}
		p = &authz.Principal{Type: authz.PrincipalUser, ID: u.ID, TenancyID: t.ID, GroupIDs: groups,
			Attributes: map[string]string{"user.name": u.Name}}
		return nil
	})
	if err != nil && !errors.Is(err, ErrSessionEnded) {
		err = fmt.Errorf("identity: console principal: %w", err)
	}
	return p, err
}
