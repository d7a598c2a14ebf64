package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type composeService struct {
	Image       string            `yaml:"image"`
	EnvFile     []string          `yaml:"env_file"`
	Environment map[string]string `yaml:"environment"`
	Command     []string          `yaml:"command"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Volumes  []string `yaml:"volumes"`
	ReadOnly bool     `yaml:"read_only"`
	CapDrop  []string `yaml:"cap_drop"`
}

func TestCompose(t *testing.T) {
	path := filepath.Join("compose", "compose.yaml")
	// The x-coffer anchor is merged into each node (<<: *coffer), which
	// the YAML decoder resolves as compose does.
	doc := decodeAll[struct {
		Services map[string]composeService `yaml:"services"`
		Volumes  map[string]any            `yaml:"volumes"`
	}](t, path)[0]

	pg, ok := doc.Services["postgres"]
	if !ok || pg.Healthcheck == nil {
		t.Fatal("no postgres service with a healthcheck")
	}
	nodes := 0
	for name, s := range doc.Services {
		if !strings.HasPrefix(name, "coffer") {
			continue
		}
		nodes++
		if s.DependsOn["postgres"].Condition != "service_healthy" {
			t.Errorf("%s does not wait for a healthy postgres", name)
		}
		if s.Healthcheck == nil || !slices.Equal(s.Healthcheck.Test[:3], []string{"CMD", "coffer", "healthcheck"}) {
			t.Errorf("%s: healthcheck %+v: want the binary's own", name, s.Healthcheck)
		}
		if !slices.Contains(s.EnvFile, "coffer.env") {
			t.Errorf("%s does not read the unseal key from coffer.env", name)
		}
		// Secrets come from the env files, never from this file.
		for k, v := range s.Environment {
			if k == "COFFER_UNSEAL_KEY" || k == "PGPASSWORD" || strings.Contains(v, "password") {
				t.Errorf("%s: %s is set in compose.yaml, not in an env file", name, k)
			}
		}
		if !strings.HasPrefix(s.Environment["COFFER_DATABASE_URL"], "postgres://") || !strings.Contains(s.Environment["COFFER_DATABASE_URL"], "@postgres:") {
			t.Errorf("%s: COFFER_DATABASE_URL %q does not point at the postgres service", name, s.Environment["COFFER_DATABASE_URL"])
		}
		if len(s.Command) == 0 || s.Command[0] != "server" || !slices.Contains(s.Command, "/var/lib/coffer") {
			t.Errorf("%s: command %q", name, s.Command)
		}
		if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/var/lib/coffer") }) {
			t.Errorf("%s: no volume on /var/lib/coffer", name)
		}
		if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) {
			t.Errorf("%s: want read_only and cap_drop ALL", name)
		}
		for _, v := range s.Volumes {
			if vol, _, ok := strings.Cut(v, ":"); ok && !strings.HasPrefix(vol, ".") {
				if _, declared := doc.Volumes[vol]; !declared {
					t.Errorf("%s: volume %s is not declared", name, vol)
				}
			}
		}
	}
	if nodes != 2 {
		t.Errorf("%d Coffer nodes, want 2", nodes)
	}
	// The example env files name every variable the services read.
	for file, vars := range map[string][]string{"coffer.env.example": {"COFFER_UNSEAL_KEY="}, "postgres.env.example": {"POSTGRES_PASSWORD=", "PGPASSWORD="}} {
		data, err := os.ReadFile(filepath.Join("compose", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vars {
			if !strings.Contains(string(data), "\n"+v) {
				t.Errorf("%s lacks %s", file, v)
			}
		}
	}
}
