package seal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/shamir"
)

// The Shamir rekey replaces the root key and its shares: an administrator
// starts it with the new share count and threshold, the holders of the
// current shares submit the threshold of them, and the answer to the last
// one carries the new shares.

// RekeyRequest without a nonce starts a rekey (Shares, Threshold), or with
// neither asks how far the one in progress is; with the nonce it submits
// one current Share, or with Cancel discards the rekey in progress (the
// nonce may then be omitted: the caller is an administrator either way).
type RekeyRequest struct {
	Shares    int    `json:"shares,omitempty"`
	Threshold int    `json:"threshold,omitempty"`
	Nonce     string `json:"nonce,omitempty"`
	Share     string `json:"share,omitempty"`
	Cancel    bool   `json:"cancel,omitempty"`
}

// LogValue never shows the share.
func (r RekeyRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("shares", r.Shares), slog.Int("threshold", r.Threshold),
		slog.Bool("cancel", r.Cancel), slog.String("share", "REDACTED"))
}

// RekeyResponse says how far the rekey in progress is; the answer that
// completes it carries the new shares (Complete), once: the server keeps
// none of them.
type RekeyResponse struct {
	Started bool   `json:"started"`
	Nonce   string `json:"nonce,omitempty"`
	// NewShares and NewThreshold are the split the rekey will make.
	NewShares    int `json:"newShares,omitempty"`
	NewThreshold int `json:"newThreshold,omitempty"`
	// Progress is how many current shares were submitted towards
	// Required, the current threshold.
	Progress int      `json:"progress"`
	Required int      `json:"required,omitempty"`
	Complete bool     `json:"complete,omitempty"`
	Shares   []string `json:"shares,omitempty"`
}

// LogValue never shows the new shares.
func (r RekeyResponse) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("complete", r.Complete), slog.Int("progress", r.Progress), slog.Int("required", r.Required))
}

// rekeyState is a rekey in progress, guarded by the machine's lock.
// Sealing the server discards it.
type rekeyState struct {
	nonce   string
	config  barrier.SealConfig // the new split
	pending []shamir.Share     // current shares submitted so far
}

func (rk *rekeyState) zero() {
	if rk == nil {
		return
	}
	zeroShares(rk.pending)
	rk.pending = nil
}

// cancelRekey discards the rekey in progress; the caller holds mu.
func (m *Machine) cancelRekey() {
	m.rekey.zero()
	m.rekey = nil
}

func newRekeyNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", fmt.Errorf("generate rekey nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func nonceEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

var errWrongNonce = errs.E(errs.Invalid, "the nonce is not the one of the rekey in progress")

// rekeyProgress describes the rekey in progress; the caller holds mu.
func (m *Machine) rekeyProgress() RekeyResponse {
	rk := m.rekey
	if rk == nil {
		return RekeyResponse{Required: m.config.Threshold}
	}
	return RekeyResponse{Started: true, Nonce: rk.nonce, NewShares: rk.config.Shares, NewThreshold: rk.config.Threshold,
		Progress: len(rk.pending), Required: m.config.Threshold}
}

// Rekey serves one step of the rekey protocol for an administrator; by,
// who asked, is logged.
func (m *Machine) Rekey(ctx context.Context, req RekeyRequest, by string) (RekeyResponse, error) {
	switch m.cfg.Type {
	case TypePKCS11:
		return RekeyResponse{}, errs.E(errs.IncorrectState, pkcs11Root+", not Shamir shares: replace the root key with coffer operator migrate-seal --to pkcs11 on the stopped server")
	case TypeKeyFile, TypeDev:
		return RekeyResponse{}, errs.E(errs.IncorrectState, keyFileRoot+", not Shamir shares: use coffer operator rekey-file on the stopped server")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sealed.Load() || m.closed || m.barrier == nil {
		return RekeyResponse{}, ErrSealed
	}
	switch {
	case req.Cancel:
		if rk := m.rekey; rk != nil && req.Nonce != "" && !nonceEqual(rk.nonce, req.Nonce) {
			return RekeyResponse{}, errWrongNonce
		}
		if m.rekey != nil {
			m.cfg.Log.Warn("rekey cancelled", "by", by)
		}
		m.cancelRekey()
		return m.rekeyProgress(), nil
	case req.Nonce == "":
		return m.startRekey(req, by)
	}
	return m.submitRekeyShare(ctx, req, by)
}

// startRekey begins a rekey; the caller holds mu.
func (m *Machine) startRekey(req RekeyRequest, by string) (RekeyResponse, error) {
	if req.Share != "" {
		return RekeyResponse{}, errs.E(errs.Invalid, "a share needs the nonce of the rekey in progress")
	}
	if req.Shares == 0 && req.Threshold == 0 {
		return m.rekeyProgress(), nil
	}
	cfg := barrier.SealConfig{Type: barrier.SealShamir, Shares: req.Shares, Threshold: req.Threshold}
	if err := cfg.Validate(); err != nil {
		return RekeyResponse{}, errSplit()
	}
	if m.rekey != nil {
		return RekeyResponse{}, errs.E(errs.IncorrectState, "a rekey is already in progress (%d/%d shares): finish it or cancel it (coffer operator rekey --cancel)",
			len(m.rekey.pending), m.config.Threshold)
	}
	nonce, err := newRekeyNonce()
	if err != nil {
		return RekeyResponse{}, err
	}
	m.rekey = &rekeyState{nonce: nonce, config: cfg}
	m.cfg.Log.Warn("rekey started: submit the threshold of the current shares", "by", by,
		"threshold", m.config.Threshold, "newShares", cfg.Shares, "newThreshold", cfg.Threshold)
	return m.rekeyProgress(), nil
}

// submitRekeyShare adds one current share and, at the threshold, rekeys;
// the caller holds mu.
func (m *Machine) submitRekeyShare(ctx context.Context, req RekeyRequest, by string) (RekeyResponse, error) {
	rk := m.rekey
	if rk == nil {
		return RekeyResponse{}, errs.E(errs.IncorrectState, "no rekey is in progress: start one with --shares and --threshold")
	}
	if !nonceEqual(rk.nonce, req.Nonce) {
		return RekeyResponse{}, errWrongNonce
	}
	current, done, err := m.collect(&rk.pending, req.Share, "rekey", "current ")
	if err != nil {
		return RekeyResponse{}, err
	}
	if !done {
		return m.rekeyProgress(), nil
	}
	defer current.Zero()
	threshold := m.config.Threshold
	// The request may end mid-way; the rekey is one transaction either way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unsealTimeout)
	defer cancel()
	shares, err := m.rekeyWith(ctx, current, rk.config)
	if errors.Is(err, barrier.ErrWrongRootKey) {
		m.cfg.Log.Warn("rekey failed: the shares do not rebuild this server's root key; progress reset")
		return RekeyResponse{}, errs.E(errs.Invalid, "the shares do not rebuild this server's root key (a wrong or mistyped share, or a share of another split); progress reset: submit %d current shares again", threshold)
	} else if err != nil {
		return RekeyResponse{}, errs.Wrap(errs.Internal, err, "rekey failed; progress reset")
	}
	defer zeroShares(shares)
	m.config = rk.config
	m.cancelRekey()
	m.cfg.Log.Warn("rekey complete: the root key was replaced and split into new shares, returned once to the caller and kept nowhere; the old shares no longer unseal",
		"by", by, "shares", rk.config.Shares, "threshold", rk.config.Threshold)
	return RekeyResponse{Complete: true, Nonce: rk.nonce, NewShares: rk.config.Shares, NewThreshold: rk.config.Threshold,
		Required: rk.config.Threshold, Shares: shareTexts(shares)}, nil
}

// rekeyWith checks that current opens the keyring, then seals it under a
// fresh root key split by cfg, and records cfg, in one transaction. It
// returns the new shares; the caller holds mu and zeroes them.
func (m *Machine) rekeyWith(ctx context.Context, current barrier.RootKey, cfg barrier.SealConfig) ([]shamir.Share, error) {
	check, err := barrier.Unseal(ctx, m.store, current)
	if err != nil {
		return nil, err
	}
	check.Close()
	root, shares, err := splitRoot(cfg)
	if err != nil {
		return nil, err
	}
	defer root.Zero()
	if err := m.barrier.Rekey(ctx, root, &cfg); err != nil {
		zeroShares(shares)
		return nil, err
	}
	return shares, nil
}
