package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// The client commands authenticate with --auth resource_principal (the
// SDK's provider, from the OCI_RESOURCE_PRINCIPAL_* environment) and with
// --auth security_token (a config profile whose security_token_file holds
// the token): both send ST$ key ids, which the server resolves to the
// resource principal, whose dynamic group's policy decides. A principal
// the policy does not cover gets the 404 every denial gets.
func TestResourcePrincipalAndSecurityTokenAuth(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	env := f.Env
	tenancy := keystest.Tenancy(t, env)
	const content = "resource principal content"
	s := f.CreateSecret(t, "rp-secret", content)

	env.AllowDynamicGroup(t, "jobs", "resource.type = 'job'", "read secret-family in tenancy", "use keys in tenancy")
	region, err := env.Provider.Region()
	if err != nil {
		t.Fatal(err)
	}
	admin := map[string]string{envConfigFile: env.Server.ConfigPath, envEndpoint: env.URL, envAuth: ""}
	mint := func(resourceType string) string {
		t.Helper()
		dir := t.TempDir()
		_, errOut, code := run(t, admin, "", "iam", "resource-principal-token",
			"--resource-id", "ocid1.job.oc1.local.nightly", "--resource-type", resourceType, "--compartment-id", tenancy,
			"--output-dir", dir, "--ttl", "10m")
		if code != 0 {
			t.Fatalf("mint: exit %d: %s", code, errOut)
		}
		return dir
	}
	// Nothing of the administrator's configuration is reachable.
	workload := func(dir string) map[string]string {
		return map[string]string{
			envConfigFile: filepath.Join(t.TempDir(), "no-config"), envEndpoint: env.URL, envAuth: "",
			"OCI_RESOURCE_PRINCIPAL_VERSION":     "2.2",
			"OCI_RESOURCE_PRINCIPAL_RPST":        filepath.Join(dir, "rpst"),
			"OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM": filepath.Join(dir, "private.pem"),
			"OCI_RESOURCE_PRINCIPAL_REGION":      region,
		}
	}
	get := []string{"secrets", "secret-bundle", "get", "--secret-id", *s.Id, "--decode"}

	// A job reads the secret: --auth after the command, before the group,
	// or from OCI_CLI_AUTH.
	job := workload(mint("job"))
	for _, args := range [][]string{
		append(append([]string{}, get...), "--auth", "resource_principal"),
		append([]string{"--auth", "resource_principal"}, get...),
	} {
		out, errOut, code := run(t, job, "", args...)
		if code != 0 || out != content {
			t.Errorf("%v: exit %d, stdout %q, stderr %s", args, code, out, errOut)
		}
	}
	job[envAuth] = authResourcePrincipal
	if out, errOut, code := run(t, job, "", get...); code != 0 || out != content {
		t.Errorf("OCI_CLI_AUTH=resource_principal: exit %d, stdout %q, stderr %s", code, out, errOut)
	}

	// The same token as a security token in a config profile.
	dir := mint("job")
	cfg := filepath.Join(t.TempDir(), "config")
	profile := fmt.Sprintf("[DEFAULT]\ntenancy=%s\nregion=%s\nfingerprint=session\nkey_file=%s\nsecurity_token_file=%s\n",
		tenancy, region, filepath.Join(dir, "private.pem"), filepath.Join(dir, "rpst"))
	if err := os.WriteFile(cfg, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	st := map[string]string{envConfigFile: cfg, envEndpoint: env.URL, envAuth: ""}
	if out, errOut, code := run(t, st, "", append(get, "--auth", "security_token")...); code != 0 || out != content {
		t.Errorf("--auth security_token: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	// Without --auth too: the SDK signs with the security token of a
	// profile that names no user.
	if out, errOut, code := run(t, st, "", get...); code != 0 || out != content {
		t.Errorf("security token profile, default --auth: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	// A token the server did not mint is refused (401), whatever the key.
	if err := os.WriteFile(filepath.Join(dir, "rpst"), []byte("not.a.token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := run(t, st, "", append(get, "--auth", "security_token")...); code != exitService || out != "" || !strings.Contains(errOut, `"status": 401`) {
		t.Errorf("forged security token: exit %d, stdout %q, stderr %s", code, out, errOut)
	}

	// A resource of another type matches no dynamic group: a 404, with
	// the advice, and no content.
	other := workload(mint("dataflowrun"))
	out, errOut, code := run(t, other, "", append(get, "--auth", "resource_principal")...)
	if code != exitService || out != "" || !strings.Contains(errOut, `"status": 404`) || strings.Contains(out+errOut, content) {
		t.Errorf("unmatched resource principal: exit %d, stdout %q, stderr %s", code, out, errOut)
	}

	// Missing environment: a configuration error, nothing sent.
	none := workload(mint("job"))
	none["OCI_RESOURCE_PRINCIPAL_VERSION"] = ""
	if _, errOut, code := run(t, none, "", append(get, "--auth", "resource_principal")...); code != exitService || !strings.Contains(errOut, "ConfigError: resource principal") {
		t.Errorf("no resource principal environment: exit %d, stderr %s", code, errOut)
	}
}
