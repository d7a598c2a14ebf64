package ociapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-vault/coffer/internal/errs"
)

func TestCheckBackupURIPrefix(t *testing.T) {
	for p, ok := range map[string]bool{
		"https://objectstorage.example.com/p/": true,
		"http://127.0.0.1:9000/b/":             true,
		"https://objectstorage.example.com":    false,
		"https://h/a":                          false,
		"ftp://h/":                             false,
		"https://u:p@h/":                       false,
		"https://h/?x=1":                       false,
		"/relative/":                           false,
	} {
		if err := CheckBackupURIPrefix(p); (err == nil) != ok {
			t.Errorf("CheckBackupURIPrefix(%q) = %v, want ok %t", p, err, ok)
		}
	}
}

func TestBackupUploaderAllowList(t *testing.T) {
	u := &BackupUploader{Prefixes: []string{"https://os.example.com/p/abc/"}}
	for uri, ok := range map[string]bool{
		"https://os.example.com/p/abc/o/backup":   true,
		"https://OS.example.com/p/abc/o/backup":   true,
		"https://os.example.com/p/abcd/o":         false,
		"https://os.example.com.evil.com/p/abc/o": false,
		"http://os.example.com/p/abc/o":           false,
		"https://os.example.com:8443/p/abc/o":     false,
		"https://x@os.example.com/p/abc/o":        false,
		"https://os.example.com/p/abc/../../etc":  false,
		"https://os.example.com/p/abc/%2e%2e/x":   false,
		"https://os.example.com/p/abc/o#f":        false,
		"https://169.254.169.254/p/abc/o":         false,
		"https://os.example.com/p/ab":             false,
		"\x00https://os.example.com/p/abc/o":      false,
	} {
		if _, got := u.allowed(uri); got != ok {
			t.Errorf("allowed(%q) = %t, want %t", uri, got, ok)
		}
	}
}

func TestBackupUploaderNoRedirect(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	u := &BackupUploader{Prefixes: []string{redirect.URL + "/"}}
	err := u.Upload(context.Background(), redirect.URL+"/o", []byte("blob"))
	if !errs.Is(err, errs.Invalid) || hits.Load() != 0 {
		t.Fatalf("redirected upload: %v, %d hits on the redirect target", err, hits.Load())
	}
	if err := (&BackupUploader{}).Upload(context.Background(), redirect.URL+"/o", nil); !errs.Is(err, errs.Invalid) || !strings.Contains(errs.Message(err), BackupURIPrefixFlag) {
		t.Errorf("no prefixes: %v", err)
	}
}

// FuzzBackupURIAllowed: an allowed URI is always on the prefix's scheme and
// host, under its path, with no user info.
func FuzzBackupURIAllowed(f *testing.F) {
	const prefix = "https://os.example.com/p/abc/"
	u := &BackupUploader{Prefixes: []string{prefix}}
	for _, s := range []string{prefix + "o", "https://os.example.com/p/abc/../x", "https://a@os.example.com/p/abc/", "https://os.example.com\\@evil/p/abc/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		got, ok := u.allowed(uri)
		if !ok {
			return
		}
		again, err := url.Parse(got.String())
		if err != nil || !strings.EqualFold(again.Host, "os.example.com") || again.Scheme != "https" || again.User != nil ||
			!strings.HasPrefix(again.EscapedPath(), "/p/abc/") || dotDot(again.Path) || dotDot(again.EscapedPath()) {
			t.Fatalf("allowed %q -> %q", uri, got.String())
		}
	})
}
