package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/retry"
	"github.com/coffer-vault/coffer/internal/secrets"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Transport carries one pull to a peer region: it signs the request,
// authenticates the answer and returns it with what its envelope is bound
// to (peer.ExchangeContext of the exchange).
type Transport interface {
	Pull(ctx context.Context, source string, req PullRequest) (*PullResponse, []byte, error)
}

// OneTimeKey is the replica's key for one answer (package peer's
// EphemeralKey).
type OneTimeKey interface {
	Public() []byte
	Open(sealed, binding []byte) ([]byte, error)
	Destroy()
}

// position is the replica's place in one source's feed, stored under
// stateKey and written in the transaction that applies each answer.
type position struct {
	Cursor     string `json:"cursor"`
	Resync     bool   `json:"resync,omitempty"`
	After      string `json:"after,omitempty"`
	Generation uint64 `json:"generation"`
}

func stateKey(source string) string { return "replication/position/" + source }

// errMoved says another node moved the position while this pull was out.
var errMoved = errors.New("replication: the position moved under this pull")

// Replicator keeps this region's replicas of each source region's secrets.
type Replicator struct {
	Region    string
	Sources   []string
	Store     store.Store
	Secrets   *secrets.Service
	Transport Transport
	NewKey    func() (OneTimeKey, error)
	Log       *slog.Logger
	// Wait is the long poll asked of a source (whole seconds, at most
	// MaxWait); 0 means MaxWait, negative no waiting (tests).
	Wait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Vaults applies vault replicas; nil replicates secrets only.
	Vaults *VaultReplicas

	mu      sync.Mutex
	started time.Time
	status  map[string]*SourceStatus
	failed  map[string]map[string]string // source -> secret -> why
	// incomplete are secrets to ask for whole at the next pull.
	incomplete map[string][]string
}

// SourceStatus is how replication from one source stands on this node.
type SourceStatus struct {
	Source string `json:"sourceRegion"`
	// Connected is true while the last pull succeeded.
	Connected bool `json:"connected"`
	// Resyncing is true during a full resynchronisation.
	Resyncing bool `json:"resyncing"`
	// Lag is how far behind the replicas are: 0 when the last answer
	// reached the source's newest change, else the age, when applied, of
	// the oldest change it carried; while the source cannot be reached, at
	// least the time since it last answered.
	Lag        time.Duration `json:"-"`
	LagSeconds float64       `json:"lagSeconds"`
	// LastDelay is the age, when applied, of the oldest change of the
	// last answer that carried changes: how long changes take to arrive.
	LastDelay        time.Duration `json:"-"`
	LastDelaySeconds float64       `json:"lastDelaySeconds"`
	// LastApplied is when the last answer was applied.
	LastApplied time.Time `json:"lastApplied,omitzero"`
	// LastContact is when the source last answered.
	LastContact time.Time `json:"lastContact,omitzero"`
	// Applied and Deleted count replicas written since this node started.
	Applied int64 `json:"applied"`
	Deleted int64 `json:"deleted"`
	// VaultsApplied counts vault replicas written or deleted since this
	// node started.
	VaultsApplied int64 `json:"vaultsApplied"`
	// LastError is the last failure of a pull, "" after a success.
	LastError string `json:"lastError,omitempty"`
	// Failed names secrets whose replica could not be applied, with why.
	Failed map[string]string `json:"failed,omitempty"`
}

func (r *Replicator) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Status returns the status of every source, by region.
func (r *Replicator) Status() []SourceStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]SourceStatus, 0, len(r.Sources))
	for _, src := range r.Sources {
		st := SourceStatus{Source: src}
		if s := r.status[src]; s != nil {
			st = *s
		}
		st.Failed = maps.Clone(r.failed[src])
		switch {
		case !st.Connected && !st.LastContact.IsZero():
			st.Lag = max(st.Lag, r.now().Sub(st.LastContact))
		case st.LastContact.IsZero() && !r.started.IsZero():
			st.Lag = r.now().Sub(r.started)
		}
		st.LagSeconds, st.LastDelaySeconds = st.Lag.Seconds(), st.LastDelay.Seconds()
		out = append(out, st)
	}
	return out
}

func (r *Replicator) setStatus(src string, fn func(*SourceStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status == nil {
		r.status, r.failed = map[string]*SourceStatus{}, map[string]map[string]string{}
	}
	st := r.status[src]
	if st == nil {
		st = &SourceStatus{Source: src}
		r.status[src] = st
	}
	fn(st)
}

// Run replicates from every source until ctx ends.
func (r *Replicator) Run(ctx context.Context) {
	r.mu.Lock()
	r.started = r.now()
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, src := range r.Sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.follow(ctx, src)
		}()
	}
	wg.Wait()
}

func (r *Replicator) follow(ctx context.Context, src string) {
	backoff := retry.Policy{BaseDelay: 200 * time.Millisecond, MaxDelay: 30 * time.Second}
	attempt := 0
	for ctx.Err() == nil {
		err := r.Step(ctx, src)
		if err == nil || errors.Is(err, errMoved) {
			attempt = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		r.setStatus(src, func(s *SourceStatus) { s.Connected, s.LastError = false, err.Error() })
		if attempt == 0 {
			r.log().Warn("replication: pull failed; retrying", "source", src, "err", err)
		}
		attempt++
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff.Backoff(attempt)):
		}
	}
}

func (r *Replicator) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

func (r *Replicator) load(ctx context.Context, src string) (position, error) {
	var p position
	err := r.Store.View(ctx, func(rd store.Reader) error {
		v, err := record.Get[position](rd, stateKey(src))
		if errors.Is(err, store.ErrNotFound) {
			p = position{}
			return nil
		}
		p = v
		return err
	})
	return p, err
}

// Step makes one pull from src and applies its answer.
func (r *Replicator) Step(ctx context.Context, src string) error {
	pos, err := r.load(ctx, src)
	if err != nil {
		return fmt.Errorf("replication: reading the position of %s: %w", src, err)
	}
	key, err := r.NewKey()
	if err != nil {
		return err
	}
	defer key.Destroy()
	req := PullRequest{Cursor: pos.Cursor, Resync: pos.Resync, After: pos.After, RecipientKey: key.Public()}
	if pos.Cursor != "" && !pos.Resync {
		switch {
		case r.Wait == 0:
			req.WaitSeconds = int(MaxWait / time.Second)
		case r.Wait > 0:
			req.WaitSeconds = int(min(max(r.Wait, time.Second), MaxWait) / time.Second)
		}
	}
	r.mu.Lock()
	for _, id := range r.incomplete[src] {
		if len(req.Resend) < MaxResend && !slices.Contains(req.Resend, id) {
			req.Resend = append(req.Resend, id)
		}
	}
	for id := range r.failed[src] {
		if len(req.Resend) < MaxResend && !slices.Contains(req.Resend, id) {
			req.Resend = append(req.Resend, id)
		}
	}
	r.mu.Unlock()
	slices.Sort(req.Resend)
	if len(req.Resend) > 0 {
		req.WaitSeconds = 0 // what is asked for again is answered at once
	}
	if req.Vaults, err = r.vaultAcks(ctx, src); err != nil {
		return fmt.Errorf("replication: listing the vault replicas of %s: %w", src, err)
	}
	resp, binding, err := r.Transport.Pull(ctx, src, req)
	if err != nil {
		return err
	}
	r.setStatus(src, func(s *SourceStatus) { s.Connected, s.LastContact, s.LastError = true, r.now(), "" })
	next := pos
	finish := false
	switch {
	case resp.Reset:
		next = position{Cursor: resp.Cursor, Resync: true, Generation: pos.Generation + 1}
		r.log().Info("replication: full resynchronisation from source", "source", src, "generation", next.Generation)
	case pos.Resync:
		next.After = resp.Next
		if resp.Next == "" {
			next.Resync, finish = false, true
		}
	default:
		next.Cursor = resp.Cursor
	}
	var items []secrets.ReplicaSecret
	var vaults []kms.ReplicaVault
	if len(resp.Envelope) > 0 {
		plain, err := key.Open(resp.Envelope, binding)
		if err != nil {
			return fmt.Errorf("replication: the answer of %s did not open: %w", src, err)
		}
		var p payload
		err = json.Unmarshal(plain, &p)
		clear(plain)
		if err != nil {
			return fmt.Errorf("replication: the answer of %s did not decode: %w", src, err)
		}
		items, vaults = p.Secrets, p.Vaults
		defer secrets.Zero(items)
		defer kms.WipeVaults(vaults)
	}
	if resp.Reset {
		// Nothing of a reset answer is applied: the resync sends it again.
		items, vaults = nil, nil
	}
	if pos == next && len(items) == 0 && len(vaults) == 0 {
		r.caughtUp(src)
		return nil
	}
	r.mu.Lock()
	keep := append(slices.Collect(maps.Keys(r.failed[src])), r.incomplete[src]...)
	r.mu.Unlock()
	gen := pos.Generation
	va, err := r.prepareVaults(ctx, src, vaults, finish)
	if err != nil {
		return err
	}
	res, err := r.Secrets.ApplyReplicas(ctx, src, items, gen, func(tx store.Tx) error {
		cur, err := record.Get[position](tx, stateKey(src))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if cur != pos {
			return errMoved
		}
		if err := va.apply(tx, gen, finish); err != nil {
			return err
		}
		if finish {
			n, err := r.Secrets.FinishResync(tx, src, gen, keep)
			if err != nil {
				return err
			}
			if n > 0 {
				r.log().Info("replication: resynchronisation deleted replicas the source no longer names", "source", src, "count", n)
			}
		}
		return record.Put(tx, stateKey(src), next)
	})
	if err != nil {
		return err
	}
	va.committed(ctx)
	now := r.now()
	r.mu.Lock()
	if r.failed[src] == nil {
		r.failed[src] = map[string]string{}
	}
	for _, it := range items {
		delete(r.failed[src], it.Secret.ID)
	}
	for id, why := range res.Failed {
		r.failed[src][id] = why.Error()
	}
	if r.incomplete == nil {
		r.incomplete = map[string][]string{}
	}
	// What was asked for is now held or listed again.
	r.incomplete[src] = slices.DeleteFunc(r.incomplete[src], func(id string) bool { return slices.Contains(req.Resend, id) })
	for _, id := range res.Incomplete {
		if !slices.Contains(r.incomplete[src], id) {
			r.incomplete[src] = append(r.incomplete[src], id)
		}
	}
	r.mu.Unlock()
	for id, why := range res.Failed {
		r.log().Warn("replication: a replica could not be applied; retrying with the next pull", "source", src, "secret", id, "err", why)
	}
	r.setStatus(src, func(s *SourceStatus) {
		s.Applied += int64(res.Applied)
		s.Deleted += int64(res.Deleted)
		s.VaultsApplied += int64(va.count())
		s.LastApplied = now
		s.Resyncing = next.Resync
		s.Lag = 0
		if resp.OldestChange != nil && (resp.More || next.Resync) {
			s.Lag = max(now.Sub(*resp.OldestChange), 0)
		}
		if resp.OldestChange != nil {
			s.LastDelay = max(now.Sub(*resp.OldestChange), 0)
		}
	})
	return nil
}

func (r *Replicator) caughtUp(src string) {
	r.setStatus(src, func(s *SourceStatus) { s.Lag, s.Resyncing = 0, false })
}
