package agent

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/pkg/secretcache"
)

// secretsFrom reads the given contents through a cache over a fake backend,
// the only way to build a secretcache.Secret outside its package.
func secretsFrom(t testing.TB, contents map[string]string) map[string]secretcache.Secret {
	t.Helper()
	b := newFake()
	c := secretcache.New(b, secretcache.Options{})
	defer c.Close()
	out := make(map[string]secretcache.Secret)
	for name, content := range contents {
		id := "ocid1.vaultsecret.oc1..t" + name
		b.put(id, content)
		s, err := c.Get(context.Background(), secretcache.ByID(id))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = s
	}
	return out
}

func render(t testing.TB, src string, have map[string]secretcache.Secret, declared ...string) (string, error) {
	t.Helper()
	if declared == nil {
		for n := range have {
			declared = append(declared, n)
		}
	}
	tp, err := ParseTemplate("test", src, declared)
	if err != nil {
		return "", err
	}
	out, err := tp.Render(func(n string) (secretcache.Secret, bool) { s, ok := have[n]; return s, ok })
	return string(out), err
}

const canary = "CANARY-7f3a9e1c-do-not-print"

func TestTemplateRender(t *testing.T) {
	have := secretsFrom(t, map[string]string{
		"db":   `{"user": "app", "password": "` + canary + `", "port": 5432, "hosts": ["a", "b"], "tls": {"on": true}, "none": null}`,
		"b64":  "aGVsbG8=",
		"raw":  "  padded\n",
		"url":  "aGk_Pz8", // unpadded URL-safe
		"text": canary,
	})
	tests := []struct {
		src, want string
	}{
		{`{{ secret "text" }}`, canary},
		{`P={{ secret "db" | jsonField "password" }}`, "P=" + canary},
		{`{{ secret "db" | jsonField "port" }}`, "5432"},
		{`{{ secret "db" | jsonField "hosts.1" }}`, "b"},
		{`{{ secret "db" | jsonField "hosts" }}`, `["a","b"]`},
		{`{{ secret "db" | jsonField "tls" }}`, `{"on":true}`},
		{`{{ secret "b64" | base64decode }}`, "hello"},
		{`{{ secret "url" | base64decode }}`, "hi???"},
		{`{{ "x" | base64encode }}`, "eA=="},
		{`[{{ secret "raw" | trimSpace }}]`, "[padded]"},
		{`{{ secretVersion "text" }}`, "1"},
		{`{{ if eq (secret "b64") "aGVsbG8=" }}yes{{ else }}no{{ end }}`, "yes"},
		{`{{ with $p := secret "text" }}{{ len $p }}{{ end }}`, "28"},
		{`{{ printf "%q" (secret "b64") }}`, `"aGVsbG8="`},
	}
	for _, tt := range tests {
		got, err := render(t, tt.src, have)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s = %q, want %q", tt.src, got, tt.want)
		}
	}
}

// TestTemplateErrorsWithholdContent renders templates that fail on a
// secret's value: the render is an error (never an empty file), and no
// error message quotes the content.
func TestTemplateErrorsWithholdContent(t *testing.T) {
	have := secretsFrom(t, map[string]string{
		"text": canary,
		"json": `{"a": "` + canary + `", "n": null}`,
		"bad":  `{"a": ` + canary,
	})
	tests := []struct {
		src  string
		want error // nil: any error
	}{
		{`{{ secret "missing" }}`, ErrSecretUnavailable},
		{`{{ secret "json" | base64decode }}`, nil},
		{`{{ secret "text" | jsonField "a" }}`, nil},
		{`{{ secret "bad" | jsonField "a" }}`, nil},
		{`{{ secret "json" | jsonField "b" }}`, nil},
		{`{{ secret "json" | jsonField "n" }}`, nil},
		{`{{ secret "json" | jsonField "a.b" }}`, nil},
		{`{{ index (secret "text") 100 }}`, nil},
		{`{{ slice (secret "text") 5 2 }}`, nil},
		{`{{ (secret "text").Field }}`, nil},
		{`{{ call (secret "text") }}`, nil},
		{`{{ eq (secret "text") 1 }}`, nil},
		{`{{ printf "%d" (secret "text") | len | not | and (secret "text") | index "x" }}`, nil},
		{`{{ template "x" }}`, nil},
		{`{{ define "x" }}{{ secret "text" }}{{ end }}`, nil},
		{`{{ range $i, $c := secret "text" }}{{ end }}`, nil},
		{`{{ secret }}`, nil},
		{`{{ secret "text" "json" }}`, nil},
		{`{{ "text" | secret }}`, nil},
		{`{{ $n := "text" }}{{ secret $n }}`, nil},
	}
	for _, tt := range tests {
		out, err := render(t, tt.src, have, "text", "json", "bad", "missing")
		if err == nil {
			t.Errorf("%s: rendered %q, want an error", tt.src, out)
			continue
		}
		t.Logf("%s: %v", tt.src, err)
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.src, err, tt.want)
		}
		if strings.Contains(err.Error(), "CANARY") || strings.Contains(err.Error(), "7f3a9e1c") {
			t.Errorf("%s: error quotes the secret: %v", tt.src, err)
		}
	}
}

func TestTemplateOutputLimit(t *testing.T) {
	have := secretsFrom(t, map[string]string{"big": strings.Repeat("x", 600<<10)})
	_, err := render(t, `{{ secret "big" }}{{ secret "big" }}`, have)
	var le *limitError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a limit error", err)
	}
}

// FuzzTemplate parses and renders arbitrary templates over fixed secrets:
// no panic, and no error that quotes a secret.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		`{{ secret "a" }}`, `{{ secret "a" | jsonField "k" }}`, `{{ secret "b" | base64decode }}`,
		`{{ if secret "a" }}{{ secretVersion "a" }}{{ end }}`, `{{ index (secret "a") 1 }}`,
		`{{ range 10 }}{{ end }}`, `{{ block "x" . }}{{ end }}`, `{{ with $x := secret "a" }}{{ $x }}{{ end }}`,
		`{{ printf "%v" (secret "a") }}`, `{{ slice (secret "a") 1 3 }}`, `{{ secret "c" }}`,
	} {
		f.Add(s)
	}
	have := secretsFrom(f, map[string]string{"a": `{"k": "` + canary + `"}`, "b": "Q0FOQVJZ"})
	f.Fuzz(func(t *testing.T, src string) {
		tp, err := ParseTemplate("fuzz", src, []string{"a", "b", "c"})
		if err != nil {
			return
		}
		out, err := tp.Render(func(n string) (secretcache.Secret, bool) { s, ok := have[n]; return s, ok })
		if err != nil {
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("error quotes the secret: %v", err)
			}
			if out != nil {
				t.Fatalf("output with an error")
			}
		}
	})
}
