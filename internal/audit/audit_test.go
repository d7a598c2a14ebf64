package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestFileSinkWritesJSONLinesOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Record(context.Background(), Event{Operation: "GetSecretBundle", Principal: "ocid1.user.oc1..x",
				Targets: Targets{Secret: "ocid1.vaultsecret.oc1..y"}, Reason: "no statement"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v", info.Mode().Perm())
	}
	f, _ := os.Open(path)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is not an event: %v", n, err)
		}
		if e.Operation != "GetSecretBundle" || e.Targets.Secret == "" {
			t.Fatalf("line %d: %+v", n, e)
		}
		n++
	}
	if n != 50 {
		t.Fatalf("%d lines, want 50", n)
	}
	if err := s.Record(context.Background(), Event{}); err == nil {
		t.Fatal("record after close succeeded")
	}
}

func TestOpenFileRefusesWideMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(path); err == nil {
		t.Fatal("opened a world-readable audit log")
	}
}

type failing struct{}

func (failing) Record(context.Context, Event) error { return errors.New("disk full") }

func TestMultiFailsWhenAnySinkFails(t *testing.T) {
	var buf bytes.Buffer
	m := Multi{LogSink{Log: slog.New(slog.NewJSONHandler(&buf, nil))}, failing{}}
	err := m.Record(context.Background(), Event{Operation: "GetVault", Allowed: false, Reason: "denied because", Suggestion: "Allow group G to read vaults in tenancy"})
	if err == nil {
		t.Fatal("Multi hid a failing sink")
	}
	if !bytes.Contains(buf.Bytes(), []byte("denied because")) || !bytes.Contains(buf.Bytes(), []byte("Allow group G")) {
		t.Fatalf("log sink lacks the reason: %s", buf.Bytes())
	}
}
