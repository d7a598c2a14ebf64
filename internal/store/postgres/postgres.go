// Package postgres is Coffer's scale-out store.Store on PostgreSQL, through
// pgx and its connection pool. Any number of coffer server nodes may share
// one database.
//
// # Transactions
//
// Update runs fn in a SERIALIZABLE transaction. PostgreSQL may abort such a
// transaction with a serialization failure (40001) or a deadlock (40P01) when
// it races another writer; Update then rolls back, waits a short, jittered,
// growing delay and runs fn again, up to MaxAttempts times in all, after
// which it returns an error wrapping store.ErrConflict. fn must therefore
// have no effects outside the transaction. A panic in fn rolls back and then
// propagates to the caller; it is never retried.
//
// View runs fn in a REPEATABLE READ READ ONLY transaction: one snapshot,
// taken at its first statement, for all of fn's reads.
//
// # Schema
//
// The same embedded, numbered migrations mechanism as the SQLite backend:
// applied at Open in one transaction under a transaction-scoped advisory lock
// (so nodes starting together migrate once), recorded in schema_migrations,
// and a database migrated by a newer binary is refused with ErrSchemaTooNew.
// Tables are created in the first schema of the connection's search_path.
//
// # Change feed
//
// Store is a store.ChangeFeed. Every Update that put or deleted keys names
// them, deduplicated, with pg_notify inside its transaction just before
// COMMIT, so PostgreSQL delivers the notification if and when the
// transaction commits, and only for the attempt that commits; this costs one
// round trip per writing transaction, none for an Update that wrote nothing.
// A payload is "k" followed, for each key, by a newline and the key with
// '%', control characters, DEL and non-ASCII bytes written as %XX; payloads
// stay under PostgreSQL's 8000 bytes by splitting the list, and a
// transaction that would need more than 8 of them sends "*" (everything may
// have changed) instead.
//
// The channel is named after the schema the tables live in (current_schema()
// at Open): "coffer:" and the schema, or "coffer#" and a hash of it when that
// would exceed 63 bytes. NOTIFY is scoped to one database, so deployments in
// different databases or schemas of one server never hear each other.
//
// Follow listens on a dedicated connection, outside the pool, and pings it
// whenever it was silent for 250 ms, so a dead connection is reported
// (store.ChangeWatcher.Lost) within 650 ms. LISTEN needs a session of its
// own: the DSN must reach PostgreSQL directly or through a pooler in session
// mode, not one in transaction mode.
//
// Not yet here: advisory locks for background jobs, which the scale-out
// design calls for once jobs run on several nodes.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/internal/keyspace"
	"github.com/coffer-vault/coffer/internal/store/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open for a database migrated by a newer
// Coffer; upgrade the binary rather than risk corrupting the data.
var ErrSchemaTooNew = migrate.ErrSchemaTooNew

// ErrInvalidKey is returned for a key the store refuses: empty, longer than
// store.MaxKeyLen, not valid UTF-8, or containing NUL.
var ErrInvalidKey = keyspace.ErrInvalidKey

// MaxAttempts bounds how many times Update runs fn when PostgreSQL keeps
// aborting it with serialization failures or deadlocks.
const MaxAttempts = 20

// Backoff between attempts: full jitter, doubling from minBackoff up to
// maxBackoff.
const (
	minBackoff = 2 * time.Millisecond
	maxBackoff = 200 * time.Millisecond
)

// migrationLockID is the advisory lock key held while migrating
// (an arbitrary constant: the first 8 bytes of "coffermg").
const migrationLockID = 0x636f666665726d67

const (
	sqlGet    = `SELECT value FROM kv WHERE key = $1`
	sqlPut    = `INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`
	sqlDelete = `DELETE FROM kv WHERE key = $1`
	// List statements by (inclusive lower bound, has upper bound); a NULL
	// limit means no limit. pgx prepares and caches each per connection.
	sqlListGE   = `SELECT key, value FROM kv WHERE key >= $1 ORDER BY key LIMIT $2::bigint`
	sqlListGT   = `SELECT key, value FROM kv WHERE key > $1 ORDER BY key LIMIT $2::bigint`
	sqlListGELT = `SELECT key, value FROM kv WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3::bigint`
	sqlListGTLT = `SELECT key, value FROM kv WHERE key > $1 AND key < $2 ORDER BY key LIMIT $3::bigint`
)

// Store is a store.Store on a PostgreSQL database. It is safe for concurrent
// use.
type Store struct {
	pool    *pgxpool.Pool
	channel string // the change feed's NOTIFY channel

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: Follow returns
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a libpq connection string or
// postgres:// URL, with pgxpool's pool_* options) and applies pending
// migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN, password included.
		return nil, errors.New("postgres: invalid connection string")
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open for a configuration built in code (TLS settings, pool
// sizes, runtime parameters such as search_path).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connecting: %w", err)
	}
	s := &Store{pool: pool, closed: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var schema *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil || schema == nil {
		pool.Close()
		if err == nil {
			err = errors.New("search_path names no existing schema")
		}
		return nil, fmt.Errorf("postgres: current schema: %w", err)
	}
	s.channel = channelFor(*schema)
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	all, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockID)); err != nil {
		return fmt.Errorf("migrations: taking lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("migrations: creating schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrations: reading version: %w", err)
	}
	pending, err := migrate.Pending(all, current)
	if err != nil {
		return err
	}
	for _, m := range pending {
		// No arguments: the simple protocol, which allows several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return fmt.Errorf("migration %s: recording version: %w", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrations: commit: %w", err)
	}
	return nil
}

// View runs fn in a REPEATABLE READ READ ONLY transaction.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: begin view: %w", err)
	}
	defer pgTx.Rollback(context.WithoutCancel(ctx))
	if err := fn(&tx{ctx: ctx, tx: pgTx}); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: end view: %w", err)
	}
	return nil
}

// Update runs fn in a SERIALIZABLE transaction, retrying serialization
// failures and deadlocks as described in the package documentation.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.updateOnce(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
		if attempt >= MaxAttempts {
			return fmt.Errorf("postgres: %w: gave up after %d attempts: %w", store.ErrConflict, attempt, err)
		}
		timer := time.NewTimer(rand.N(backoff) + time.Millisecond)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// errRetry marks a failed attempt that should be run again.
type errRetry struct{ err error }

func (e *errRetry) Error() string { return e.err.Error() }
func (e *errRetry) Unwrap() error { return e.err }

func retryable(err error) bool {
	var r *errRetry
	return errors.As(err, &r)
}

func (s *Store) updateOnce(ctx context.Context, fn func(store.Tx) error) error {
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadWrite})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer pgTx.Rollback(context.WithoutCancel(ctx)) // no-op after Commit; the rollback on error or panic
	t := &tx{ctx: ctx, tx: pgTx, changes: new(changes)}
	if err := fn(t); err != nil {
		if isConflict(err) || t.conflict != nil {
			return &errRetry{err}
		}
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: not committed: %w", err)
	}
	if payloads := t.changes.payloads(); payloads != nil {
		// Queued in the transaction: delivered if and when it commits.
		if _, err := pgTx.Exec(ctx, sqlNotify, s.channel, payloads); err != nil {
			err = fmt.Errorf("postgres: notify: %w", err)
			if isConflict(err) || t.conflict != nil {
				return &errRetry{err}
			}
			return err
		}
	}
	if err := pgTx.Commit(ctx); err != nil {
		err = fmt.Errorf("postgres: commit: %w", err)
		// fn may have swallowed a conflict error; the aborted transaction
		// then fails to commit, and is worth another attempt.
		if isConflict(err) || t.conflict != nil {
			return &errRetry{err}
		}
		return err
	}
	return nil
}

// isConflict reports a serialization failure or deadlock: the transaction
// lost a race and can be run again.
func isConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

var _ store.Compacter = (*Store)(nil)

// Compact rewrites the kv table and its index into new files with VACUUM
// FULL, so that deleted rows are gone from the table's files. It holds an
// exclusive lock on the table while it runs: every node waits. PostgreSQL's
// write-ahead log segments, archives, replicas and backups keep what they
// hold until they are recycled; pg_dump never shows deleted rows.
func (s *Store) Compact(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `VACUUM (FULL) kv`); err != nil {
		return fmt.Errorf("postgres: compact: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned, and
// ends Follow. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.pool.Close()
	return nil
}

// tx implements store.Tx over a pgx transaction; a View's tx is only ever
// used as a store.Reader, and the READ ONLY transaction refuses writes anyway.
type tx struct {
	ctx      context.Context
	tx       pgx.Tx
	conflict error    // the first serialization failure seen, even if fn swallowed it
	changes  *changes // the keys written, for the change feed; nil in a View
}

func (t *tx) wrap(op, key string, err error) error {
	if isConflict(err) && t.conflict == nil {
		t.conflict = err
	}
	return fmt.Errorf("postgres: %s %q: %w", op, key, err)
}

func (t *tx) Get(key string) ([]byte, error) {
	if err := keyspace.CheckKey(key); err != nil {
		return nil, err
	}
	var v []byte
	err := t.tx.QueryRow(t.ctx, sqlGet, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, t.wrap("get", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (t *tx) List(prefix, after string, limit int) ([]store.Entry, error) {
	r, err := keyspace.ListRange(prefix, after)
	if err != nil {
		return nil, err
	}
	var lim any // NULL: no limit
	if limit > 0 {
		lim = int64(limit)
	}
	var (
		query string
		args  []any
	)
	switch {
	case r.LoInclusive && r.HasHi:
		query, args = sqlListGELT, []any{r.Lo, r.Hi, lim}
	case r.HasHi:
		query, args = sqlListGTLT, []any{r.Lo, r.Hi, lim}
	case r.LoInclusive:
		query, args = sqlListGE, []any{r.Lo, lim}
	default:
		query, args = sqlListGT, []any{r.Lo, lim}
	}
	rows, err := t.tx.Query(t.ctx, query, args...)
	if err != nil {
		return nil, t.wrap("list", prefix, err)
	}
	defer rows.Close()
	var out []store.Entry
	for rows.Next() {
		var e store.Entry
		if err := rows.Scan(&e.Key, &e.Value); err != nil {
			return nil, t.wrap("list", prefix, err)
		}
		if e.Value == nil {
			e.Value = []byte{}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, t.wrap("list", prefix, err)
	}
	return out, nil
}

func (t *tx) Put(key string, value []byte) error {
	if err := keyspace.CheckKey(key); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // pgx sends nil as NULL
	}
	if _, err := t.tx.Exec(t.ctx, sqlPut, key, value); err != nil {
		return t.wrap("put", key, err)
	}
	t.changes.add(key)
	return nil
}

func (t *tx) Delete(key string) error {
	if err := keyspace.CheckKey(key); err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, sqlDelete, key); err != nil {
		return t.wrap("delete", key, err)
	}
	t.changes.add(key)
	return nil
}
