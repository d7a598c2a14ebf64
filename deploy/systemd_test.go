package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unitFile maps "Section.Key" to its values in order (a key may repeat).
type unitFile map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section+"."+k] = append(u[section+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u unitFile) last(key string) string {
	v := u[key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

const unitPath = "systemd/coffer.service"

func TestSystemdUnitDirectives(t *testing.T) {
	u := parseUnit(t, unitPath)
	for key, want := range map[string]string{
		"User":                    "coffer",
		"Group":                   "coffer",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"ReadWritePaths":          "/var/lib/coffer",
		"StateDirectory":          "coffer",
		"StateDirectoryMode":      "0700",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"EnvironmentFile":         "/etc/coffer/coffer.env",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
	} {
		vals, ok := u["Service."+key]
		if !ok || vals[len(vals)-1] != want {
			t.Errorf("[Service] %s = %q, want %q", key, vals, want)
		}
	}
	if u.last("Service.DynamicUser") == "yes" {
		t.Error("DynamicUser=yes: the state directory must keep one owner")
	}
	if !slices.Contains(u["Service.SystemCallFilter"], "@system-service") {
		t.Errorf("SystemCallFilter %q lacks @system-service", u["Service.SystemCallFilter"])
	}
	start := strings.Fields(u.last("Service.ExecStart"))
	if len(start) < 4 || !filepath.IsAbs(start[0]) || start[1] != "server" || !slices.Contains(start, "--data-dir") ||
		start[slices.Index(start, "--data-dir")+1] != "/var/lib/coffer" {
		t.Errorf("ExecStart %q: want an absolute path running server --data-dir /var/lib/coffer", start)
	}
	if u.last("Install.WantedBy") != "multi-user.target" {
		t.Error("not wanted by multi-user.target")
	}
	// The sysusers.d line creates the user the unit runs as.
	data, err := os.ReadFile("systemd/coffer.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\nu coffer ") {
		t.Error("coffer.sysusers does not create the coffer user")
	}
}

// TestSystemdAnalyzeVerify runs systemd's own checker on the unit. It
// reports unknown or malformed directives as warnings with exit status 0,
// so any output about the file fails the test. The unit's ExecStart binary
// must exist for verify, so a copy points at a stand-in executable.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("COFFER_REQUIRE_SYSTEMD_ANALYZE") == "1" {
			t.Fatal("systemd-analyze not found, and COFFER_REQUIRE_SYSTEMD_ANALYZE=1")
		}
		t.Skip("systemd-analyze not found (apt-get install systemd); TestSystemdUnitDirectives checked the directives")
	}
	dir := t.TempDir()
	stand := filepath.Join(dir, "coffer")
	if err := os.WriteFile(stand, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	verify := func(name, unit string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		if err != nil {
			return string(out) + err.Error()
		}
		return string(out)
	}
	data, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(data), "/usr/local/bin/coffer", stand)
	if out := verify("coffer.service", unit); strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify %s:\n%s", unitPath, out)
	}
	// The check itself: a misspelt directive must produce output.
	bad := strings.Replace(unit, "ProtectHome=yes", "ProtectHomee=yes", 1)
	if out := verify("bad.service", bad); !strings.Contains(out, "ProtectHomee") {
		t.Errorf("systemd-analyze verify did not report a misspelt directive: %q", out)
	}
}
