package identityapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/server"
)

func secretsClient(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider) sdksecrets.SecretsClient {
	t.Helper()
	c, err := sdksecrets.NewSecretsClientWithConfigurationProvider(p)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&c.BaseClient, env.URL)
	return c
}

func readBundle(c sdksecrets.SecretsClient, id *string) error {
	_, err := c.GetSecretBundle(context.Background(), sdksecrets.GetSecretBundleRequest{SecretId: id})
	return err
}

// Users with different policies read the same secrets through the SDK.
// Reading a bundle needs read on secret-family and (Coffer's default rule)
// use on the secret's key; where clauses narrow by name.
func TestTwoUsersReadingTheSameSecrets(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	env, tenancy := f.Env, f.Tenancy
	admin := identityClient(t, env, env.Provider)
	db := f.CreateSecret(t, "db-password", "s3cret")
	api := f.CreateSecret(t, "api-token", "t0ken")

	full := newGroup(t, admin, tenancy, "SecretReaders")
	partial := newGroup(t, admin, tenancy, "NoKeyReaders")
	narrow := newGroup(t, admin, tenancy, "DbReaders")
	a := newUser(t, admin, tenancy, "reader-a", *full.Id)
	b := newUser(t, admin, tenancy, "reader-b", *partial.Id)
	c := newUser(t, admin, tenancy, "reader-c", *narrow.Id)
	newPolicy(t, admin, tenancy, "secret-readers",
		"Allow group SecretReaders to read secret-family in tenancy",
		"Allow group SecretReaders to use keys in tenancy",
		"Allow group NoKeyReaders to read secret-family in tenancy",
		"Allow group DbReaders to read secret-family in tenancy where target.secret.name = 'db-*'",
		"Allow group DbReaders to use keys in tenancy")

	sa, sb, sc := secretsClient(t, env, a.Provider), secretsClient(t, env, b.Provider), secretsClient(t, env, c.Provider)
	for _, id := range []*string{db.Id, api.Id} {
		if err := readBundle(sa, id); err != nil {
			t.Fatalf("reader-a GetSecretBundle: %v", err)
		}
		// read secret-family without use keys: refused by the key rule.
		wantError(t, "reader-b GetSecretBundle", readBundle(sb, id), http.StatusNotFound, "NotAuthorizedOrNotFound")
	}
	if err := readBundle(sc, db.Id); err != nil {
		t.Fatalf("reader-c reads db-password: %v", err)
	}
	wantError(t, "reader-c reads api-token", readBundle(sc, api.Id), http.StatusNotFound, "NotAuthorizedOrNotFound")

	// reader-b may still read the secret's metadata: that needs no key.
	vb, err := vault.NewVaultsClientWithConfigurationProvider(b.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&vb.BaseClient, env.URL)
	if _, err := vb.GetSecret(context.Background(), vault.GetSecretRequest{SecretId: db.Id}); err != nil {
		t.Fatalf("reader-b GetSecret: %v", err)
	}

	// The explain API names the missing grant for reader-b.
	ans := explain(t, env, `{"principal":{"userId":"`+*b.User.Id+`"},"operation":"GetSecretBundle","secretId":"`+*db.Id+`"}`)
	if ans.Allowed || len(ans.Checks) != 2 {
		t.Fatalf("explain reader-b: %+v", ans)
	}
	var keyCheck bool
	for _, ch := range ans.Checks {
		if ch.Permission == "KEY_DECRYPT" && !ch.Granted && ch.TargetID == f.KeyID {
			keyCheck = true
		}
		if ch.Permission == "SECRET_BUNDLE_READ" && (!ch.Granted || len(ch.GrantedBy) != 1) {
			t.Fatalf("SECRET_BUNDLE_READ check: %+v", ch)
		}
	}
	if !keyCheck || !contains(ans.Suggestion, "Allow group NoKeyReaders to use keys") || !contains(ans.Suggestion, f.KeyID) {
		t.Fatalf("explain reader-b: checks %+v suggestion %q", ans.Checks, ans.Suggestion)
	}
	// ... and the where clause that kept reader-c out of api-token.
	ans = explain(t, env, `{"principal":{"userId":"`+*c.User.Id+`"},"operation":"GetSecretBundle","secretId":"`+*api.Id+`"}`)
	if ans.Allowed {
		t.Fatalf("explain reader-c api-token allowed")
	}
	var condFalse bool
	for _, ch := range ans.Checks {
		if ch.Permission == "SECRET_BUNDLE_READ" && len(ch.ConditionFalse) == 1 {
			condFalse = true
		}
	}
	if !condFalse {
		t.Fatalf("explain reader-c: no where-clause statement reported: %+v", ans.Checks)
	}
}

// With the secret-key rule off (Config.SecretKeyRule = false), reading a
// bundle needs only read on secret-family, as OCI's permission table says.
func TestSecretKeyRuleOff(t *testing.T) {
	off := false
	f := vaultstest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.SecretKeyRule = &off }})
	env, tenancy := f.Env, f.Tenancy
	admin := identityClient(t, env, env.Provider)
	s := f.CreateSecret(t, "db-password", "s3cret")
	g := newGroup(t, admin, tenancy, "NoKeyReaders")
	b := newUser(t, admin, tenancy, "reader-b", *g.Id)
	newPolicy(t, admin, tenancy, "no-key", "Allow group NoKeyReaders to read secret-family in tenancy")
	if err := readBundle(secretsClient(t, env, b.Provider), s.Id); err != nil {
		t.Fatalf("GetSecretBundle with the key rule off: %v", err)
	}
}
