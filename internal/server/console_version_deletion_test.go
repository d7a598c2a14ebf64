package server_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/vault"
)

// A version's deletion from the console: ScheduleSecretVersionDeletion,
// CancelSecretVersionDeletion, ScheduleKeyVersionDeletion and
// CancelKeyVersionDeletion are the API's handlers as the session's user:
// applied for the administrator and seen through the SDK, refused without
// the CSRF token and to a user without a policy.
func TestConsoleVersionDeletion(t *testing.T) {
	p := startConsolePair(t)
	ctx := context.Background()
	f := p.f
	// Three versions: the first is then DEPRECATED, the only kind that
	// may be scheduled for deletion.
	for _, c := range []string{"djI=", "djM="} {
		if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: &p.secretID, UpdateSecretDetails: vault.UpdateSecretDetails{
			SecretContent: vault.Base64SecretContentDetails{Content: common.String(c)}}}); err != nil {
			t.Fatal(err)
		}
	}
	secretVersion := func() *common.SDKTime {
		t.Helper()
		r, err := f.Vaults.GetSecretVersion(ctx, vault.GetSecretVersionRequest{SecretId: &p.secretID, SecretVersionNumber: common.Int64(1)})
		if err != nil {
			t.Fatal(err)
		}
		return r.TimeOfDeletion
	}
	sbase := "/console/api/secrets/" + p.secretID + "/versions/1"
	oldKeyVersion := ""
	if k, err := f.Vault.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: &f.KeyID}); err != nil {
		t.Fatal(err)
	} else {
		oldKeyVersion = *k.CurrentKeyVersion
	}
	if _, err := f.Vault.Mgmt.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: &f.KeyID}); err != nil {
		t.Fatal(err)
	}
	keyVersion := func() keymanagement.KeyVersionLifecycleStateEnum {
		t.Helper()
		r, err := f.Vault.Mgmt.GetKeyVersion(ctx, keymanagement.GetKeyVersionRequest{KeyId: &f.KeyID, KeyVersionId: &oldKeyVersion})
		if err != nil {
			t.Fatal(err)
		}
		return r.LifecycleState
	}
	kbase := "/console/api/vaults/" + *f.Vault.Id + "/keys/" + f.KeyID + "/versions/" + oldKeyVersion
	noCSRF := &consoleUser{cookie: p.admin.cookie}
	for _, c := range []struct {
		path      string
		scheduled func() bool
	}{
		{sbase, func() bool { return secretVersion() != nil }},
		{kbase, func() bool { return keyVersion() == keymanagement.KeyVersionLifecycleStatePendingDeletion }},
	} {
		for _, action := range []string{"/scheduleDeletion", "/cancelDeletion"} {
			if status, b := p.do(t, "POST", c.path+action, "", noCSRF); status != http.StatusForbidden {
				t.Errorf("%s without the CSRF token: %d %s", action, status, b)
			}
			if status, b := p.do(t, "POST", c.path+action, "", p.nobody); !notAuthorized(status, b) {
				t.Errorf("nobody's %s: %d %s", action, status, b)
			}
			if status, b := p.do(t, "POST", c.path+action, "", p.admin); status/100 != 2 {
				t.Fatalf("%s%s: %d %s", c.path, action, status, b)
			}
			if got, want := c.scheduled(), action == "/scheduleDeletion"; got != want {
				t.Errorf("after %s%s the SDK sees scheduled %v", c.path, action, got)
			}
		}
	}
	// The current and previous versions cannot go: the API's 400.
	for _, n := range []int{2, 3} {
		if status, b := p.do(t, "POST", "/console/api/secrets/"+p.secretID+"/versions/"+strconv.Itoa(n)+"/scheduleDeletion", "", p.admin); status != http.StatusBadRequest {
			t.Errorf("deleting version %d: %d %s", n, status, b)
		}
	}
	for _, op := range []string{"ScheduleSecretVersionDeletion", "CancelSecretVersionDeletion", "ScheduleKeyVersionDeletion", "CancelKeyVersionDeletion"} {
		if evs := auditLines(f.Env, op, p.adminID); len(evs) == 0 {
			t.Errorf("%s not audited", op)
		}
	}
}
