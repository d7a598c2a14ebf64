package secretcache

import (
	"log/slog"

	"github.com/coffer-vault/coffer/pkg/changefeed"
)

// startFollowing runs the change-feed follower until Close.
func (c *Cache) startFollowing(l changefeed.Lister, opts changefeed.FollowOptions) {
	if opts.Logger == nil {
		opts.Logger = c.log
	}
	c.feedDone = make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(c.feedDone)
		err := changefeed.Follow(c.ctx, l, feedHandler{c}, opts)
		if err != nil {
			c.log.LogAttrs(c.ctx, slog.LevelInfo, "secretcache: no change feed; relying on TTLs", slog.Any("error", err))
		}
	}()
}

// feedHandler applies the feed to the cache.
type feedHandler struct{ c *Cache }

// Changes drops the entries of every changed secret, whatever the change
// (a new version, a stage moved, a deletion): the next read, or the
// background refresh started here, sees the service's state.
func (h feedHandler) Changes(cs []changefeed.Change) {
	c := h.c
	changed := make(map[string]bool, len(cs))
	for _, ch := range cs {
		if ch.Kind == changefeed.KindSecret && ch.ID != "" {
			changed[ch.ID] = true
		}
	}
	var dropped []Key
	c.mu.Lock()
	for k, e := range c.entries {
		if changed[k.SecretID] || changed[e.secret.SecretID] {
			c.removeLocked(e)
			dropped = append(dropped, k)
		}
	}
	for k := range c.flights {
		// A read in flight may carry the old version: let it finish
		// for its waiters, uncached.
		if changed[k.SecretID] {
			delete(c.flights, k)
		}
	}
	if c.opts.RefreshAhead > 0 && !c.closed {
		for _, k := range dropped {
			c.startFetchLocked(k)
		}
	}
	hook := c.testHookFeed
	c.mu.Unlock()
	c.stats.feedInvalidations.Add(uint64(len(dropped)))
	for _, k := range dropped {
		c.log.LogAttrs(c.ctx, slog.LevelDebug, "secretcache: changed secret dropped", slog.String("key", k.String()))
	}
	if hook != nil {
		hook()
	}
}

// Reset drops everything: changes may have been missed.
func (h feedHandler) Reset() {
	c := h.c
	c.mu.Lock()
	n := len(c.entries)
	for _, e := range c.entries {
		c.removeLocked(e)
	}
	clear(c.flights)
	hook := c.testHookFeed
	c.mu.Unlock()
	c.stats.feedInvalidations.Add(uint64(n))
	if hook != nil {
		hook()
	}
}

// startFetchLocked reads key in the background into the cache if a
// refresh slot is free; otherwise the next read fetches it.
func (c *Cache) startFetchLocked(key Key) {
	if c.flights[key] != nil {
		return
	}
	select {
	case c.refreshSem <- struct{}{}:
	default:
		return
	}
	c.startFlightLocked(c.ctx, key, true, func() { <-c.refreshSem })
}
