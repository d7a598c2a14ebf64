// Package sqlite is Coffer's default store.Store: one SQLite database file,
// through the pure-Go modernc.org/sqlite driver.
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: every commit fsyncs
// the write-ahead log before Update returns, so an acknowledged write
// survives kill -9 and power loss.
//
// # Concurrency
//
// Writes go through a single connection and start with BEGIN IMMEDIATE, so
// Update transactions run one at a time and are trivially serializable; there
// is nothing to retry inside one process. Another process holding the write
// lock longer than the busy timeout makes Update fail with store.ErrConflict.
// Views run on a pool of read-only connections (query_only) in deferred
// transactions: WAL gives each a stable snapshot taken at its first read, and
// readers never block the writer or each other. Statements are prepared once
// per connection and reused, so a View costs a BEGIN, the reads, and a COMMIT.
//
// Calling Update from inside Update's fn deadlocks: the single write
// connection is taken. A panic in fn rolls the transaction back and then
// propagates to the caller.
//
// # One process
//
// Open holds an exclusive lock (flock) on PATH.lock until Close, and fails
// with ErrInUse while another process (or another Open in this one) holds
// it. Coffer keeps decoded records in memory and learns of writes only from
// its own Updates; a second process writing the same file would leave it
// serving stale records. The lock goes with the process, kill -9 included.
//
// # Files
//
// Open creates the database file itself with mode 0600 (O_CREATE|O_EXCL)
// before the driver sees it. SQLite creates the -wal and -shm files with the
// permission bits of the database file, so they are 0600 too (the process
// umask can only remove bits); the package does not change the umask and does
// not chmod files that already exist.
//
// # Schema
//
// Migrations are numbered SQL files embedded in the binary and applied at
// Open in one IMMEDIATE transaction, recorded in schema_migrations. Open
// refuses a database migrated by a newer binary (ErrSchemaTooNew).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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

// busyTimeoutMS is how long a connection waits for a lock held by another
// process (a second coffer, a backup tool) before giving up.
const busyTimeoutMS = 10000

// readerTuning gives each read connection an 8 MiB page cache and maps up to
// 1 GiB of the file (address space, not memory), so pages of a database of
// 100,000 secrets are read from memory instead of by one pread per page.
const readerTuning = "&_pragma=cache_size(-8000)&_pragma=mmap_size(1073741824)"

const (
	sqlGet    = `SELECT value FROM kv WHERE key = ?`
	sqlPut    = `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`
	sqlDelete = `DELETE FROM kv WHERE key = ?`
	// List statements, by (inclusive lower bound, has upper bound). LIMIT -1
	// means no limit in SQLite. Each form is a single index range scan.
	sqlListGE   = `SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT ?`
	sqlListGT   = `SELECT key, value FROM kv WHERE key > ? ORDER BY key LIMIT ?`
	sqlListGELT = `SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`
	sqlListGTLT = `SELECT key, value FROM kv WHERE key > ? AND key < ? ORDER BY key LIMIT ?`
)

// stmts are the statements prepared on one *sql.DB; database/sql prepares
// each again on every connection that uses it and keeps it there.
type stmts struct {
	get, put, del            *sql.Stmt
	listGE, listGT, listGELT *sql.Stmt
	listGTLT                 *sql.Stmt
	all                      []*sql.Stmt
}

func prepare(db *sql.DB, write bool) (*stmts, error) {
	s := &stmts{}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
		w   bool
	}{
		{&s.get, sqlGet, false},
		{&s.put, sqlPut, true},
		{&s.del, sqlDelete, true},
		{&s.listGE, sqlListGE, false},
		{&s.listGT, sqlListGT, false},
		{&s.listGELT, sqlListGELT, false},
		{&s.listGTLT, sqlListGTLT, false},
	} {
		if p.w && !write {
			continue
		}
		st, err := db.Prepare(p.sql)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("sqlite: preparing %q: %w", p.sql, err)
		}
		*p.dst = st
		s.all = append(s.all, st)
	}
	return s, nil
}

func (s *stmts) close() {
	for _, st := range s.all {
		st.Close()
	}
}

// Store is a store.Store on one SQLite database file. It is safe for
// concurrent use.
type Store struct {
	lock      *os.File // flocked until Close
	w, r      *sql.DB  // one write connection; a pool of read connections
	ws, rs    *stmts
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens the database at path, creating it (mode 0600) if it does not
// exist, and applies pending migrations. The directory must exist. path may
// not contain '?', which the driver would read as the start of options.
func Open(path string) (*Store, error) {
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?'", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	lock, err := lockFile(abs + ".lock")
	if err != nil {
		return nil, err
	}
	s, err := open(abs)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// ErrInUse is Open's error for a database another process has open.
var ErrInUse = errors.New("sqlite: the database is in use by another process")

// lockFile creates path (0600) if needed and takes an exclusive flock on it.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked; one server per data directory)", ErrInUse, path)
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
	}
	return f, nil
}

func open(abs string) (*Store, error) {
	if err := createFile(abs); err != nil {
		return nil, err
	}

	common := fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeoutMS)
	w, err := sql.Open("sqlite", abs+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
	if err := s.migrate(); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", abs, err)
	}

	// Readers are opened after the writer has switched the file to WAL.
	r, err := sql.Open("sqlite", abs+"?"+common+"&_pragma=query_only(1)"+readerTuning)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	s.r = r

	if s.ws, err = prepare(w, true); err == nil {
		s.rs, err = prepare(r, false)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// createFile creates path with mode 0600 if it does not exist, so the driver
// never creates it with the umask's default mode.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: creating %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlite: creating %s: %w", path, err)
	}
	return nil
}

func (s *Store) migrate() error {
	all, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
	)`); err != nil {
		return fmt.Errorf("migrations: creating schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrations: reading version: %w", err)
	}
	pending, err := migrate.Pending(all, current)
	if err != nil {
		return err
	}
	for _, m := range pending {
		if _, err := tx.Exec(m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.Version, m.Name); err != nil {
			return fmt.Errorf("migration %s: recording version: %w", m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrations: commit: %w", err)
	}
	return nil
}

// View runs fn in a read-only snapshot on one of the read connections.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	sqlTx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin view: %w", err)
	}
	defer sqlTx.Rollback()
	if err := fn(&tx{ctx: ctx, tx: sqlTx, st: s.rs}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: end view: %w", ctxErr(ctx, err))
	}
	return nil
}

// Update runs fn in a write transaction (BEGIN IMMEDIATE on the single write
// connection) and commits it, durably, when fn returns nil and ctx is live.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", classify(err))
	}
	defer sqlTx.Rollback() // after Commit, a harmless ErrTxDone; on panic, the rollback
	if err := fn(&tx{ctx: ctx, tx: sqlTx, st: s.ws}); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: not committed: %w", err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", classify(ctxErr(ctx, err)))
	}
	return nil
}

var _ store.Compacter = (*Store)(nil)

// Compact checkpoints the write-ahead log into the database file and
// truncates it, rebuilds the file with VACUUM (which leaves no free pages
// holding deleted rows), and truncates the log again, which VACUUM filled.
// It fails if a reader keeps the log from being checkpointed fully.
func (s *Store) Compact(ctx context.Context) error {
	checkpoint := func() error {
		var busy, logPages, done int
		if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done); err != nil {
			return fmt.Errorf("sqlite: compact: checkpoint: %w", classify(err))
		}
		if busy != 0 {
			return fmt.Errorf("sqlite: compact: checkpoint: %w (a reader holds the log)", store.ErrConflict)
		}
		return nil
	}
	if err := checkpoint(); err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("sqlite: compact: vacuum: %w", classify(err))
	}
	return checkpoint()
}

// Close closes all connections. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		for _, st := range []*stmts{s.rs, s.ws} {
			if st != nil {
				st.close()
			}
		}
		var errs []error
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
		if s.lock != nil {
			errs = append(errs, s.lock.Close()) // releases the flock
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// ctxErr prefers the context's error: when ctx ends, database/sql rolls the
// transaction back and reports sql.ErrTxDone, which says less.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// classify marks lock timeouts (another process kept the database locked
// past busy_timeout) as store.ErrConflict.
func classify(err error) error {
	var se *msqlite.Error
	if errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// tx implements store.Tx over a database/sql transaction; a View's tx has
// no write statements and is only ever used as a store.Reader.
type tx struct {
	ctx context.Context
	tx  *sql.Tx
	st  *stmts
}

func (t *tx) Get(key string) ([]byte, error) {
	if err := keyspace.CheckKey(key); err != nil {
		return nil, err
	}
	var v []byte
	err := t.tx.StmtContext(t.ctx, t.st.get).QueryRowContext(t.ctx, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get %q: %w", key, classify(err))
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
	if limit <= 0 {
		limit = -1
	}
	var (
		st   *sql.Stmt
		args []any
	)
	switch {
	case r.LoInclusive && r.HasHi:
		st, args = t.st.listGELT, []any{r.Lo, r.Hi, limit}
	case r.HasHi:
		st, args = t.st.listGTLT, []any{r.Lo, r.Hi, limit}
	case r.LoInclusive:
		st, args = t.st.listGE, []any{r.Lo, limit}
	default:
		st, args = t.st.listGT, []any{r.Lo, limit}
	}
	rows, err := t.tx.StmtContext(t.ctx, st).QueryContext(t.ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %q: %w", prefix, classify(err))
	}
	defer rows.Close()
	var out []store.Entry
	for rows.Next() {
		var e store.Entry
		if err := rows.Scan(&e.Key, &e.Value); err != nil {
			return nil, fmt.Errorf("sqlite: list %q: %w", prefix, err)
		}
		if e.Value == nil {
			e.Value = []byte{}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %q: %w", prefix, classify(err))
	}
	return out, nil
}

func (t *tx) Put(key string, value []byte) error {
	if err := keyspace.CheckKey(key); err != nil {
		return err
	}
	if value == nil {
		value = []byte{} // the driver binds nil as NULL
	}
	if t.st.put == nil {
		return errors.New("sqlite: Put in a read-only view")
	}
	if _, err := t.tx.StmtContext(t.ctx, t.st.put).ExecContext(t.ctx, key, value); err != nil {
		return fmt.Errorf("sqlite: put %q: %w", key, classify(err))
	}
	return nil
}

func (t *tx) Delete(key string) error {
	if err := keyspace.CheckKey(key); err != nil {
		return err
	}
	if t.st.del == nil {
		return errors.New("sqlite: Delete in a read-only view")
	}
	if _, err := t.tx.StmtContext(t.ctx, t.st.del).ExecContext(t.ctx, key); err != nil {
		return fmt.Errorf("sqlite: delete %q: %w", key, classify(err))
	}
	return nil
}
