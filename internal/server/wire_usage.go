package server

import (
	"context"
	"time"

	"github.com/coffer-vault/coffer/internal/ociapi/usageapi"
	"github.com/coffer-vault/coffer/internal/usage"
)

// Usage defaults (Config.UsageFlushInterval, Config.UsageRetention).
const (
	defaultUsageFlush = time.Minute
)

// wireUsage keeps the counts of the API's usage counter in the store and
// serves the usage report. The counter outlives seals (it holds no secret,
// only OCIDs and operation names); the service is rebuilt on each unseal.
func (s *Server) wireUsage(_ context.Context, w *wiring) error {
	s.usage = usage.New(s.st, s.usageCounter, usage.Options{Node: s.nodeID, Now: s.cfg.Now})
	w.register(w.api, w.main, s.usageHandlers().Routes()...)
	return nil
}

// usageHandlers serve the usage report, on the API and on the console
// (wireConsole), over the service wireUsage built.
func (s *Server) usageHandlers() *usageapi.Handlers {
	id := s.Identity
	return &usageapi.Handlers{Usage: s.usage, Now: s.cfg.Now, TenancyID: func(ctx context.Context) (string, error) {
		t, err := id.Tenancy(ctx)
		return t.ID, err
	}}
}

// flushUsage writes the counted calls to the store; a failure keeps them
// for the next flush.
func (s *Server) flushUsage(ctx context.Context) {
	if s.usage == nil {
		return
	}
	if err := s.usage.Flush(ctx); err != nil {
		s.log.Error("usage flush failed; the counts are kept for the next one", "error", err)
	}
}

// runUsageFlush flushes the usage counts every UsageFlushInterval until
// ctx ends.
func (s *Server) runUsageFlush(ctx context.Context) {
	defer s.jobsDone.Done()
	t := time.NewTicker(s.cfg.UsageFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.flushUsage(ctx)
		}
	}
}

// purgeUsage deletes usage records older than UsageRetention (a background
// job).
func (s *Server) purgeUsage(ctx context.Context) {
	if s.usage == nil {
		return
	}
	if _, err := s.usage.Purge(ctx, s.cfg.Now().Add(-s.cfg.UsageRetention)); err != nil {
		s.log.Error("usage purge failed", "error", err)
	}
}

// FlushUsage writes this node's counted calls to the store now, as the
// periodic flush would (tests of several nodes).
func (s *Server) FlushUsage(ctx context.Context) error {
	if s.usage == nil {
		return nil
	}
	return s.usage.Flush(ctx)
}
