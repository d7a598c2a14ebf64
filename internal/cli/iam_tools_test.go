package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// runCLI runs the command line in-process and returns its exit code and
// output.
func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// The explain command names the missing grant of a denied user, and lint
// fetches a policy through the identity API.
func TestIAMToolsAgainstServer(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	env := f.Env
	t.Setenv("OCI_CLI_CONFIG_FILE", env.Server.ConfigPath)
	t.Setenv("COFFER_ENDPOINT", env.URL)
	ctx := context.Background()
	admin, err := identity.NewIdentityClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&admin.BaseClient, env.URL)
	secret := f.CreateSecret(t, "db-password", "s3cret")

	g, err := admin.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &f.Tenancy, Name: common.String("AppReaders"), Description: common.String("d")}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := admin.CreateUser(ctx, identity.CreateUserRequest{CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: &f.Tenancy, Name: common.String("app"), Description: common.String("d")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{UserId: u.Id, GroupId: g.Id}}); err != nil {
		t.Fatal(err)
	}
	p, err := admin.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &f.Tenancy, Name: common.String("app"), Description: common.String("d"),
		Statements: []string{"Allow group AppReaders to read secret-family in tenancy"}}})
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI("iam", "explain", "--user", *u.Id, "--operation", "GetSecretBundle", "--secret", *secret.Id)
	if code != 1 || errOut != "" {
		t.Fatalf("explain of a denial: exit %d, want 1 and nothing on stderr\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"DENIED: GetSecretBundle",
		"[granted] SECRET_BUNDLE_READ on secret " + *secret.Id,
		`granted by policy "app" statement 1: Allow group AppReaders to read secret-family in tenancy`,
		"[missing] KEY_DECRYPT on key " + f.KeyID,
		"A statement that would grant it:",
		"Allow group AppReaders to use keys",
		f.KeyID,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("explain output lacks %q:\n%s", want, out)
		}
	}

	// The same question for a user by name, after the grant: allowed.
	if _, err := admin.UpdatePolicy(ctx, identity.UpdatePolicyRequest{PolicyId: p.Id, UpdatePolicyDetails: identity.UpdatePolicyDetails{
		Statements: []string{"Allow group AppReaders to read secret-family in tenancy", "Allow group AppReaders to use keys in tenancy"}}}); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI("iam", "explain", "--user", "app", "--operation", "GetSecretBundle", "--secret", *secret.Id)
	if code != 0 || !strings.HasPrefix(out, "ALLOWED: GetSecretBundle") {
		t.Fatalf("explain after the grant: exit %d\n%s", code, out)
	}

	// lint --policy-id fetches the policy; --strict fails on findings.
	code, out, errOut = runCLI("iam", "policy", "lint", "--policy-id", *p.Id, "--strict")
	if code != 1 || !strings.Contains(out, "policy app: 2 statements") || !strings.Contains(out, "unscoped-secret-access") {
		t.Fatalf("lint --policy-id: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI("iam", "policy", "lint", "--policy-id", "ocid1.policy.oc1..missing")
	if code != 1 || !strings.Contains(errOut, "NotAuthorizedOrNotFound") {
		t.Fatalf("lint of a missing policy: exit %d\n%s%s", code, out, errOut)
	}
}

// FuzzParseStatements: any input parses or fails without panicking, and
// the text form never yields blank or comment lines.
func FuzzParseStatements(f *testing.F) {
	for _, seed := range []string{
		"Allow any-user to read secret-family in tenancy\n# c\n\n",
		`["a", "b"]`, `{"statements": ["x"]}`, `{"data": {"statements": ["y"]}}`, `[1]`, `{`, "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		stmts, err := parseStatements(b)
		if err != nil {
			return
		}
		trimmed := bytes.TrimSpace(b)
		if len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{') {
			return
		}
		for _, s := range stmts {
			if s == "" || strings.HasPrefix(s, "#") || s != strings.TrimSpace(s) {
				t.Fatalf("text form yielded %q", s)
			}
		}
	})
}
