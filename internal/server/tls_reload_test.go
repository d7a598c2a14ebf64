package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/server"
)

// servedCert returns the certificate a new TLS connection to addr gets.
func servedCert(t *testing.T, addr string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestTLSReload replaces the certificate files under a running server (not
// in dev mode, where key permissions are only warned about): ReloadTLS
// serves the new certificate to new connections; a file that does not
// parse, a key that does not match, or a key others may read leaves the
// previous certificate in place.
func TestTLSReload(t *testing.T) {
	dir := coffertest.DataDir(t)
	certFile, keyFile, roots1 := coffertest.TLSFiles(t, t.TempDir())
	logs := &coffertest.SyncBuffer{}
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0", UnsealKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		TLSCertFile: certFile, TLSKeyFile: keyFile, Out: io.Discard, Log: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	addr := srv.URL()[len("https://"):]
	first := servedCert(t, addr, roots1)

	// A renewed certificate from another CA, written over the same paths.
	newCert, newKey, roots2 := coffertest.TLSFiles(t, t.TempDir())
	copyFile(t, newCert, certFile, 0o644)
	copyFile(t, newKey, keyFile, 0o600)
	if err := srv.ReloadTLS(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	second := servedCert(t, addr, roots2)
	if second.Equal(first) {
		t.Fatal("the old certificate is still served after a reload")
	}

	bad := []struct {
		name  string
		apply func()
	}{
		{"garbage certificate", func() { write(t, certFile, []byte("not a certificate"), 0o644) }},
		{"key of another certificate", func() {
			other, _, _ := coffertest.TLSFiles(t, t.TempDir())
			copyFile(t, other, certFile, 0o644)
		}},
		{"key others may read", func() {
			copyFile(t, newCert, certFile, 0o644)
			if err := os.Chmod(keyFile, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, b := range bad {
		b.apply()
		if err := srv.ReloadTLS(); err == nil {
			t.Fatalf("%s: reload succeeded", b.name)
		}
		if got := servedCert(t, addr, roots2); !got.Equal(second) {
			t.Fatalf("%s: the served certificate changed", b.name)
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte("TLS certificate not reloaded")) {
		t.Fatalf("a failed reload was not logged:\n%s", logs.Bytes())
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	write(t, to, b, mode)
}

// write replaces a file the way renewal tools do: a new file renamed into
// place.
func write(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
