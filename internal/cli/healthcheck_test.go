package cli

import (
	"bytes"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestHealthcheck checks the exit code against each /healthz answer the
// server gives, and that a TLS server is checked against --ca-file.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	body := `{"status":"ok"}`
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	plain := httptest.NewServer(h)
	defer plain.Close()
	secure := httptest.NewUnstartedServer(h)
	// The unverified-certificate case below makes the server log a failed
	// handshake; that is the expected outcome, not noise for the test log.
	secure.Config.ErrorLog = log.New(io.Discard, "", 0)
	secure.StartTLS()
	defer secure.Close()

	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"healthcheck"}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}

	if code, out, _ := run("--url", plain.URL+"/healthz"); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("healthy server: exit %d, out %q", code, out)
	}
	status, body = http.StatusServiceUnavailable, `{"status":"sealed","sealed":true}`
	if code, _, errs := run("--url", plain.URL+"/healthz"); code != 1 || !strings.Contains(errs, "503") || !strings.Contains(errs, "sealed") {
		t.Fatalf("sealed server: exit %d, stderr %q", code, errs)
	}
	status, body = http.StatusOK, `{"status":"ok"}`
	if code, _, _ := run("--url", plain.URL+"/nothere"); code != 1 {
		t.Fatalf("404: exit %d, want 1", code)
	}

	// TLS: the test certificate is not in the system pool.
	if code, _, errs := run("--url", secure.URL+"/healthz"); code != 1 || !strings.Contains(errs, "certificate") {
		t.Fatalf("unverified TLS: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := run("--url", secure.URL+"/healthz", "--insecure-skip-verify"); code != 0 {
		t.Fatalf("--insecure-skip-verify: exit %d, stderr %q", code, errs)
	}
	ca := t.TempDir() + "/ca.pem"
	writeCertPEM(t, ca, secure.Certificate().Raw)
	if code, _, errs := run("--url", secure.URL+"/healthz", "--ca-file", ca); code != 0 {
		t.Fatalf("--ca-file: exit %d, stderr %q", code, errs)
	}
	if code, _, _ := run("--url", secure.URL+"/healthz", "--ca-file", t.TempDir()+"/missing.pem"); code == 0 {
		t.Fatal("a missing CA file passed")
	}
}

func writeCertPEM(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
