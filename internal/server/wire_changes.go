package server

import (
	"context"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/ociapi/changesapi"
	"github.com/coffer-vault/coffer/internal/store"
)

// wireChanges serves the change feed (package changefeed). Its waiters
// wake when the record cache hears the feed's counter change: at once for
// this node's writes, and through the store's change feed for other
// nodes'; failing that, every waiter rereads the head every
// changefeed.DefaultPoll. The feed is rebuilt on each unseal and closed on
// seal, which ends every wait.
func (s *Server) wireChanges(_ context.Context, w *wiring) error {
	f, err := changefeed.New(changefeed.Config{Store: s.cache, MAC: s.names.Of, Poll: s.cfg.ChangePoll})
	if err != nil {
		return err
	}
	if old := s.changes.Swap(f); old != nil {
		old.Close()
	}
	s.cache.OnChange(f.Changed)
	id := s.Identity
	h := &changesapi.Handlers{Feed: f, Secrets: s.Secrets, Keys: s.KMS, TenancyID: func(ctx context.Context) (string, error) {
		t, err := id.Tenancy(ctx)
		return t.ID, err
	}}
	w.register(w.api, w.main, h.Routes()...)
	return nil
}

// closeChanges ends every wait of the change feed (seal, shutdown).
func (s *Server) closeChanges() {
	if f := s.changes.Swap(nil); f != nil {
		f.Close()
	}
}

// purgeChanges drops change feed entries beyond the retention (a background
// job), in batches of one transaction each.
func (s *Server) purgeChanges(ctx context.Context) {
	ret := changefeed.Retention{MaxAge: s.cfg.ChangeRetention}
	for total := 0; ; {
		n := 0
		err := s.st.Update(ctx, func(tx store.Tx) (err error) {
			n, err = changefeed.PurgeStep(tx, ret, s.cfg.Now())
			return err
		})
		if err != nil {
			s.log.Error("change feed purge failed", "error", err)
			return
		}
		total += n
		if n == 0 || ctx.Err() != nil {
			if total > 0 {
				s.log.Info("change feed entries purged", "count", total)
			}
			return
		}
	}
}

// ChangeWaiters returns how many change feed long polls wait now.
func (s *Server) ChangeWaiters() int {
	if f := s.changes.Load(); f != nil {
		return f.Waiters()
	}
	return 0
}
