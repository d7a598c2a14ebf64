package cli

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/pkg/securefile"
)

// writeFiles writes in order, 0600, and stops at the first failure,
// saying how many it wrote; checkOutputDir takes only directories.
func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "c"), 0o700); err != nil {
		t.Fatal(err)
	}
	n, err := writeFiles(dir, dirFile{"a", []byte("A")}, dirFile{"b", []byte("B")}, dirFile{"c", []byte("C")}, dirFile{"d", []byte("D")})
	if c := filepath.Join(dir, "c"); n != 2 || !errors.Is(err, securefile.ErrNotRegular) || strings.Count(err.Error(), c) != 1 {
		t.Fatalf("wrote %d, %v; want 2 and a refusal of c", n, err)
	}
	for name, want := range map[string]string{"a": "A", "b": "B"} {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		fi, _ := os.Stat(p)
		if err != nil || string(b) != want || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %q %v %v", name, b, fi.Mode(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "d")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("d written after the failure: %v", err)
	}

	file := filepath.Join(dir, "a")
	for path, ok := range map[string]bool{dir: true, file: false, filepath.Join(dir, "none"): false} {
		err := checkOutputDir("--out", path)
		var ue *usageError
		if (err == nil) != ok || (err != nil && (!errors.As(err, &ue) || !strings.Contains(err.Error(), "--out "+path))) {
			t.Errorf("%s: %v, want ok=%v", path, err, ok)
		}
	}
}

// adminClient.post signs as the SDK does, decodes the answer, returns a
// refusal as the SDK's service error and names the call when the answer
// is not JSON.
func TestAdminClientPost(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	provider := common.NewRawConfigurationProvider("ocid1.tenancy.oc1..t", "ocid1.user.oc1..u", "local", "aa:bb", keyPEM, nil)
	var gotBody, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody, gotAuth = string(b), r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, `{"token":"t"}`)
		case "/denied":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			io.WriteString(w, `{"code":"NotAuthorizedOrNotFound","message":"no"}`)
		default:
			io.WriteString(w, "not json")
		}
	}))
	defer srv.Close()
	g := newGlobals()
	g.noRetry = true
	c := &adminClient{g: g, endpoint: srv.URL, provider: provider}

	var out struct{ Token string }
	if err := c.post(context.Background(), "/ok", "mint", map[string]string{"a": "b"}, &out); err != nil || out.Token != "t" {
		t.Fatalf("ok: %+v %v", out, err)
	}
	if gotBody != `{"a":"b"}` || !strings.Contains(gotAuth, `keyId="ocid1.tenancy.oc1..t/ocid1.user.oc1..u/aa:bb"`) {
		t.Errorf("sent %s, Authorization %s", gotBody, gotAuth)
	}
	var se common.ServiceError
	if err := c.post(context.Background(), "/denied", "mint", struct{}{}, &out); !errors.As(err, &se) || se.GetHTTPStatusCode() != 404 {
		t.Errorf("denied: %v", err)
	}
	if gotBody != "{}" {
		t.Errorf("empty request sent as %q", gotBody)
	}
	if err := c.post(context.Background(), "/garbage", "mint", struct{}{}, &out); err == nil || !strings.HasPrefix(err.Error(), "mint: the server's answer is not JSON") {
		t.Errorf("garbage: %v", err)
	}
}
