// Package softhsmtest gives tests a fresh SoftHSM2 token, so the PKCS#11
// backend and the servers that use it are tested against a real module.
package softhsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/coffer-vault/coffer/internal/keyprotect"
)

// Module is where Debian's softhsm2 package installs the module;
// COFFER_SOFTHSM_MODULE overrides it.
func Module() string {
	if m := os.Getenv("COFFER_SOFTHSM_MODULE"); m != "" {
		return m
	}
	return "/usr/lib/softhsm/libsofthsm2.so"
}

// Token makes a fresh SoftHSM2 token in t.TempDir() (SOFTHSM2_CONF is set
// for the test) and returns the config for it. Without SoftHSM2 the test
// skips, unless COFFER_REQUIRE_SOFTHSM=1 (CI), where it fails.
func Token(t *testing.T) keyprotect.HSMConfig {
	t.Helper()
	module := Module()
	util, err := exec.LookPath("softhsm2-util")
	_, modErr := os.Stat(module)
	if err != nil || modErr != nil {
		msg := "SoftHSM2 is not installed (need softhsm2-util and " + module + "; apt-get install -y softhsm2)"
		if os.Getenv("COFFER_REQUIRE_SOFTHSM") == "1" {
			t.Fatal(msg + ", and COFFER_REQUIRE_SOFTHSM=1")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", "coffer-test", "--pin", PIN, "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return keyprotect.HSMConfig{ModulePath: module, TokenLabel: "coffer-test", PIN: PIN}
}

// PIN is the user PIN of the tokens Token makes. Tests search their output
// for it, so it is a string no log line holds by chance (a short number
// turns up in ports and timestamps).
const PIN = "softhsm-test-pin-canary"
