package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/coffertest"
)

// run runs the CLI in-process with the given environment.
func run(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// Every command has an example in --help: walk the whole tree.
func TestEveryCommandHasAnExample(t *testing.T) {
	root := NewRoot(nil, &bytes.Buffer{}, &bytes.Buffer{})
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		n++
		if c != root && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 80 {
		t.Fatalf("walked only %d commands", n)
	}
}

// Every runnable client command is reachable with --help without a
// config file, a server or an SDK client: the tree builds nothing.
func TestHelpNeedsNoConfiguration(t *testing.T) {
	env := map[string]string{envConfigFile: filepath.Join(t.TempDir(), "missing"), envEndpoint: "http://127.0.0.1:1"}
	for _, args := range [][]string{
		{"kms", "management", "key", "create", "--help"},
		{"vault", "secret", "create-base64", "--help"},
		{"secrets", "secret-bundle", "get", "--help"},
		{"iam", "policy", "create", "--help"},
	} {
		out, errOut, code := run(t, env, "", args...)
		if code != 0 || !strings.Contains(out, "Examples:") || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// The 404 advice prints a `coffer iam explain` command line: every
// option it may use must be an option of coffer iam explain.
func TestExplainAdviceUsesExplainOptions(t *testing.T) {
	root := NewRoot(nil, &bytes.Buffer{}, &bytes.Buffer{})
	explain, _, err := root.Find([]string{"iam", "explain"})
	if err != nil || explain.Name() != "explain" {
		t.Fatalf("coffer iam explain: %v", err)
	}
	flags := []string{"--user", "--operation", "--compartment-id"}
	for _, target := range explainTargets {
		flags = append(flags, target.explain)
	}
	for _, f := range flags {
		if explain.Flags().Lookup(strings.TrimPrefix(f, "--")) == nil {
			t.Errorf("the 404 advice uses %s, which coffer iam explain does not take", f)
		}
	}
}

func TestKebab(t *testing.T) {
	for in, want := range map[string]string{
		"lifecycleState":                "lifecycle-state",
		"id":                            "id",
		"wrappingkeyId":                 "wrappingkey-id",
		"isMfaActivated":                "is-mfa-activated",
		"canUseDBCredentials":           "can-use-db-credentials",
		"canUseOAuth2ClientCredentials": "can-use-o-auth2-client-credentials",
		"secretBundleContent":           "secret-bundle-content",
		"opcNextPage":                   "opc-next-page",
		"keyVersionId":                  "key-version-id",
		"versionNumber":                 "version-number",
		"timeOfDeletion":                "time-of-deletion",
	} {
		if got := kebab(in); got != want {
			t.Errorf("kebab(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKebabKeysLeavesUserDataAlone(t *testing.T) {
	doc, err := response{data: map[string]any{
		"displayName":  "x",
		"freeformTags": map[string]any{"costCenter": "42"},
		"metadata":     map[string]any{"ownerTeam": "a"},
		"keyShape":     map[string]any{"curveId": "NIST_P256"},
	}}.document()
	if err != nil {
		t.Fatal(err)
	}
	d := doc["data"].(map[string]any)
	if d["display-name"] != "x" || d["freeform-tags"].(map[string]any)["costCenter"] != "42" ||
		d["metadata"].(map[string]any)["ownerTeam"] != "a" || d["key-shape"].(map[string]any)["curve-id"] != "NIST_P256" {
		t.Fatalf("converted document: %v", d)
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2030-01-31T12:00:00Z", time.Date(2030, 1, 31, 12, 0, 0, 0, time.UTC), true},
		{"2030-01-31T14:00:00+02:00", time.Date(2030, 1, 31, 12, 0, 0, 0, time.UTC), true},
		{"2030-01-31", time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC), true},
		{"2030-01-31T12:00:00", time.Date(2030, 1, 31, 12, 0, 0, 0, time.UTC), true},
		{"tomorrow", time.Time{}, false},
		{"", time.Time{}, false},
		{"2030-13-01", time.Time{}, false},
	} {
		got, err := parseTime("t", tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseTime(%q) error %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && !got.Time.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, want %v", tc.in, got.Time, tc.want)
		}
	}
}

func TestTable(t *testing.T) {
	got := table([]any{
		map[string]any{"name": "a", "n": float64(1)},
		map[string]any{"name": "bb", "tags": map[string]any{"k": "v"}},
	}, 0)
	want := `+---+------+-----------+
| n | name | tags      |
+---+------+-----------+
| 1 | a    |           |
|   | bb   | {"k":"v"} |
+---+------+-----------+
`
	if got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
	if table([]any{}, 0) != "" {
		t.Fatal("empty list gives a table")
	}
}

// A server that answers 503 is retried with backoff, then reported with
// the request id and the number of attempts; a 400 is not retried.
func TestRetriesThenReportsRequestID(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	tenancy, _ := env.Provider.TenancyOCID()
	var calls atomic.Int32
	status := atomic.Int32{}
	status.Store(http.StatusServiceUnavailable)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("opc-request-id", "req-42")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(status.Load()))
		w.Write([]byte(`{"code":"ServiceUnavailable","message":"try later"}`))
	}))
	defer fake.Close()
	vars := map[string]string{envConfigFile: env.Server.ConfigPath, envEndpoint: fake.URL}

	_, errOut, code := run(t, vars, "", "kms", "management", "vault", "list", "-c", tenancy, "--max-retries", "3")
	if code != exitService || calls.Load() != 4 {
		t.Fatalf("503: exit %d after %d calls, want 1 after 4\n%s", code, calls.Load(), errOut)
	}
	for _, want := range []string{`"opc-request-id": "req-42"`, `"status": 503`, `"attempts": 4`, "tried 4 time(s) with exponential backoff"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	calls.Store(0)
	_, _, code = run(t, vars, "", "kms", "management", "vault", "list", "-c", tenancy, "--no-retry")
	if code != exitService || calls.Load() != 1 {
		t.Fatalf("--no-retry: exit %d after %d calls", code, calls.Load())
	}

	calls.Store(0)
	status.Store(http.StatusTooManyRequests)
	_, _, code = run(t, vars, "", "kms", "management", "vault", "list", "-c", tenancy)
	if code != exitService || calls.Load() != 5 {
		t.Fatalf("429: exit %d after %d calls, want the default 5 attempts", code, calls.Load())
	}

	calls.Store(0)
	status.Store(http.StatusBadRequest)
	_, _, code = run(t, vars, "", "kms", "management", "vault", "list", "-c", tenancy)
	if code != exitService || calls.Load() != 1 {
		t.Fatalf("400: exit %d after %d calls, want no retry", code, calls.Load())
	}
}

// A 401 names the checks in order: config, uploaded key, clock.
func TestUnauthorizedAdvice(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	tenancy, _ := env.Provider.TenancyOCID()
	cfg, err := os.ReadFile(env.Server.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	// The same profile with a fingerprint the server does not know.
	var lines []string
	for _, l := range strings.Split(string(cfg), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "fingerprint") {
			l = "fingerprint=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"
		}
		lines = append(lines, l)
	}
	bad := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, map[string]string{envConfigFile: bad, envEndpoint: env.URL}, "", "kms", "management", "vault", "list", "-c", tenancy)
	if code != exitService {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{`"status": 401`, "the config file and profile in use", "API key uploaded", "the clock"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestConfigSelection(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	tenancy, _ := env.Provider.TenancyOCID()
	cfg, err := os.ReadFile(env.Server.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	// A second profile, selected by OCI_CLI_PROFILE or --profile.
	two := filepath.Join(t.TempDir(), "config")
	content := strings.Replace(string(cfg), "[DEFAULT]", "[OTHER]", 1)
	if err := os.WriteFile(two, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	list := []string{"kms", "management", "vault", "list", "-c", tenancy}

	_, errOut, code := run(t, map[string]string{envConfigFile: two, envEndpoint: env.URL, envProfile: ""}, "", list...)
	if code != exitService || !strings.Contains(errOut, "has no profile [DEFAULT]") {
		t.Fatalf("default profile missing: exit %d\n%s", code, errOut)
	}
	if _, errOut, code = run(t, map[string]string{envProfile: "OTHER"}, "", list...); code != 0 {
		t.Fatalf("OCI_CLI_PROFILE=OTHER: exit %d\n%s", code, errOut)
	}
	if _, errOut, code = run(t, map[string]string{envProfile: ""}, "", append(list, "--profile", "OTHER")...); code != 0 {
		t.Fatalf("--profile OTHER: exit %d\n%s", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	_, errOut, code = run(t, nil, "", append(list, "--config-file", missing)...)
	if code != exitService || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("missing config: exit %d\n%s", code, errOut)
	}
	_, errOut, code = run(t, nil, "", append(list, "--auth", "password")...)
	if code != exitUsage || !strings.Contains(errOut, "--auth must be one of") {
		t.Fatalf("bad --auth: exit %d\n%s", code, errOut)
	}
}

// --wait-for-state backs off between checks and stops at the deadline,
// on the injected clock.
func TestWaitBacksOffAndTimesOut(t *testing.T) {
	now := time.Unix(0, 0)
	var sleeps []time.Duration
	g := newGlobals()
	g.now = func() time.Time { return now }
	g.sleep = func(_ context.Context, d time.Duration) error {
		sleeps = append(sleeps, d)
		now = now.Add(d)
		return nil
	}
	w := &waitFlags{states: []string{"active"}, maxWait: 20, intervalMx: 4}
	gets := 0
	_, err := wait(context.Background(), g, w, "CREATING", func(s string) string { return s },
		func(context.Context) (string, error) { gets++; return "CREATING", nil })
	if _, ok := err.(*waitError); !ok {
		t.Fatalf("err = %v, want a waitError", err)
	}
	want := []time.Duration{1, 2, 4, 4, 4, 4, 1}
	if len(sleeps) != len(want) {
		t.Fatalf("sleeps %v", sleeps)
	}
	for i := range want {
		if sleeps[i] != want[i]*time.Second {
			t.Fatalf("sleeps %v, want %v seconds", sleeps, want)
		}
	}
	gets = 0
	got, err := wait(context.Background(), g, w, "CREATING", func(s string) string { return s },
		func(context.Context) (string, error) { gets++; return "ACTIVE", nil })
	if err != nil || got != "ACTIVE" || gets != 1 {
		t.Fatalf("wait = %q, %v after %d gets", got, err, gets)
	}
}

// sensitiveInput takes raw bytes from a file or stdin, base64 from argv
// with a warning.
func TestSensitiveInput(t *testing.T) {
	mk := func(stdin string) (*cobra.Command, *bytes.Buffer) {
		var errb bytes.Buffer
		c := &cobra.Command{}
		c.Flags().String("secret-content-content", "", "")
		c.Flags().String("secret-content-file", "", "")
		c.SetIn(strings.NewReader(stdin))
		c.SetErr(&errb)
		return c, &errb
	}
	c, errb := mk("raw\x00bytes\n")
	_ = c.Flags().Set("secret-content-file", "-")
	got, err := sensitiveInput(c, "secret-content-content", "", "secret-content-file", "-")
	if err != nil || got != base64.StdEncoding.EncodeToString([]byte("raw\x00bytes\n")) || errb.Len() != 0 {
		t.Fatalf("stdin: %q %v %q", got, err, errb)
	}
	c, errb = mk("")
	_ = c.Flags().Set("secret-content-content", "aGk=")
	got, err = sensitiveInput(c, "secret-content-content", "aGk=", "secret-content-file", "")
	if err != nil || got != "aGk=" || !strings.Contains(errb.String(), "Warning") {
		t.Fatalf("argv: %q %v %q", got, err, errb)
	}
}

func FuzzKebab(f *testing.F) {
	for _, s := range []string{"lifecycleState", "canUseDBCredentials", "", "A", "aB", "ÄÖü", "x_y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := kebab(s)
		if strings.ContainsFunc(k, func(r rune) bool { return r == '_' }) {
			t.Fatalf("kebab(%q) = %q keeps an underscore", s, k)
		}
		if kebab(k) != k {
			t.Fatalf("kebab is not idempotent on %q: %q then %q", s, k, kebab(k))
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2030-01-31", "2030-01-31T12:00:00Z", "2030-01-31T12:00", "garbage", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime("t", s)
		if err == nil && got.Location() != time.UTC {
			t.Fatalf("parseTime(%q) is not UTC", s)
		}
	})
}

func FuzzParseJSONArg(f *testing.F) {
	for _, s := range []string{`{"algorithm":"AES","length":32}`, `{"x":1}`, `[`, `{} {}`, `file://`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.HasPrefix(s, "file://") {
			return // reads local files; covered by the scripts
		}
		var m map[string]any
		_ = parseJSONArg("x", s, &m)
	})
}
