package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/devmode"
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

// serverProcess starts `coffer server` with args in a child process and
// waits until its output holds want.
func serverProcess(t *testing.T, env []string, want string, args ...string) (*exec.Cmd, *coffertest.SyncBuffer, *coffertest.SyncBuffer) {
	t.Helper()
	cmd := cofferProcess(t, append([]string{"server", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	stdout, stderr := &coffertest.SyncBuffer{}, &coffertest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String()+stderr.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q from the server:\n%s\n%s", want, stdout.String(), stderr.String())
		}
	}
	return cmd, stdout, stderr
}

// TestServerDevRemovesItsTemporaryDirectory: `coffer server --dev`
// without --data-dir says its data directory is temporary and removes it
// when stopped by SIGINT or SIGTERM.
func TestServerDevRemovesItsTemporaryDirectory(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			tmp := t.TempDir()
			cmd, stdout, stderr := serverProcess(t, []string{"TMPDIR=" + tmp}, "coffer server ready", "--dev")
			dirs, _ := filepath.Glob(filepath.Join(tmp, "coffer-dev-*"))
			if len(dirs) != 1 {
				t.Fatalf("dev data directories in TMPDIR: %v", dirs)
			}
			if !strings.Contains(stdout.String(), dirs[0]+"\n                   (temporary: removed when the server stops; pass --data-dir to keep it)") {
				t.Errorf("the instructions do not say the directory is temporary:\n%s", stdout.String())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit after %v: %v\n%s", sig, err, stderr.String())
			}
			if _, err := os.Stat(dirs[0]); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s after %v: %v, want it removed", dirs[0], sig, err)
			}
			if !strings.Contains(stderr.String(), `"msg":"dev data directory removed"`) {
				t.Errorf("the removal is not logged:\n%s", stderr.String())
			}
		})
	}
}

// TestServerKeyFileFirstStartNamesAdminConfig: the start that bootstraps
// the tenancy of a key-file server prints where the administrator's OCI
// config was written; a restart does not.
func TestServerKeyFileFirstStartNamesAdminConfig(t *testing.T) {
	dir := coffertest.DataDir(t)
	env := []string{"COFFER_UNSEAL_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
	cmd, stdout, _ := serverProcess(t, env, "coffer server ready", "--data-dir", dir)
	want := "was written to " + filepath.Join(dir, devmode.OCIDir, devmode.ConfigFile) + "\n"
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("first start: stdout %q, want %q", stdout.String(), want)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	cmd, stdout, _ = serverProcess(t, env, "coffer server ready", "--data-dir", dir)
	if strings.Contains(stdout.String(), "was written") {
		t.Errorf("restart: stdout %q names the config again", stdout.String())
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}
