package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// The replay ledger lives in a table of its own, outside kv: its rows are
// hashes and times, nothing the barrier needs to seal, and each statement
// runs on its own (autocommit) instead of in a serializable transaction, so
// a claim costs one round trip and never conflicts with kv writers. The
// primary key makes INSERT ... ON CONFLICT atomic: of two nodes claiming
// one id at the same time, one inserts and the other finds the row.
const (
	sqlLedgerClaim = `INSERT INTO replay_ledger (id, expires) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET expires = EXCLUDED.expires, retry_until = NULL
		WHERE replay_ledger.retry_until > $3 OR replay_ledger.expires < $3`
	sqlLedgerRelease = `UPDATE replay_ledger SET retry_until = $2 WHERE id = $1`
	sqlLedgerPurge   = `DELETE FROM replay_ledger WHERE expires < $1`
)

var _ store.ReplayLedger = (*Store)(nil)

// Claim implements store.ReplayLedger: nodes sharing the database share
// the ledger.
func (s *Store) Claim(ctx context.Context, id [32]byte, expires, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, sqlLedgerClaim, id[:], expires, now)
	if err != nil {
		return false, fmt.Errorf("postgres: replay ledger claim: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Release implements store.ReplayLedger.
func (s *Store) Release(ctx context.Context, id [32]byte, retryUntil time.Time) error {
	if _, err := s.pool.Exec(ctx, sqlLedgerRelease, id[:], retryUntil); err != nil {
		return fmt.Errorf("postgres: replay ledger release: %w", err)
	}
	return nil
}

// Purge implements store.ReplayLedger.
func (s *Store) Purge(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, sqlLedgerPurge, now)
	if err != nil {
		return 0, fmt.Errorf("postgres: replay ledger purge: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
