//go:build cgo

package pkcs11hsm_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm"
	"github.com/coffer-vault/coffer/internal/keyprotect/protecttest"
)

const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// softHSM makes a fresh SoftHSM2 token in t.TempDir() and returns the
// config for it. Without SoftHSM2 the test skips, unless
// COFFER_REQUIRE_SOFTHSM=1 (CI), where it fails.
func softHSM(t *testing.T) keyprotect.HSMConfig {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	_, modErr := os.Stat(softHSMModule)
	if err != nil || modErr != nil {
		msg := "SoftHSM2 is not installed (need softhsm2-util and " + softHSMModule + "; apt-get install -y softhsm2)"
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
	out, err := exec.Command(util, "--init-token", "--free", "--label", "coffer-test", "--pin", "1234", "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return keyprotect.HSMConfig{ModulePath: softHSMModule, TokenLabel: "coffer-test", PIN: "1234"}
}

func newHSM(t *testing.T) *pkcs11hsm.Protection {
	t.Helper()
	p, err := pkcs11hsm.New(softHSM(t))
	if err != nil {
		t.Fatalf("pkcs11hsm.New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func TestConformanceSoftHSM(t *testing.T) {
	protecttest.Run(t, func(t *testing.T) keyprotect.Protection { return newHSM(t) })
}

func TestDestroyDeletesTokenObjects(t *testing.T) {
	p := newHSM(t)
	ctx := context.Background()
	for _, shape := range []keyprotect.Shape{
		{Algorithm: keyprotect.AES, Length: 32},
		{Algorithm: keyprotect.RSA, Length: 256},
		{Algorithm: keyprotect.ECDSA, Length: 32, CurveID: keyprotect.NISTP256},
	} {
		m, err := p.Generate(ctx, "ocid1.keyversion.destroy", shape)
		if err != nil {
			t.Fatal(err)
		}
		v := keyprotect.Version{ID: "ocid1.keyversion.destroy", Shape: shape, Blob: m.Blob}
		if _, err := keyprotect.Open(ctx, p, v); err != nil {
			t.Fatal(err)
		}
		if err := p.Destroy(ctx, v); err != nil {
			t.Fatal(err)
		}
		if _, err := keyprotect.Open(ctx, p, v); !errors.Is(err, keyprotect.ErrMaterialNotFound) {
			t.Errorf("%s: Open after Destroy = %v, want ErrMaterialNotFound", shape, err)
		}
	}
}

func TestNotExportable(t *testing.T) {
	p := newHSM(t)
	if _, ok := any(p).(keyprotect.Exporter); ok {
		t.Fatal("HSM protection is an Exporter")
	}
	if keyprotect.IsEmulated(p) {
		t.Fatal("real HSM claims to be emulated")
	}
}

func TestMissingModule(t *testing.T) {
	_, err := pkcs11hsm.New(keyprotect.HSMConfig{ModulePath: filepath.Join(t.TempDir(), "nope.so"), TokenLabel: "x", PIN: "1"})
	if !errors.Is(err, keyprotect.ErrHSMUnavailable) {
		t.Fatalf("New(missing module) = %v, want ErrHSMUnavailable", err)
	}
	if _, err := pkcs11hsm.New(keyprotect.HSMConfig{}); !errors.Is(err, keyprotect.ErrHSMUnavailable) {
		t.Fatalf("New(empty config) = %v, want ErrHSMUnavailable", err)
	}
}

func TestWrongPIN(t *testing.T) {
	cfg := softHSM(t)
	cfg.PIN = "0000"
	p, err := pkcs11hsm.New(cfg)
	if err == nil {
		p.Close()
		t.Fatal("wrong PIN accepted")
	}
}
