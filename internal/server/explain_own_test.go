package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/secrets"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
)

// explainOwn posts body to the explainOwn API signed as p.
func explainOwn(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider, body string) (int, []byte) {
	t.Helper()
	coffertest.NextSecond()
	return coffertest.Signed(t, common.DefaultRequestSigner(p), http.MethodPost, env.URL+identityapi.ExplainOwnPath, []byte(body), time.Now())
}

var requestIDs = regexp.MustCompile(`"opc-request-id":"[^"]*"|[0-9a-f]{32}`)

// A user asks why he was denied: a narrow user who may read secret
// bundles but not use the secret's key learns that KEY_DECRYPT on the key
// is missing and the statement to add, without the text of any policy; a
// user without a policy learns nothing, not even whether the secret
// exists; the console asks the same API as the session's user.
func TestExplainOwn(t *testing.T) {
	p := startConsolePair(t)
	env := p.f.Env
	narrow := env.NewUser(t, "narrow")
	grantGroup(t, env, narrow, "narrow-readers", "read secret-bundles in tenancy")
	narrowID, _ := narrow.UserOCID()

	// The narrow user is denied the content.
	sc, err := secrets.NewSecretsClientWithConfigurationProvider(narrow)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&sc.BaseClient, env.URL)
	if _, err := sc.GetSecretBundle(context.Background(), secrets.GetSecretBundleRequest{SecretId: &p.secretID}); err == nil {
		t.Fatal("the narrow user reads the secret: the test's premise is wrong")
	}

	body := `{"operation":"GetSecretBundle","secretId":"` + p.secretID + `"}`
	status, got := explainOwn(t, env, narrow, body)
	var ans identityapi.ExplainResponse
	if status != http.StatusOK || json.Unmarshal(got, &ans) != nil {
		t.Fatalf("narrow: %d %s", status, got)
	}
	if ans.Allowed || !strings.Contains(ans.Reason, "KEY_DECRYPT") || !strings.Contains(ans.Suggestion, "narrow-readers") ||
		!strings.Contains(ans.Suggestion, p.f.KeyID) {
		t.Errorf("narrow's explanation: %+v", ans)
	}
	var granted, missing []string
	for _, c := range ans.Checks {
		if len(c.GrantedBy)+len(c.DeniedBy)+len(c.ConditionFalse) != 0 {
			t.Errorf("a check names statements: %+v", c)
		}
		if c.Granted {
			granted = append(granted, c.Permission)
		} else {
			missing = append(missing, c.Permission)
		}
	}
	if strings.Join(granted, ",") != "SECRET_BUNDLE_READ" || strings.Join(missing, ",") != "KEY_DECRYPT" {
		t.Errorf("granted %v, missing %v", granted, missing)
	}
	if bytes.Contains(got, []byte("read secret-bundles in tenancy")) {
		t.Errorf("the answer quotes a policy statement: %s", got)
	}

	// The same question through the console, signed in as the narrow user.
	narrowSession := consoleLogin(t, env.URL, "narrow", uiPassword(t, env, narrowID))
	if cs, cb := p.do(t, "POST", "/console/api/explainOwn", body, narrowSession); cs != http.StatusOK ||
		!bytes.Equal(bytes.TrimSpace(cb), bytes.TrimSpace(got)) {
		t.Errorf("the console answers %d\n%s\nthe API\n%s", cs, cb, got)
	}
	if cs, cb := p.do(t, "POST", "/console/api/explainOwn", body, &consoleUser{cookie: narrowSession.cookie}); cs != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d %s", cs, cb)
	}

	// A user without a policy: the secret and a secret that does not
	// exist get the same 404, and so does a question with no target.
	nobody := env.NewUser(t, "own-nobody")
	s1, b1 := explainOwn(t, env, nobody, body)
	s2, b2 := explainOwn(t, env, nobody, `{"operation":"GetSecretBundle","secretId":"ocid1.vaultsecret.oc1..`+strings.Repeat("a", 60)+`"}`)
	if !notAuthorized(s1, b1) || !notAuthorized(s2, b2) || requestIDs.ReplaceAllString(string(b1), "") != requestIDs.ReplaceAllString(string(b2), "") {
		t.Errorf("nobody on an existing secret: %d %s\non a missing one: %d %s", s1, b1, s2, b2)
	}
	if s, b := explainOwn(t, env, nobody, `{"operation":"ListVaults"}`); !notAuthorized(s, b) {
		t.Errorf("nobody in the tenancy: %d %s", s, b)
	}
	// Only about oneself, and bad input is a 400.
	for _, bad := range []string{
		`{"principal":{"userId":"` + p.adminID + `"},"operation":"GetSecretBundle","secretId":"` + p.secretID + `"}`,
		`{"operation":"NoSuchOperation"}`, `{"operation":"GetSecret","secretId":"not..an ocid"}`, `{`,
	} {
		if s, b := explainOwn(t, env, narrow, bad); s != http.StatusBadRequest || !bytes.Contains(b, []byte(`"code"`)) {
			t.Errorf("%s: %d %s", bad, s, b)
		}
	}
	if evs := auditLines(env, "ExplainOwnAuthorization", narrowID); len(evs) < 2 || evs[0]["allowed"] != true {
		t.Errorf("audit: %v", evs)
	}
	// The administrator asking about himself is allowed GetSecretBundle.
	if s, b := explainOwn(t, env, env.Provider, body); s != http.StatusOK || !bytes.Contains(b, []byte(`"allowed":true`)) {
		t.Errorf("admin: %d %s", s, b)
	}
}
