package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// keyGeneration holds a counter that every identity write increments in its
// own transaction. Nodes sharing a database poll it (Sync) to learn that
// another node changed users, keys, groups or policies, and drop their
// compiled policies and API-key cache.
const keyGeneration = "identity/generation"

func bumpStoredGeneration(tx store.Tx) (uint64, error) {
	n, err := readGeneration(tx)
	if err != nil {
		return 0, err
	}
	n++
	return n, tx.Put(keyGeneration, []byte(strconv.FormatUint(n, 10)))
}

func readGeneration(r store.Reader) (uint64, error) {
	b, err := r.Get(keyGeneration)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("identity: corrupt generation counter: %w", err)
	}
	return n, nil
}

// Sync reads the stored generation and, when another node has written
// identity data since this node last looked, announces the change locally.
// It reports whether it did.
func (s *Service) Sync(ctx context.Context) (bool, error) {
	var n uint64
	err := s.st.View(ctx, func(r store.Reader) (err error) { n, err = readGeneration(r); return err })
	if err != nil {
		return false, err
	}
	for {
		seen := s.seenStored.Load()
		if n <= seen {
			return false, nil
		}
		if s.seenStored.CompareAndSwap(seen, n) {
			s.Changed()
			return true, nil
		}
	}
}

// Watch calls Sync every interval until ctx ends.
func (s *Service) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				log.Error("identity sync failed", "error", err)
			}
		}
	}
}
