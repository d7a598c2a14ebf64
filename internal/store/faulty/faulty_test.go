package faulty_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/faulty"
	"github.com/coffer-vault/coffer/internal/store/memstore"
	"github.com/coffer-vault/coffer/internal/store/storetest"
)

// With no fault armed, the wrapper is a conforming store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return faulty.New(memstore.New()) })
}

// putThree writes three keys in one transaction, as a caller might.
func putThree(s store.Store) error {
	return s.Update(context.Background(), func(tx store.Tx) error {
		for _, k := range []string{"a", "b", "c"} {
			if err := tx.Put(k, []byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

func stored(t *testing.T, s store.Store) int {
	t.Helper()
	var n int
	err := s.View(context.Background(), func(r store.Reader) error {
		es, err := r.List("", "", 0)
		n = len(es)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFaults(t *testing.T) {
	custom := errors.New("disk on fire")
	tests := []struct {
		op         faulty.Op
		n          int
		err        error
		wantErr    error
		wantStored int
	}{
		{faulty.Put, 1, nil, faulty.ErrInjected, 0},
		{faulty.Put, 3, custom, custom, 0},
		{faulty.Put, 4, nil, nil, 3}, // beyond this Update: not hit
		{faulty.Commit, 1, nil, faulty.ErrInjected, 0},
		{faulty.AfterCommit, 1, nil, faulty.ErrInjected, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v#%d", tt.op, tt.n), func(t *testing.T) {
			s := faulty.New(memstore.New())
			s.FailOn(tt.op, tt.n, tt.err)
			err := putThree(s)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Update = %v, want %v", err, tt.wantErr)
			}
			if got := stored(t, s); got != tt.wantStored {
				t.Fatalf("%d keys stored, want %d", got, tt.wantStored)
			}
			// Faults are one-shot: the retry succeeds.
			s.Reset()
			if err := putThree(s); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if got := stored(t, s); got != 3 {
				t.Fatalf("after retry, %d keys stored", got)
			}
		})
	}
}

func TestCountsAndReadFaults(t *testing.T) {
	s := faulty.New(memstore.New())
	if err := putThree(s); err != nil {
		t.Fatal(err)
	}
	if s.Count(faulty.Put) != 3 || s.Count(faulty.Commit) != 1 {
		t.Fatalf("counts: Put %d, Commit %d", s.Count(faulty.Put), s.Count(faulty.Commit))
	}
	s.FailOn(faulty.Get, 2, nil)
	s.FailOn(faulty.List, 1, nil)
	err := s.View(context.Background(), func(r store.Reader) error {
		if _, err := r.Get("a"); err != nil {
			return fmt.Errorf("first Get failed: %w", err)
		}
		if _, err := r.Get("b"); !errors.Is(err, faulty.ErrInjected) {
			return fmt.Errorf("second Get = %v, want ErrInjected", err)
		}
		if _, err := r.List("", "", 0); !errors.Is(err, faulty.ErrInjected) {
			return fmt.Errorf("List = %v, want ErrInjected", err)
		}
		if _, err := r.Get("c"); err != nil {
			return fmt.Errorf("third Get failed: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.FailOn(faulty.Delete, 1, nil)
	err = s.Update(context.Background(), func(tx store.Tx) error { return tx.Delete("a") })
	if !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("Delete = %v", err)
	}
	if stored(t, s) != 3 {
		t.Fatal("failed Delete removed a key")
	}
}
