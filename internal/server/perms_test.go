package server_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/server"
)

// Outside dev mode a data directory or TLS key open to group or others is
// refused before anything is read from it, with the chmod that fixes it; a
// dev server starts and warns.
func TestStartRefusesFilesOthersCanRead(t *testing.T) {
	const rootKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	open := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	_, err := server.Start(context.Background(), server.Config{DataDir: open, Listen: "127.0.0.1:0", UnsealKey: rootKey, Out: io.Discard, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "chmod 700 "+open) {
		t.Fatalf("data directory 0755: %v, want a refusal naming chmod 700", err)
	}
	if _, err := os.Stat(filepath.Join(open, "coffer.db")); !os.IsNotExist(err) {
		t.Fatalf("a store was created in the refused directory: %v", err)
	}

	private := filepath.Join(t.TempDir(), "data")
	certFile, keyFile, _ := coffertest.TLSFiles(t, t.TempDir(), "localhost")
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = server.Start(context.Background(), server.Config{DataDir: private, Listen: "127.0.0.1:0", UnsealKey: rootKey,
		TLSCertFile: certFile, TLSKeyFile: keyFile, Out: io.Discard, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "TLS key") || !strings.Contains(err.Error(), "chmod 600 "+keyFile) {
		t.Fatalf("TLS key 0644: %v, want a refusal naming chmod 600", err)
	}

	env := coffertest.Start(t, coffertest.Options{DataDir: open})
	if !strings.Contains(env.Logs.String(), "chmod 700") {
		t.Fatalf("dev server on a 0755 data directory did not warn; logs:\n%s", env.Logs.String())
	}
}
