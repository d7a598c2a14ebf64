package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coffer-vault/coffer/internal/store"
)

// indexFormatKey records which form the store's index keys have. Absent: a
// store written before names became blind index entries (or a new one).
const indexFormatKey = "core/index-format"

// indexFormatBlind is the format in which names, fingerprints and retry
// tokens appear in storage keys only as blind index entries.
const indexFormatBlind = 2

type indexFormat struct {
	Version int `json:"version"`
	// Compacted is false while the backing files may still hold the
	// entries the migration deleted.
	Compacted bool `json:"compacted"`
}

// migrateIndexes brings the store's index keys to indexFormatBlind: in one
// transaction, every package rewrites its cleartext index entries and the
// format is recorded, so a crash leaves the store as it was and the next
// unseal starts again. Then the store's files are compacted, so that the
// old keys are gone from free pages and logs too; the record says whether
// that is done, and a failed compaction is retried at the next unseal.
// Nodes sharing a database migrate once: the others find the record.
func (s *Server) migrateIndexes(ctx context.Context) error {
	var f indexFormat
	moved := 0
	err := s.st.Update(ctx, func(tx store.Tx) error {
		f, moved = indexFormat{}, 0
		b, err := tx.Get(indexFormatKey)
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &f); err != nil {
				return fmt.Errorf("decode %s: %w", indexFormatKey, err)
			}
			if f.Version > indexFormatBlind {
				return fmt.Errorf("the store's index format %d is newer than this binary's (%d): upgrade coffer", f.Version, indexFormatBlind)
			}
			if f.Version == indexFormatBlind {
				return nil
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		for _, m := range []func(store.Tx) (int, error){s.Identity.MigrateIndexes, s.Secrets.MigrateIndexes} {
			n, err := m(tx)
			if err != nil {
				return err
			}
			moved += n
		}
		// A store with nothing to move (a new one) needs no compaction.
		f = indexFormat{Version: indexFormatBlind, Compacted: moved == 0}
		b, err = json.Marshal(f)
		if err != nil {
			return err
		}
		return tx.Put(indexFormatKey, b)
	})
	if err != nil {
		return fmt.Errorf("migrate index keys: %w", err)
	}
	if moved > 0 {
		s.log.Info("index keys migrated to blind index entries", "entries", moved)
	}
	if f.Compacted {
		return nil
	}
	return s.compactAfterMigration(ctx)
}

// compactAfterMigration compacts the store and records it. A failure is
// logged, not fatal: the data is consistent, and the next unseal tries again.
func (s *Server) compactAfterMigration(ctx context.Context) error {
	c, ok := s.raw.(store.Compacter)
	if ok {
		if err := c.Compact(ctx); err != nil {
			s.log.Error("compacting the store after the index migration failed; old index keys may remain in its files until the next unseal retries", "error", err)
			return nil
		}
	}
	b, err := json.Marshal(indexFormat{Version: indexFormatBlind, Compacted: true})
	if err != nil {
		return err
	}
	if err := s.st.Update(ctx, func(tx store.Tx) error { return tx.Put(indexFormatKey, b) }); err != nil {
		return fmt.Errorf("record index compaction: %w", err)
	}
	if ok {
		s.log.Info("store compacted after the index migration")
	}
	return nil
}
