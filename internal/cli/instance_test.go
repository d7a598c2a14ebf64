package cli

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/federation"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// TestInstanceCertificateCommand issues an instance certificate with
// `coffer iam instance-certificate`, serves the directory as the metadata
// service and has `coffer run --auth instance_principal` read a secret
// through the SDK's instance principal provider and Coffer's federation.
func TestInstanceCertificateCommand(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	env := f.Env
	s := f.CreateSecret(t, "vm-secret", runCanary+"-ip")
	env.AllowDynamicGroup(t, "vms", "ANY {instance.compartment.id = '"+f.Tenancy+"'}", "read secret-family in tenancy", "use keys in tenancy")

	dir := t.TempDir()
	code, stdout, stderr := runMain("iam", "instance-certificate", "--config-file", env.Server.ConfigPath, "--endpoint", env.URL,
		"--instance-id", "ocid1.instance.oc1.local.vm1", "--compartment-id", f.Tenancy, "--out", dir, "--validity", "2h")
	if code != 0 {
		t.Fatalf("instance-certificate: exit %d: %s", code, stderr)
	}
	for _, name := range []string{"cert.pem", "key.pem", "intermediate.pem", "region"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	key, _ := os.ReadFile(filepath.Join(dir, "key.pem"))
	if !strings.Contains(string(key), "RSA PRIVATE KEY") || strings.Contains(stdout+stderr, "PRIVATE KEY") {
		t.Errorf("key file or output wrong: %s", stdout)
	}
	for _, want := range []string{"export OCI_SDK_AUTH_CLIENT_REGION_URL=" + env.URL, "export OCI_METADATA_BASE_URL=http://127.0.0.1:8421/opc/v2",
		"coffer iam instance-metadata --dir " + dir} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	md := httptest.NewServer(federation.MetadataHandler(dir, ""))
	defer md.Close()
	t.Setenv("OCI_METADATA_BASE_URL", md.URL+"/opc/v2")
	t.Setenv("OCI_SDK_AUTH_CLIENT_REGION_URL", env.URL)
	t.Setenv("OCI_SDK_AUTH_CLIENT_CIRCUIT_BREAKER_ENABLED", "false")
	code, stdout, stderr = runMain("run", "--auth", "instance_principal", "--endpoint", env.URL, "--secret", "S="+*s.Id,
		"--", "sh", "-c", `test "$S" = "`+runCanary+`-ip"`)
	if code != 0 || strings.Contains(stdout+stderr, "CANARY") {
		t.Errorf("coffer run as an instance principal: exit %d: %s", code, stderr)
	}
}

// The commands check their options before they read any configuration or
// listen; the metadata stand-in refuses to listen beyond loopback.
func TestInstanceCommandsUsage(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"cert.pem", "key.pem", "intermediate.pem"} {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"iam", "instance-certificate", "--config-file", filepath.Join(dir, "none"), "--endpoint", "http://127.0.0.1:1"}, "--instance-id"},
		{[]string{"iam", "instance-certificate", "--config-file", filepath.Join(dir, "none"), "--endpoint", "http://127.0.0.1:1",
			"--instance-id", "ocid1.instance.oc1..i", "--compartment-id", "ocid1.compartment.oc1..c", "--out", filepath.Join(dir, "nodir")}, "not a directory"},
		{[]string{"iam", "instance-metadata"}, "--dir"},
		{[]string{"iam", "instance-metadata", "--dir", t.TempDir()}, "no cert.pem"},
		{[]string{"iam", "instance-metadata", "--dir", dir}, "no region file"},
		{[]string{"iam", "instance-metadata", "--dir", dir, "--region", "local", "--listen", "0.0.0.0:0"}, "not a loopback address"},
	} {
		code, _, stderr := runMain(tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %s", tc.args, code, stderr)
		}
	}
}
