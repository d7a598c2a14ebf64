package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/devmode"
	"github.com/coffer-vault/coffer/internal/server"
)

func runOperatorCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestOperatorCommands drives a --seal shamir server through the CLI:
// status (exit 2 while sealed), init writing share files, unseal from
// standard input, rotate and seal as the administrator.
func TestOperatorCommands(t *testing.T) {
	dir := coffertest.DataDir(t)
	logs := &coffertest.SyncBuffer{}
	srv, err := server.Start(context.Background(), server.Config{DataDir: dir, Listen: "127.0.0.1:0", Seal: "shamir",
		Log: slog.New(slog.NewJSONHandler(logs, nil)), Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	ep := []string{"--endpoint", srv.URL()}
	op := func(stdin string, args ...string) (int, string, string) {
		return runOperatorCLI(t, stdin, append(append([]string{"operator"}, args...), ep...)...)
	}
	if code, out, _ := op("", "status"); code != exitSealed || !strings.Contains(out, "Initialized:  false") {
		t.Fatalf("status before init: %d %s", code, out)
	}
	if code, _, _ := op("", "init", "--shares", "3"); code != exitUsage {
		t.Fatalf("init without threshold: %d", code)
	}
	shareDir := t.TempDir()
	code, out, errOut := op("", "init", "--shares", "3", "--threshold", "2", "--share-dir", shareDir)
	if code != 0 || !strings.Contains(out, "share-3") {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	share := func(i string) string {
		p := filepath.Join(shareDir, "share-"+i)
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("share file %s: %v %v", p, fi, err)
		}
		b, _ := os.ReadFile(p)
		return string(b)
	}
	if code, out, errOut := op("", "init", "--shares", "3", "--threshold", "2"); code != 1 || !strings.Contains(errOut, "IncorrectState") {
		t.Fatalf("second init: %d %s %s", code, out, errOut)
	}
	if code, _, _ := op("", "unseal"); code != exitUsage {
		t.Fatalf("unseal with no share: %d", code)
	}
	if code, out, _ := op(share("3"), "unseal"); code != 0 || !strings.Contains(out, "Progress:     1/2") || strings.Contains(out, "OCI config") {
		t.Fatalf("first share: %d %s", code, out)
	}
	// The unseal that created the tenancy says where its administrator's
	// config is.
	wantCfg := "written on the server to " + filepath.Join(dir, devmode.OCIDir, devmode.ConfigFile) + "\n"
	if code, out, _ := op(share("1"), "unseal"); code != 0 || !strings.Contains(out, "Sealed:       false") || !strings.Contains(out, wantCfg) {
		t.Fatalf("second share: %d %s", code, out)
	}
	if code, out, _ := op("", "status"); code != 0 || !strings.Contains(out, "Sealed:       false") {
		t.Fatalf("status unsealed: %d %s", code, out)
	}
	cfgFile := filepath.Join(dir, devmode.OCIDir, devmode.ConfigFile)
	if code, out, errOut := op("", "rotate", "--config-file", cfgFile); code != 0 || !strings.Contains(out, "term 2") {
		t.Fatalf("rotate: %d %s %s", code, out, errOut)
	}

	// Rekey 3/2 -> 2/2: start, cancel, start again, two current shares
	// from standard input, the new shares written to files.
	if code, _, _ := op("", "rekey", "--shares", "2", "--config-file", cfgFile); code != exitUsage {
		t.Fatalf("rekey without threshold: %d", code)
	}
	if code, out, errOut := op("", "rekey", "--shares", "2", "--threshold", "2", "--config-file", cfgFile); code != 0 || !strings.Contains(out, "Progress:       0/2") {
		t.Fatalf("rekey start: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := op("", "rekey", "--cancel", "--config-file", cfgFile); code != 0 || !strings.Contains(out, "No rekey") {
		t.Fatalf("rekey cancel: %d %s %s", code, out, errOut)
	}
	// The same start, signed within the same second as the first, would be
	// one signed request to the server, refused as a replay.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	_, out, _ = op("", "rekey", "--shares", "2", "--threshold", "2", "--config-file", cfgFile)
	nonce := ""
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "Nonce:"); ok {
			nonce = strings.TrimSpace(v)
		}
	}
	if code, _, _ := op("", "rekey", "--nonce", nonce, "--config-file", cfgFile); code != exitUsage {
		t.Fatalf("rekey share from empty stdin: %d", code)
	}
	if code, out, errOut := op(share("2"), "rekey", "--nonce", nonce, "--config-file", cfgFile); code != 0 || !strings.Contains(out, "1/2") {
		t.Fatalf("rekey share 1: %d %s %s", code, out, errOut)
	}
	newDir := t.TempDir()
	if code, out, errOut := op(share("3"), "rekey", "--nonce", nonce, "--config-file", cfgFile, "--share-dir", newDir); code != 0 || !strings.Contains(out, "Rekey complete") {
		t.Fatalf("rekey share 2: %d %s %s", code, out, errOut)
	}
	newShare := func(i string) string {
		b, err := os.ReadFile(filepath.Join(newDir, "share-"+i))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if code, out, _ := op("", "status"); code != 0 || !strings.Contains(out, "Shares:       2") {
		t.Fatalf("status after rekey: %d %s", code, out)
	}

	if code, out, errOut := op("", "seal", "--config-file", cfgFile); code != 0 || !srv.Sealed() {
		t.Fatalf("seal: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := op("", "rotate", "--config-file", cfgFile, "--no-retry"); code == 0 || !strings.Contains(errOut, "503") && !strings.Contains(errOut, "ServiceUnavailable") {
		t.Fatalf("rotate while sealed: %d %s", code, errOut)
	}
	op(share("1"), "unseal")
	if code, _, errOut := op(share("2"), "unseal"); code == 0 || !strings.Contains(errOut, "do not rebuild") {
		t.Fatalf("old shares after rekey: %d %s", code, errOut)
	}
	op(newShare("2"), "unseal")
	if code, out, _ := op(newShare("1"), "unseal"); code != 0 || !strings.Contains(out, "Sealed:       false") {
		t.Fatalf("new shares: %d %s", code, out)
	}
	for _, s := range []string{share("1"), share("2"), share("3"), newShare("1"), newShare("2")} {
		if strings.Contains(logs.String(), strings.TrimSpace(s)) {
			t.Fatal("a share appears in the server log")
		}
	}
}

// TestRekeyFile: the offline rekey moves a key-file data directory to a
// new key; the old key no longer opens it and the new one does.
func TestRekeyFile(t *testing.T) {
	dir := coffertest.DataDir(t)
	env := coffertest.Start(t, coffertest.Options{DataDir: dir})
	env.Stop()
	oldKey := filepath.Join(dir, devmode.UnsealKeyFile)
	newKey := filepath.Join(t.TempDir(), "new.key")
	code, out, errOut := runOperatorCLI(t, "", "operator", "rekey-file", "--data-dir", dir, "--unseal-key-file", oldKey, "--new-key-file", newKey)
	if code != 0 || !strings.Contains(out, newKey) {
		t.Fatalf("rekey-file: %d %s %s", code, out, errOut)
	}
	if fi, err := os.Stat(newKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new key file: %v %v", fi, err)
	}
	// Again with the old key: refused, and the new file is not touched.
	if code, _, errOut := runOperatorCLI(t, "", "operator", "rekey-file", "--data-dir", dir, "--unseal-key-file", oldKey, "--new-key-file", newKey+"2"); code == 0 || !strings.Contains(errOut, "root key") {
		t.Fatalf("rekey with the old key: %d %s", code, errOut)
	}
	start := func(keyFile string) error {
		srv, err := server.Start(context.Background(), server.Config{DataDir: dir, Listen: "127.0.0.1:0", UnsealKeyFile: keyFile,
			Log: slog.New(slog.DiscardHandler), Out: io.Discard})
		if err == nil {
			_ = srv.Close(context.Background())
		}
		return err
	}
	if err := start(oldKey); err == nil {
		t.Fatal("the old key still opens the data directory")
	}
	if err := start(newKey); err != nil {
		t.Fatalf("the new key does not open the data directory: %v", err)
	}
}

// TestPrintShares pins the two forms init and rekey show new shares in:
// printed with their label, or written to share-N files (0600) with a
// line saying where each went.
func TestPrintShares(t *testing.T) {
	var out strings.Builder
	if err := printShares(&out, "New share", []string{"s1", "s2"}, ""); err != nil {
		t.Fatal(err)
	}
	if want := "New share 1: s1\nNew share 2: s2\n"; out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}

	dir := t.TempDir()
	out.Reset()
	if err := printShares(&out, "Share", []string{"s1", "s2"}, dir); err != nil {
		t.Fatal(err)
	}
	want := "Share 1 written to " + filepath.Join(dir, "share-1") + "\nShare 2 written to " + filepath.Join(dir, "share-2") + "\n"
	if out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
	for i, s := range []string{"s1", "s2"} {
		p := filepath.Join(dir, "share-"+strconv.Itoa(i+1))
		b, err := os.ReadFile(p)
		if err != nil || string(b) != s+"\n" {
			t.Fatalf("%s: %q %v", p, b, err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode: %v %v", p, fi, err)
		}
	}

	// A file that cannot be written stops the list; the shares written
	// before it are still named.
	out.Reset()
	if err := os.Mkdir(filepath.Join(dir, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "x", "share-2"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := printShares(&out, "Share", []string{"s1", "s2"}, filepath.Join(dir, "x")); err == nil {
		t.Fatal("no error writing over a directory")
	}
	if want := "Share 1 written to " + filepath.Join(dir, "x", "share-1") + "\n"; out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
}
