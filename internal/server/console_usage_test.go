package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/vault"
)

// Cancelling a deletion from the console is CancelKeyDeletion and
// CancelSecretDeletion, the API's handlers as CSRF-protected POSTs:
// refused without the session's token, 404 for a user without a policy,
// done (as the SDK sees) and audited for the administrator.
func TestConsoleCancelDeletion(t *testing.T) {
	p := startConsolePair(t)
	f := p.f
	ctx := context.Background()
	vaultID, keyID := *f.Vault.Id, f.KeyID
	if _, err := f.Vault.Mgmt.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: &keyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Vaults.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: &p.secretID}); err != nil {
		t.Fatal(err)
	}
	cancels := []struct {
		op, path, want, after string
		key                   bool
	}{
		{"CancelKeyDeletion", "/console/api/vaults/" + vaultID + "/keys/" + keyID + "/cancelDeletion", `"ENABLED"`, "ENABLED", true},
		{"CancelSecretDeletion", "/console/api/secrets/" + p.secretID + "/cancelDeletion", "", "ACTIVE", false},
	}
	noCSRF := &consoleUser{cookie: p.admin.cookie}
	wrongCSRF := &consoleUser{cookie: p.admin.cookie, csrf: p.nobody.csrf}
	for _, c := range cancels {
		for name, u := range map[string]*consoleUser{"no token": noCSRF, "another session's token": wrongCSRF} {
			if status, b := p.do(t, "POST", c.path, "", u); status != http.StatusForbidden || !strings.Contains(string(b), `"NotAllowed"`) {
				t.Errorf("%s with %s: %d %s", c.op, name, status, b)
			}
		}
		if status, _ := p.do(t, "POST", c.path, "", nil); status != http.StatusUnauthorized {
			t.Errorf("%s without a session: %d", c.op, status)
		}
		if status, b := p.do(t, "POST", c.path, "", p.nobody); !notAuthorized(status, b) {
			t.Errorf("nobody %s: %d %s", c.op, status, b)
		}
		// Nothing was cancelled by the refused requests.
		if state, when := lifecycle(t, p, c.key); state != "PENDING_DELETION" || !when {
			t.Fatalf("%s after the refused requests: %s (time of deletion %v)", c.op, state, when)
		}
		if status, b := p.do(t, "POST", c.path, "", p.admin); status != http.StatusOK || !strings.Contains(string(b), c.want) {
			t.Errorf("admin %s: %d %s", c.op, status, b)
		}
		if evs := auditLines(f.Env, c.op, p.adminID); len(evs) != 1 || evs[0]["allowed"] != true {
			t.Errorf("admin's %s audit events: %v", c.op, evs)
		}
		if evs := auditLines(f.Env, c.op, p.nobodyID); len(evs) != 1 || evs[0]["allowed"] != false {
			t.Errorf("nobody's %s audit events: %v", c.op, evs)
		}
		if state, when := lifecycle(t, p, c.key); state != c.after || when {
			t.Errorf("%s: the SDK sees %s (time of deletion %v)", c.op, state, when)
		}
		// A GET is no way to cancel.
		if status, _ := p.do(t, "GET", c.path, "", p.admin); status < 400 {
			t.Errorf("GET %s: %d", c.op, status)
		}
	}
	// Cancelling what is not pending deletion is the API's conflict, not
	// a 5xx.
	for _, c := range cancels {
		if status, b := p.do(t, "POST", c.path, "", p.admin); status/100 != 4 || !strings.Contains(string(b), `"code"`) {
			t.Errorf("admin %s again: %d %s", c.op, status, b)
		}
	}
}

// lifecycle reads through the SDK the state of the pair's key (key) or
// secret (!key), and whether it has a time of deletion.
func lifecycle(t *testing.T, p *consolePair, key bool) (string, bool) {
	t.Helper()
	ctx := context.Background()
	if key {
		k, err := p.f.Vault.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: &p.f.KeyID})
		if err != nil {
			t.Fatal(err)
		}
		return string(k.LifecycleState), k.TimeOfDeletion != nil
	}
	s, err := p.f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: &p.secretID})
	if err != nil {
		t.Fatal(err)
	}
	return string(s.LifecycleState), s.TimeOfDeletion != nil
}
