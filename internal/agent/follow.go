package agent

import (
	"context"
	"log/slog"

	"github.com/coffer-vault/coffer/pkg/changefeed"
	"github.com/coffer-vault/coffer/pkg/secretcache"
	"github.com/oracle/oci-go-sdk/v65/secrets"
)

// NewChangeFeed returns a client for Coffer's change feed that signs and
// sends like the Secrets client c (see NewSecretsClient).
func NewChangeFeed(c secrets.SecretsClient) *changefeed.Client {
	return changefeed.NewClient(c.BaseClient)
}

// follow runs the change-feed follower until ctx ends or the service
// turns out to have no feed, which is logged once at info: the schedule
// then refreshes as before.
func (a *Agent) follow(ctx context.Context) {
	opts := a.opts.Follow
	if opts.Logger == nil {
		opts.Logger = a.log
	}
	err := changefeed.Follow(ctx, a.opts.Changes, feedHandler{a}, opts)
	if err != nil {
		a.log.Info("agent: no change feed; refreshing on schedule only",
			slog.Duration("refresh_interval", a.plan.RefreshInterval), slog.Any("error", err))
	}
	if a.testHookFeedStopped != nil {
		a.testHookFeedStopped(err)
	}
}

// feedHandler passes the feed's news to Run.
type feedHandler struct{ a *Agent }

// Changes queues the agent's keys that the changes name, and wakes Run.
func (h feedHandler) Changes(cs []changefeed.Change) {
	a := h.a
	ids := make(map[string]bool, len(cs))
	vaults := make(map[string]bool, len(cs))
	for _, c := range cs {
		if c.Kind != changefeed.KindSecret {
			continue
		}
		ids[c.ID] = true
		vaults[c.VaultID] = true
	}
	a.mu.Lock()
	n := 0
	for _, k := range a.keys {
		id := k.SecretID
		if id == "" {
			// A key by name matches through the OCID it was last read
			// as; one never read yet matches any change in its vault
			// (it may just have been created).
			if s, ok := a.last[k]; ok {
				id = s.SecretID
			} else if vaults[k.VaultID] {
				a.pending[k] = true
				n++
				continue
			}
		}
		if id != "" && ids[id] {
			a.pending[k] = true
			n++
		}
	}
	a.mu.Unlock()
	if n == 0 {
		return
	}
	a.log.Debug("agent: change feed names secrets in use", slog.Int("secrets", n))
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// Reset asks for a full refresh: changes may have been missed.
func (h feedHandler) Reset() { h.a.Trigger() }

// takePending returns and clears the keys queued by the feed.
func (a *Agent) takePending() map[secretcache.Key]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending
	a.pending = make(map[secretcache.Key]bool)
	return p
}

// usesAny reports whether f uses one of keys.
func usesAny(f *FilePlan, keys map[secretcache.Key]bool) bool {
	for _, k := range f.Keys {
		if keys[k] {
			return true
		}
	}
	return false
}
