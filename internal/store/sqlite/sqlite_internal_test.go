package sqlite

import (
	"path/filepath"
	"testing"
)

// TestPragmas checks the settings durability and isolation rest on: WAL,
// synchronous=FULL on the writer (fsync at every commit), query_only readers.
func TestPragmas(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "coffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	var sync, busy, queryOnly int
	if err := s.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.w.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRow(`PRAGMA query_only`).Scan(&queryOnly); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 || busy != busyTimeoutMS || queryOnly != 1 {
		t.Fatalf("journal_mode=%s synchronous=%d busy_timeout=%d query_only=%d; want wal 2 %d 1", mode, sync, busy, busyTimeoutMS, queryOnly)
	}
}
