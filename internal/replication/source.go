// Package replication carries secrets from the region that owns them to the
// peer regions their replicationConfig names (docs/replication.md).
//
// A replica region pulls: its Replicator long-polls each peer with a
// PullRequest, and the peer's Source answers with the replicas that changed,
// found through the source's change feed and sealed to a one-time key of
// the puller (package peer). Each answer is applied at the replica in one
// store transaction together with the replica's position (its cursor), so
// a replica that stops, crashes or loses its peer resumes where it stood
// and applies nothing twice or half. A position the source no longer holds
// (the feed's retention passed) or a first contact starts a full
// resynchronisation: every replicated secret is sent again, and replicas
// the source no longer names are deleted at its end.
//
// The package knows neither HTTP nor SQL: the server carries PullRequests
// over signed peer requests (Transport) and the secrets service reads and
// writes the records.
package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/secrets"
)

// Bounds of one pull.
const (
	// MaxWait bounds a long poll.
	MaxWait = 30 * time.Second
	// MaxResend bounds the secrets a replica may ask to be sent again.
	MaxResend = 20
	// ResyncPage is how many secrets one resynchronisation answer carries.
	ResyncPage = 100
	// FeedPage is how many feed entries one incremental answer reads.
	FeedPage = 500
)

// PullRequest is what a replica asks of its source.
type PullRequest struct {
	// Cursor is the replica's position in the source's change feed; ""
	// asks for the current end, which starts a resynchronisation.
	Cursor string `json:"cursor,omitempty"`
	// Resync asks for a page of every secret replicated to the replica,
	// after the secret OCID After.
	Resync bool   `json:"resync,omitempty"`
	After  string `json:"after,omitempty"`
	// WaitSeconds bounds the long poll of an incremental pull.
	WaitSeconds int `json:"waitSeconds,omitempty"`
	// Resend names secrets whose replicas failed to apply earlier.
	Resend []string `json:"resend,omitempty"`
	// RecipientKey is the replica's one-time X25519 public key; the
	// answer's replicas are sealed to it.
	RecipientKey []byte `json:"recipientKey"`
	// Vaults acknowledges the vault replicas the replica applied (vaults.go).
	Vaults []kms.VaultAck `json:"vaults,omitempty"`
}

// PullResponse is the source's answer.
type PullResponse struct {
	// Cursor is the position after this answer (unchanged by a resync page).
	Cursor string `json:"cursor"`
	// Reset says the replica's cursor is no longer held: resynchronise.
	Reset bool `json:"reset,omitempty"`
	// Next is, for a resync page, where the next page starts; "" ends it.
	Next string `json:"next,omitempty"`
	// Envelope holds the JSON of the replicas, sealed to RecipientKey.
	Envelope []byte `json:"envelope,omitempty"`
	// Count is how many replicas the envelope holds.
	Count int `json:"count"`
	// OldestChange is when the oldest change this answer carries was
	// committed at the source (for the lag).
	OldestChange *time.Time `json:"oldestChange,omitempty"`
	// More says the source held changes beyond Cursor when it answered:
	// the replica is not caught up after applying this answer.
	More bool `json:"more,omitempty"`
}

// payload is the envelope's plaintext.
type payload struct {
	Secrets []secrets.ReplicaSecret `json:"secrets"`
	Vaults  []kms.ReplicaVault      `json:"vaults,omitempty"`
}

// Sealer seals plaintext to a recipient's one-time key, binding it to the
// exchange (package peer's Seal).
type Sealer func(recipient, binding, plaintext []byte) ([]byte, error)

// Source answers the pulls of peer regions.
type Source struct {
	Region  string
	Secrets *secrets.Service
	// KMS exports vault replicas; nil replicates secrets only.
	KMS *kms.Service
	// Feed returns the change feed while the server is unsealed (nil
	// otherwise).
	Feed func() *changefeed.Feed
	Seal Sealer
}

// Pull answers req from the peer region replica; the envelope is bound to
// binding, which names the exchange (peer.ExchangeContext).
func (s *Source) Pull(ctx context.Context, replica string, binding []byte, req PullRequest) (*PullResponse, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	feed := s.Feed()
	if feed == nil {
		return nil, errs.E(errs.Unavailable, "the source region is sealed")
	}
	if err := s.ackVaults(ctx, replica, req); err != nil {
		return nil, err
	}
	resp := &PullResponse{Cursor: req.Cursor}
	var ids []string
	var entries []changefeed.Entry
	var only map[string][]int64
	if req.Resync {
		page, err := s.Secrets.ReplicatedIDs(ctx, replica, req.After, ResyncPage)
		if err != nil {
			return nil, fmt.Errorf("replication: listing the secrets replicated to %s: %w", replica, err)
		}
		ids = page
		if len(page) == ResyncPage {
			resp.Next = page[len(page)-1]
		}
	} else {
		q := changefeed.Query{
			Cursor: req.Cursor, Wait: time.Duration(req.WaitSeconds) * time.Second, Limit: FeedPage, Caller: "peer:" + replica,
			Filter: func(ctx context.Context, es []changefeed.Entry) ([]changefeed.Entry, error) {
				var ids []string
				for _, e := range es {
					if e.Kind == changefeed.KindSecret {
						ids = append(ids, e.ID)
					}
				}
				ok, err := s.Secrets.ReplicatedTo(ctx, replica, ids)
				if err != nil {
					return nil, err
				}
				vaults, err := s.replicatedVaults(ctx, replica, es)
				if err != nil {
					return nil, err
				}
				var kept []changefeed.Entry
				for _, e := range es {
					if (e.Kind == changefeed.KindSecret && ok[e.ID]) || (e.Kind != changefeed.KindSecret && vaults[e.VaultID]) {
						kept = append(kept, e)
					}
				}
				return kept, nil
			},
		}
		pg, err := feed.Changes(ctx, q)
		if errors.Is(err, changefeed.ErrCursorSyntax) {
			// A cursor this feed cannot even parse (only a damaged position
			// record at the replica holds one) is answered as one the feed
			// no longer holds: a resynchronisation, not an error the
			// replica would retry forever.
			q.Cursor, req.Cursor = "", ""
			pg, err = feed.Changes(ctx, q)
		}
		if err != nil {
			return nil, err
		}
		resp.Cursor, resp.Reset, resp.More = pg.Cursor, pg.Reset || req.Cursor == "", pg.More
		entries = pg.Items
		// New versions carry their content; other changes carry the
		// secret's metadata only (a replica that then lacks a version
		// asks for the secret again, whole, with Resend).
		only = map[string][]int64{}
		for _, e := range pg.Items {
			if resp.OldestChange == nil || e.Time.Before(*resp.OldestChange) {
				t := e.Time
				resp.OldestChange = &t
			}
			if e.Kind != changefeed.KindSecret {
				continue // vault and key entries: vaults.go
			}
			if !slices.Contains(ids, e.ID) {
				ids = append(ids, e.ID)
			}
			switch e.Change {
			case changefeed.Created, changefeed.VersionCreated:
				only[e.ID] = append(only[e.ID], e.Versions...)
			default:
				if _, ok := only[e.ID]; !ok {
					only[e.ID] = []int64{}
				}
			}
		}
	}
	for _, id := range req.Resend {
		delete(only, id) // whole
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	vaultIDs, err := s.pullVaults(ctx, replica, req, resp, entries)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 && len(vaultIDs) == 0 {
		return resp, nil
	}
	items, err := s.Secrets.ExportReplicas(ctx, replica, ids, only)
	if err != nil {
		return nil, fmt.Errorf("replication: exporting to %s: %w", replica, err)
	}
	defer secrets.Zero(items)
	var vaults []kms.ReplicaVault
	if len(vaultIDs) > 0 {
		if vaults, err = s.KMS.ExportVaultReplicas(ctx, replica, vaultIDs); err != nil {
			return nil, fmt.Errorf("replication: exporting vaults to %s: %w", replica, err)
		}
		defer kms.WipeVaults(vaults)
	}
	if len(items) == 0 && len(vaults) == 0 {
		return resp, nil
	}
	plain, err := json.Marshal(payload{Secrets: items, Vaults: vaults})
	if err != nil {
		return nil, fmt.Errorf("replication: encoding replicas: %w", err)
	}
	defer clear(plain)
	if resp.Envelope, err = s.Seal(req.RecipientKey, binding, plain); err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "recipientKey is not a usable X25519 public key")
	}
	resp.Count = len(items) + len(vaults)
	return resp, nil
}

// DecodePullRequest reads a pull request's body strictly: one JSON object
// of PullRequest's fields, nothing unknown, nothing after it, and values in
// their bounds.
func DecodePullRequest(body []byte) (PullRequest, error) {
	var req PullRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return PullRequest{}, errs.E(errs.CannotParse, "the pull request is not JSON of the pull request's shape")
	}
	if _, err := dec.Token(); err != io.EOF {
		return PullRequest{}, errs.E(errs.CannotParse, "the pull request has data after its JSON object")
	}
	return req, req.check()
}

func (req PullRequest) check() error {
	if len(req.RecipientKey) != 32 {
		return errs.E(errs.Invalid, "recipientKey must be a 32-byte X25519 public key")
	}
	if req.WaitSeconds < 0 || time.Duration(req.WaitSeconds)*time.Second > MaxWait {
		return errs.E(errs.Invalid, "waitSeconds must be between 0 and %d", int(MaxWait/time.Second))
	}
	if len(req.Resend) > MaxResend {
		return errs.E(errs.Invalid, "resend names more than %d secrets", MaxResend)
	}
	for _, id := range append(slices.Clone(req.Resend), req.After) {
		if id != "" && (!ocid.Valid(id) || ocid.TypeOf(id) != ocid.Secret) {
			return errs.E(errs.Invalid, "resend and after must be secret OCIDs")
		}
	}
	return checkAcks(req.Vaults)
}
