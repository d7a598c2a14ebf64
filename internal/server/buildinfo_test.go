package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/buildinfo"
	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/server"
)

// TestBuildInfo checks that a node says which binary it runs: in its first
// log line and as the coffer_build_info gauge.
func TestBuildInfo(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.MetricsListen = "127.0.0.1:0" }})
	info := buildinfo.Get()

	first, _, _ := strings.Cut(env.Logs.String(), "\n")
	for _, want := range []string{`"msg":"coffer starting"`, fmt.Sprintf(`"version":%q`, info.Version), fmt.Sprintf(`"go_version":%q`, info.GoVersion)} {
		if !strings.Contains(first, want) {
			t.Errorf("first log line %s lacks %s", first, want)
		}
	}

	resp, err := http.Get(env.Server.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := fmt.Sprintf(`coffer_build_info{goversion=%q,revision=%q,version=%q} 1`, info.GoVersion, info.Revision, info.Version)
	if !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s", want)
	}
}
