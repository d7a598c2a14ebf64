package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/agent"
	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// TestResourcePrincipalAgent mints resource principal tokens with
// `coffer iam resource-principal-token` and has the agent and coffer run
// authenticate with the SDK's resource principal provider (ST$ key ids):
// a workload matched by a dynamic group reads its secret; one of another
// type is refused.
func TestResourcePrincipalAgent(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	env := f.Env
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	s := f.CreateSecret(t, "fn-secret", runCanary+"-rp")

	env.AllowDynamicGroup(t, "fns", "ALL {resource.type = 'fnfunc', resource.compartment.id = '"+tenancy+"'}",
		"read secret-family in tenancy", "use keys in tenancy")
	region, err := env.Provider.Region()
	if err != nil {
		t.Fatal(err)
	}

	mint := func(resourceType string) string {
		t.Helper()
		dir := t.TempDir()
		code, stdout, stderr := runMain("iam", "resource-principal-token", "--config-file", env.Server.ConfigPath, "--endpoint", env.URL,
			"--resource-id", "ocid1.fnfunc.oc1.local.app", "--resource-type", resourceType, "--compartment-id", tenancy,
			"--output-dir", dir, "--ttl", "30m")
		if code != 0 {
			t.Fatalf("mint: exit %d: %s", code, stderr)
		}
		tok, err := os.ReadFile(filepath.Join(dir, "rpst"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stdout+stderr, string(tok)) {
			t.Error("the token was printed")
		}
		for _, name := range []string{"rpst", "private.pem"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v %v", name, fi.Mode(), err)
			}
		}
		if !strings.Contains(stdout, "export OCI_RESOURCE_PRINCIPAL_RPST="+filepath.Join(dir, "rpst")) {
			t.Errorf("no export lines: %s", stdout)
		}
		return dir
	}
	useRP := func(dir string) {
		t.Setenv("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2")
		t.Setenv("OCI_RESOURCE_PRINCIPAL_RPST", filepath.Join(dir, "rpst"))
		t.Setenv("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", filepath.Join(dir, "private.pem"))
		t.Setenv("OCI_RESOURCE_PRINCIPAL_REGION", region)
	}
	renderOnce := func() (string, error) {
		t.Helper()
		dir := t.TempDir()
		cfg := `{"auth": {"type": "resource_principal"}, "endpoint": "` + env.URL + `",
		  "files": [{"path": "s", "secret": {"id": "` + *s.Id + `"}}]}`
		p := filepath.Join(dir, "agent.json")
		os.WriteFile(p, []byte(cfg), 0o600)
		plan, err := agent.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		client, err := agent.NewSecretsClient(plan.Source())
		if err != nil {
			t.Fatalf("resource principal client: %v", err)
		}
		a := agent.New(plan, client, agent.Options{})
		defer a.Close()
		err = a.Refresh(ctx)
		b, _ := os.ReadFile(filepath.Join(dir, "s"))
		return string(b), err
	}

	// A function in the dynamic group reads the secret.
	useRP(mint("fnfunc"))
	got, err := renderOnce()
	if err != nil || got != runCanary+"-rp" {
		t.Fatalf("agent as a resource principal: %q, %v", got, err)
	}
	code, stdout, stderr := runMain("run", "--auth", "resource_principal", "--endpoint", env.URL, "--secret", "S="+*s.Id,
		"--", "sh", "-c", `test "$S" = "`+runCanary+`-rp"`)
	if code != 0 || strings.Contains(stdout+stderr, "CANARY") {
		t.Errorf("coffer run as a resource principal: exit %d: %s", code, stderr)
	}

	// Another resource type matches no dynamic group: refused, nothing
	// written.
	useRP(mint("dataflowrun"))
	if got, err := renderOnce(); err == nil || got != "" {
		t.Errorf("unmatched resource principal read the secret: %q, %v", got, err)
	}

	// A token with someone else's key: the request signature does not
	// verify (401).
	a, b := mint("fnfunc"), mint("fnfunc")
	t.Setenv("OCI_RESOURCE_PRINCIPAL_RPST", filepath.Join(a, "rpst"))
	t.Setenv("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", filepath.Join(b, "private.pem"))
	if got, err := renderOnce(); err == nil || got != "" || !strings.Contains(err.Error(), "401") {
		t.Errorf("token with another key: %q, %v", got, err)
	}
}

// The command checks its options before it reads any configuration. (The
// authorization of minting is tested in internal/ociapi/rpstapi.)
func TestResourcePrincipalTokenUsage(t *testing.T) {
	code, _, stderr := runMain("iam", "resource-principal-token", "--config-file", filepath.Join(t.TempDir(), "none"), "--endpoint", "http://127.0.0.1:1")
	if code != exitUsage || !strings.Contains(stderr, "--resource-id") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// A refusal from the server is reported as the other commands report
// service errors, and nothing is written.
func TestResourcePrincipalTokenServiceError(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	dir := t.TempDir()
	code, _, stderr := runMain("iam", "resource-principal-token", "--config-file", env.Server.ConfigPath, "--endpoint", env.URL,
		"--resource-id", "ocid1.fnfunc.oc1.local.app", "--resource-type", "fnfunc", "--compartment-id", "ocid1.compartment.oc1.local.none",
		"--output-dir", dir)
	if code != exitService || !strings.Contains(stderr, "RelatedResourceNotAuthorizedOrNotFound") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written after a refusal: %v", entries)
	}
}
