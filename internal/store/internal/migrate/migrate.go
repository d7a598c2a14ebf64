// Package migrate loads the numbered SQL migrations a store backend embeds
// and decides which of them a database still needs. Applying them is left to
// each backend, because locking and transaction control differ between SQLite
// and PostgreSQL; the rules are shared:
//
//   - files are named NNNN_description.sql, numbered 1, 2, 3... with no gaps;
//   - a database records every applied version in schema_migrations;
//   - all pending migrations run in one transaction at open;
//   - a database whose version is newer than the binary knows is refused,
//     because an old binary could corrupt data written under a newer schema.
package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// ErrSchemaTooNew is returned when the database was migrated by a newer
// Coffer than the running one.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this binary supports; upgrade coffer")

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string // file name, for error messages and the version table
	SQL     string
}

// Load reads every *.sql file in dir of fsys and returns them in version
// order. It fails on a malformed name, a duplicate or a gap, so a packaging
// mistake is caught by the first test that opens a store.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("migrate: listing %s: %w", dir, err)
	}
	var ms []Migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrate: %s: name must be NNNN_description.sql", base)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migrate: reading %s: %w", base, err)
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrate: %s: expected version %d (versions must be 1, 2, 3... without gaps or duplicates)", m.Name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("migrate: no migrations in %s", dir)
	}
	return ms, nil
}

// Pending returns the migrations after version current, or ErrSchemaTooNew
// when current is beyond the last known migration.
func Pending(all []Migration, current int) ([]Migration, error) {
	latest := 0
	if len(all) > 0 {
		latest = all[len(all)-1].Version
	}
	if current > latest {
		return nil, fmt.Errorf("%w (database version %d, latest known %d)", ErrSchemaTooNew, current, latest)
	}
	return all[current:], nil
}
