package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/pkg/secretcache"
)

const (
	sid1  = "ocid1.vaultsecret.oc1..aaaa1"
	sid2  = "ocid1.vaultsecret.oc1..aaaa2"
	vault = "ocid1.vault.oc1..vvvv"
)

func TestCompileGood(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.tmpl"), []byte(`{{ secret "a" }}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse([]byte(`{
	  "endpoint": "http://127.0.0.1:8200",
	  "refresh_interval": "90s",
	  "jitter": 0,
	  "files": [
	    {"path": "raw.pem", "secret": {"id": "` + sid1 + `", "version": 3}},
	    {"path": "/abs/app.env", "mode": "640",
	     "secrets": {"a": {"vault_id": "` + vault + `", "name": "db", "stage": "latest"}, "b.c": {"id": "` + sid2 + `"}},
	     "template": "A={{ secret \"a\" }} B={{ secret \"b.c\" }}",
	     "on_change": {"signal": {"pid_file": "app.pid", "signal": "hup"}}},
	    {"path": "f", "secrets": {"a": {"id": "` + sid1 + `"}}, "template_file": "t.tmpl",
	     "on_change": {"command": ["/bin/true", "x"]}}
	  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.RefreshInterval != 90*time.Second || p.Jitter != 0 || p.ActionTimeout != DefaultActionTimeout || p.Auth.Type != AuthAPIKey {
		t.Errorf("plan defaults: %+v", p)
	}
	if got := p.Files[0]; got.Path != filepath.Join(dir, "raw.pem") || got.Mode != 0o600 || !got.raw ||
		got.Keys[""] != secretcache.ByID(sid1).AtVersion(3) {
		t.Errorf("raw file: %+v", got)
	}
	f := p.Files[1]
	if f.Path != "/abs/app.env" || f.Mode != 0o640 || f.raw || f.tmpl == nil {
		t.Errorf("template file: %+v", f)
	}
	if f.Keys["a"] != secretcache.ByName(vault, "db").AtStage(secretcache.StageLatest) ||
		f.Keys["b.c"] != secretcache.ByID(sid2).AtStage(secretcache.StageCurrent) {
		t.Errorf("keys: %v", f.Keys)
	}
	if f.Action.Signal.PidFile != filepath.Join(dir, "app.pid") {
		t.Errorf("pid file not resolved: %q", f.Action.Signal.PidFile)
	}
	if p.Files[2].tmpl == nil || p.Files[2].Action.Command[0] != "/bin/true" {
		t.Errorf("template_file: %+v", p.Files[2])
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	raw := func(extra string) string {
		return `{"files": [{"path": "x", "secret": {"id": "` + sid1 + `"}` + extra + `}]}`
	}
	tests := []struct {
		name, cfg, field string
	}{
		{"unknown top field", `{"file": []}`, ""},
		{"unknown nested field", `{"files": [{"path": "x", "secret": {"ocid": "x"}}]}`, ""},
		{"trailing data", raw("") + `{}`, ""},
		{"no files", `{"files": []}`, "files"},
		{"bad auth", `{"auth": {"type": "password"}, "files": [{"path": "x", "secret": {"id": "` + sid1 + `"}}]}`, "auth.type"},
		{"profile with principal", `{"auth": {"type": "instance_principal", "profile": "X"}, "files": [{"path": "x", "secret": {"id": "` + sid1 + `"}}]}`, "auth"},
		{"endpoint with path", `{"endpoint": "http://h:1/", "files": [{"path": "x", "secret": {"id": "` + sid1 + `"}}]}`, "endpoint"},
		{"endpoint no scheme", `{"endpoint": "h:1", "files": [{"path": "x", "secret": {"id": "` + sid1 + `"}}]}`, "endpoint"},
		{"short interval", `{"refresh_interval": "10ms", "files": [{"path": "x", "secret": {"id": "` + sid1 + `"}}]}`, "refresh_interval"},
		{"bad duration", `{"refresh_interval": "soon", "files": []}`, ""},
		{"duration type", `{"refresh_interval": 5, "files": []}`, ""},
		{"jitter", `{"jitter": 2, "files": [{"path": "x", "secret": {"id": "` + sid1 + `"}}]}`, "jitter"},
		{"type mismatch", `{"files": [{"path": 3}]}`, "files.path"},
		{"no path", `{"files": [{"secret": {"id": "` + sid1 + `"}}]}`, "files[0].path"},
		{"dir path", `{"files": [{"path": "d/", "secret": {"id": "` + sid1 + `"}}]}`, "files[0].path"},
		{"no source", `{"files": [{"path": "x"}]}`, "files[0]"},
		{"both sources", raw(`, "template": "x"`), "files[0]"},
		{"bad ocid", `{"files": [{"path": "x", "secret": {"id": "db"}}]}`, "files[0].secret.id"},
		{"id and name", `{"files": [{"path": "x", "secret": {"id": "` + sid1 + `", "name": "n"}}]}`, "files[0].secret"},
		{"name without vault", `{"files": [{"path": "x", "secret": {"name": "n"}}]}`, "files[0].secret.vault_id"},
		{"stage", `{"files": [{"path": "x", "secret": {"id": "` + sid1 + `", "stage": "NEWEST"}}]}`, "files[0].secret.stage"},
		{"stage and version", `{"files": [{"path": "x", "secret": {"id": "` + sid1 + `", "stage": "CURRENT", "version": 2}}]}`, "files[0].secret"},
		{"negative version", `{"files": [{"path": "x", "secret": {"id": "` + sid1 + `", "version": -2}}]}`, "files[0].secret.version"},
		{"mode not octal", raw(`, "mode": "rw-------"`), "files[0].mode"},
		{"mode setuid", raw(`, "mode": "4700"`), "files[0].mode"},
		{"mode unreadable", raw(`, "mode": "0200"`), "files[0].mode"},
		{"owner empty group", raw(`, "owner": "0:"`), "files[0].owner"},
		{"owner unknown user", raw(`, "owner": "no-such-user-coffer"`), "files[0].owner"},
		{"action empty", raw(`, "on_change": {}`), "files[0].on_change"},
		{"action both", raw(`, "on_change": {"command": ["x"], "signal": {"pid_file": "p", "signal": "HUP"}}`), "files[0].on_change"},
		{"action bad signal", raw(`, "on_change": {"signal": {"pid_file": "p", "signal": "KILL"}}`), "files[0].on_change.signal.signal"},
		{"action no pid file", raw(`, "on_change": {"signal": {"signal": "HUP"}}`), "files[0].on_change.signal.pid_file"},
		{"action empty program", raw(`, "on_change": {"command": [""]}`), "files[0].on_change.command[0]"},
		{"template without secrets", `{"files": [{"path": "x", "template": "hi"}]}`, "files[0].secrets"},
		{"template undeclared secret", `{"files": [{"path": "x", "secrets": {"a": {"id": "` + sid1 + `"}}, "template": "{{ secret \"b\" }}"}]}`, "files[0].template"},
		{"template syntax", `{"files": [{"path": "x", "secrets": {"a": {"id": "` + sid1 + `"}}, "template": "{{ secret \"a\" "}]}`, "files[0].template"},
		{"template range", `{"files": [{"path": "x", "secrets": {"a": {"id": "` + sid1 + `"}}, "template": "{{ range 3 }}x{{ end }}"}]}`, "files[0].template"},
		{"template file missing", `{"files": [{"path": "x", "secrets": {"a": {"id": "` + sid1 + `"}}, "template_file": "nope.tmpl"}]}`, "files[0].template_file"},
		{"secret name", `{"files": [{"path": "x", "secrets": {"1a": {"id": "` + sid1 + `"}}, "template": "x"}]}`, "files[0].secrets.1a"},
		{"duplicate path", `{"files": [{"path": "x", "secret": {"id": "` + sid1 + `"}}, {"path": "./x", "secret": {"id": "` + sid2 + `"}}]}`, "files[1].path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.cfg))
			if err == nil {
				_, err = Compile(cfg, t.TempDir())
			}
			if err == nil {
				t.Fatal("accepted")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			if ce.Field != tt.field {
				t.Errorf("field = %q, want %q (error: %v)", ce.Field, tt.field, err)
			}
			if tt.field != "" && !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("message %q does not name %s", err, tt.field)
			}
		})
	}
}

func TestParseOwner(t *testing.T) {
	tests := []struct {
		in       string
		uid, gid int
		ok       bool
	}{
		{"0:0", 0, 0, true},
		{"65534:65534", 65534, 65534, true},
		{"root", 0, 0, true},
		{"root:root", 0, 0, true},
		{"0", 0, 0, true},
		{"-1:0", 0, 0, false},
		{":0", 0, 0, false},
		{"root:no-such-group-coffer", 0, 0, false},
	}
	for _, tt := range tests {
		o, err := parseOwner(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseOwner(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (o.UID != tt.uid || o.GID != tt.gid) {
			t.Errorf("parseOwner(%q) = %+v", tt.in, o)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.json"))
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(p, []byte("{\n\"files\": [\n  {\"path\": \"x\",}\n]}"), 0o600)
	_, err = Load(p)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("syntax error should name its line: %v", err)
	}
}

// FuzzConfig feeds arbitrary bytes to the parser and compiler: no panic,
// and an accepted configuration satisfies the plan's invariants.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"files": [{"path": "x", "secret": {"id": "` + sid1 + `"}}]}`))
	f.Add([]byte(`{"auth": {"type": "resource_principal"}, "endpoint": "https://h", "refresh_interval": "1m", "jitter": 0.2,
	  "files": [{"path": "a", "mode": "0640", "owner": "0:0", "secrets": {"a": {"vault_id": "` + vault + `", "name": "n", "version_name": "v"}},
	  "template": "{{ secret \"a\" | jsonField \"x.0\" | base64decode }}", "on_change": {"signal": {"pid_file": "p", "signal": "USR1"}}}]}`))
	f.Add([]byte(`{"files": [{"path": "x", "secrets": {"a": {"id": "` + sid1 + `"}}, "template": "{{ if secret \"a\" }}{{ end }}"}]}`))
	f.Add([]byte(`{"files": [{}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"files": [{"path": "x", "secret": {"id": "` + sid1 + `"}, "on_change": {"command": ["a", "b"]}}]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("parse error is not a *ConfigError: %v", err)
			}
			return
		}
		p, err := Compile(cfg, dir)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("compile error is not a *ConfigError: %v", err)
			}
			return
		}
		if len(p.Files) == 0 || p.RefreshInterval < MinRefreshInterval || p.Jitter < 0 || p.Jitter > 0.5 {
			t.Fatalf("bad plan: %+v", p)
		}
		for _, fp := range p.Files {
			if !filepath.IsAbs(fp.Path) || fp.Mode&0o400 == 0 || fp.Mode&^0o777 != 0 || len(fp.Keys) == 0 || fp.raw == (fp.tmpl != nil) {
				t.Fatalf("bad file plan: %+v", fp)
			}
		}
	})
}

func TestTemplateFileMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no mkfifo:", err)
	}
	for _, p := range []string{fifo, dir} {
		cfg, err := Parse([]byte(`{"files": [{"path": "x", "secrets": {"a": {"id": "` + sid1 + `"}}, "template_file": "` + p + `"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(cfg, dir)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "files[0].template_file" {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestLoadMissingFileSaysPathOnce: the error names the file once, with the
// step that failed.
func TestLoadMissingFileSaysPathOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.json")
	_, err := Load(path)
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load = %v, want a ConfigError for a missing file", err)
	}
	if want := "agent config: open " + path + ": no such file or directory"; err.Error() != want {
		t.Errorf("Load = %q, want %q", err, want)
	}
}
