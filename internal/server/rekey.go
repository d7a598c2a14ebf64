package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/shamir"
)

// SysRekeyPath is the authenticated Shamir rekey operation (RekeyRootKey):
// an administrator starts it with the new share count and threshold, the
// holders of the current shares submit the threshold of them, and the
// answer to the last one carries the new shares.
const SysRekeyPath = SysPrefix + "rekey"

// RekeyRequest is the body of POST SysRekeyPath. Without a nonce it starts
// a rekey (Shares, Threshold); with the nonce it submits one current Share,
// or with Cancel discards the rekey in progress (the nonce may then be
// omitted: the caller is an administrator either way).
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

// RekeyResponse is the answer of POST SysRekeyPath. While a rekey is in
// progress it says how far it is; the answer that completes it carries the
// new shares (Complete), once: the server keeps none of them.
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

// rekeyState is a rekey in progress; it lives in sealState and is guarded
// by its mutex. Sealing the server discards it.
type rekeyState struct {
	nonce   string
	config  barrier.SealConfig // the new split
	pending []shamir.Share     // current shares submitted so far
}

func (rk *rekeyState) zero() {
	if rk == nil {
		return
	}
	for _, sh := range rk.pending {
		sh.Zero()
	}
	rk.pending = nil
}

// cancelRekey discards the rekey in progress; the caller holds s.sealer.mu.
func (st *sealState) cancelRekey() {
	st.rekey.zero()
	st.rekey = nil
}

func newRekeyNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", fmt.Errorf("generate rekey nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// rekeyProgress describes the rekey in progress; the caller holds
// s.sealer.mu.
func (s *Server) rekeyProgress() RekeyResponse {
	rk := s.sealer.rekey
	if rk == nil {
		return RekeyResponse{Required: s.sealer.config.Threshold}
	}
	return RekeyResponse{Started: true, Nonce: rk.nonce, NewShares: rk.config.Shares, NewThreshold: rk.config.Threshold,
		Progress: len(rk.pending), Required: s.sealer.config.Threshold}
}

// rekey serves POST SysRekeyPath; the caller is authorized.
func (s *Server) rekey(c *ociapi.Call) error {
	var req RekeyRequest
	err := c.Decode(&req)
	clear(c.Body) // it may hold a share
	if err != nil {
		return err
	}
	if s.cfg.Seal != barrier.SealShamir {
		return errs.E(errs.IncorrectState, "this server's root key comes from a key file (or dev mode), not Shamir shares: use coffer operator rekey-file on the stopped server")
	}
	s.sealer.mu.Lock()
	defer s.sealer.mu.Unlock()
	if s.sealed.Load() || s.sealer.closed || s.barrier == nil {
		return errSealed
	}
	switch {
	case req.Cancel:
		if rk := s.sealer.rekey; rk != nil && req.Nonce != "" && !nonceEqual(rk.nonce, req.Nonce) {
			return errs.E(errs.Invalid, "the nonce is not the one of the rekey in progress")
		}
		if s.sealer.rekey != nil {
			s.log.Warn("rekey cancelled", "by", principalID(c))
		}
		s.sealer.cancelRekey()
		return c.Reply("", s.rekeyProgress())
	case req.Nonce == "":
		return s.startRekey(c, req)
	}
	return s.submitRekeyShare(c, req)
}

func principalID(c *ociapi.Call) string {
	if c.Principal != nil {
		return c.Principal.ID
	}
	return ""
}

func nonceEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// startRekey begins a rekey; the caller holds s.sealer.mu.
func (s *Server) startRekey(c *ociapi.Call, req RekeyRequest) error {
	if req.Share != "" {
		return errs.E(errs.Invalid, "a share needs the nonce of the rekey in progress")
	}
	if req.Shares == 0 && req.Threshold == 0 {
		return c.Reply("", s.rekeyProgress())
	}
	cfg := barrier.SealConfig{Type: barrier.SealShamir, Shares: req.Shares, Threshold: req.Threshold}
	if err := cfg.Validate(); err != nil {
		return errs.E(errs.Invalid, "shares and threshold must satisfy 2 <= threshold <= shares <= %d", shamir.MaxShares)
	}
	if s.sealer.rekey != nil {
		return errs.E(errs.IncorrectState, "a rekey is already in progress (%d/%d shares): finish it or cancel it (coffer operator rekey --cancel)",
			len(s.sealer.rekey.pending), s.sealer.config.Threshold)
	}
	nonce, err := newRekeyNonce()
	if err != nil {
		return err
	}
	s.sealer.rekey = &rekeyState{nonce: nonce, config: cfg}
	s.log.Warn("rekey started: submit the threshold of the current shares", "by", principalID(c),
		"threshold", s.sealer.config.Threshold, "newShares", cfg.Shares, "newThreshold", cfg.Threshold)
	return c.Reply("", s.rekeyProgress())
}

// submitRekeyShare adds one current share and, at the threshold, rekeys;
// the caller holds s.sealer.mu.
func (s *Server) submitRekeyShare(c *ociapi.Call, req RekeyRequest) error {
	rk := s.sealer.rekey
	if rk == nil {
		return errs.E(errs.IncorrectState, "no rekey is in progress: start one with --shares and --threshold")
	}
	if !nonceEqual(rk.nonce, req.Nonce) {
		return errs.E(errs.Invalid, "the nonce is not the one of the rekey in progress")
	}
	share, err := shamir.ParseShare([]byte(req.Share))
	if err != nil || share.Len() != barrier.RootKeySize {
		share.Zero()
		return errs.E(errs.Invalid, "share is not a share of a Coffer root key (base64 of %d bytes expected)", barrier.RootKeySize+1)
	}
	threshold := s.sealer.config.Threshold
	dup := false
	for _, p := range rk.pending {
		dup = p.Equal(share) || dup // no early exit: every comparison runs
	}
	if dup {
		share.Zero()
		return errs.E(errs.Invalid, "this share was already submitted (progress %d/%d)", len(rk.pending), threshold)
	}
	rk.pending = append(rk.pending, share)
	if len(rk.pending) < threshold {
		s.log.Info("rekey share accepted", "progress", len(rk.pending), "threshold", threshold)
		return c.Reply("", s.rekeyProgress())
	}
	current, err := barrier.RootKeyFromShares(rk.pending)
	rk.zero()
	if err != nil {
		s.log.Warn("rekey failed: the shares do not combine; progress reset")
		return errs.E(errs.Invalid, "the shares do not combine (two shares with the same index?); progress reset: submit %d current shares again", threshold)
	}
	// The request may end mid-way; the rekey is one transaction either way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Context()), time.Minute)
	defer cancel()
	shares, err := s.rekeyWith(ctx, current, rk.config)
	current.Zero()
	if errors.Is(err, barrier.ErrWrongRootKey) {
		s.log.Warn("rekey failed: the shares do not rebuild this server's root key; progress reset")
		return errs.E(errs.Invalid, "the shares do not rebuild this server's root key (a wrong or mistyped share, or a share of another split); progress reset: submit %d current shares again", threshold)
	} else if err != nil {
		return errs.Wrap(errs.Internal, err, "rekey failed; progress reset")
	}
	defer func() {
		for _, sh := range shares {
			sh.Zero()
		}
	}()
	s.sealer.config = rk.config
	s.sealer.cancelRekey()
	resp := RekeyResponse{Complete: true, Nonce: rk.nonce, NewShares: rk.config.Shares, NewThreshold: rk.config.Threshold,
		Required: rk.config.Threshold, Shares: make([]string, len(shares))}
	for i, sh := range shares {
		resp.Shares[i] = sh.Text()
	}
	s.log.Warn("rekey complete: the root key was replaced and split into new shares, returned once to the caller and kept nowhere; the old shares no longer unseal",
		"by", principalID(c), "shares", rk.config.Shares, "threshold", rk.config.Threshold)
	return c.Reply("", resp)
}

// rekeyWith checks that current opens the keyring, then seals it under a
// fresh root key split by cfg, and records cfg, in one transaction. It
// returns the new shares; the caller holds s.sealer.mu.
func (s *Server) rekeyWith(ctx context.Context, current barrier.RootKey, cfg barrier.SealConfig) ([]shamir.Share, error) {
	check, err := barrier.Unseal(ctx, s.raw, current)
	if err != nil {
		return nil, err
	}
	check.Close()
	root, err := barrier.GenerateRootKey()
	if err != nil {
		return nil, err
	}
	defer root.Zero()
	shares, err := root.Split(cfg.Shares, cfg.Threshold)
	if err != nil {
		return nil, err
	}
	if err := s.barrier.Rekey(ctx, root, &cfg); err != nil {
		for _, sh := range shares {
			sh.Zero()
		}
		return nil, err
	}
	return shares, nil
}
