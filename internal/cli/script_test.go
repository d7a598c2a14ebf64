package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/retry"
)

func TestMain(m *testing.M) {
	// Retries in tests back off for milliseconds, not seconds.
	defaultRetry = retry.Policy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
	testscript.Main(m, map[string]func(){
		"coffer": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs each testdata/*.txtar script against its own dev
// server. Scripts see:
//
//	OCI_CLI_CONFIG_FILE  the dev config (profile DEFAULT, the administrator)
//	COFFER_ENDPOINT      the server's main endpoint
//	TENANCY              the tenancy OCID (the root compartment)
//	USER                 the administrator's OCID
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := coffertest.Start(t, coffertest.Options{})
			tenancy, err := env.Provider.TenancyOCID()
			if err != nil {
				t.Fatal(err)
			}
			user, err := env.Provider.UserOCID()
			if err != nil {
				t.Fatal(err)
			}
			testscript.Run(t, testscript.Params{
				Files: []string{file},
				Setup: func(e *testscript.Env) error {
					e.Setenv("OCI_CLI_CONFIG_FILE", env.Server.ConfigPath)
					e.Setenv("COFFER_ENDPOINT", env.URL)
					e.Setenv("TENANCY", tenancy)
					e.Setenv("USER", user)
					return nil
				},
				Cmds: scriptCmds,
			})
		})
	}
}
