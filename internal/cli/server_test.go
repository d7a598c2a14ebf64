package cli

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/coffertest"
)

// TestServerReloadsTLSOnSIGHUP runs `coffer server` as its own process
// (a signal to the test process itself would hit every test), replaces its
// certificate files and sends SIGHUP: new connections get the new
// certificate.
func TestServerReloadsTLSOnSIGHUP(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "coffer")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/coffer").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	certFile, keyFile, roots1 := coffertest.TLSFiles(t, t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &coffertest.SyncBuffer{}
	cmd := exec.Command(bin, "server", "--data-dir", coffertest.DataDir(t), "--listen", addr, "--tls-cert", certFile, "--tls-key", keyFile)
	cmd.Env = append(os.Environ(), "COFFER_UNSEAL_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	served := func(roots *x509.CertPool) (*x509.Certificate, error) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0], nil
	}
	waitFor := func(roots *x509.CertPool) *x509.Certificate {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := served(roots)
			if err == nil {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("no certificate trusted by the expected CA: %v\nserver output:\n%s", err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	first := waitFor(roots1)
	// The handshake works while the server still unseals; SIGHUP is
	// handled once it is ready.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots1, ServerName: "127.0.0.1"}}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := hc.Get("https://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v\n%s", err, logs.String())
		}
	}
	hc.CloseIdleConnections()

	newCert, newKey, roots2 := coffertest.TLSFiles(t, t.TempDir())
	for from, to := range map[string]string{newCert: certFile, newKey: keyFile} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(to+".new", to); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := served(roots1); err != nil || !c.Equal(first) {
		t.Fatalf("the certificate changed before SIGHUP: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if second := waitFor(roots2); second.Equal(first) {
		t.Fatal("same certificate after SIGHUP")
	}
}
