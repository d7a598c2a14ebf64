package identityapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
)

// CreateOrResetUIPassword generates a password and shows it once;
// GetUserUIPasswordInformation shows only when and whether; each reset
// gives a new password; a user may reset his own and nobody else's; the
// password never reaches the log.
func TestUIPassword(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)
	e := newUser(t, admin, tenancy, "uma")
	f := newUser(t, admin, tenancy, "victor")
	ec := identityClient(t, env, e.Provider)

	_, err := admin.GetUserUIPasswordInformation(ctx, identity.GetUserUIPasswordInformationRequest{UserId: e.User.Id})
	wantError(t, "information before any password", err, http.StatusNotFound, "NotAuthorizedOrNotFound")

	r, err := admin.CreateOrResetUIPassword(ctx, identity.CreateOrResetUIPasswordRequest{UserId: e.User.Id})
	if err != nil {
		t.Fatalf("CreateOrResetUIPassword: %v", err)
	}
	pw := *r.Password
	if len(pw) < 20 || *r.UserId != *e.User.Id || r.LifecycleState != identity.UiPasswordLifecycleStateActive || r.TimeCreated == nil {
		t.Fatalf("UIPassword = %+v (password of %d characters)", r.UiPassword, len(pw))
	}
	info, err := admin.GetUserUIPasswordInformation(ctx, identity.GetUserUIPasswordInformationRequest{UserId: e.User.Id})
	if err != nil {
		t.Fatalf("GetUserUIPasswordInformation: %v", err)
	}
	if *info.UserId != *e.User.Id || info.LifecycleState != identity.UiPasswordInformationLifecycleStateActive || !info.TimeCreated.Equal(r.TimeCreated.Time) {
		t.Fatalf("information = %+v", info.UiPasswordInformation)
	}
	u, err := admin.GetUser(ctx, identity.GetUserRequest{UserId: e.User.Id})
	if err != nil || !*u.Capabilities.CanUseConsolePassword {
		t.Fatalf("GetUser: %v, capabilities %+v", err, u.Capabilities)
	}

	// Self service: uma resets her own (a new password), not victor's.
	coffertest.NextSecond()
	r2, err := ec.CreateOrResetUIPassword(ctx, identity.CreateOrResetUIPasswordRequest{UserId: e.User.Id})
	if err != nil {
		t.Fatalf("uma resets her own password: %v", err)
	}
	if *r2.Password == pw {
		t.Fatal("a reset returned the same password")
	}
	if _, err := ec.GetUserUIPasswordInformation(ctx, identity.GetUserUIPasswordInformationRequest{UserId: e.User.Id}); err != nil {
		t.Fatalf("uma reads her own information: %v", err)
	}
	_, err = ec.CreateOrResetUIPassword(ctx, identity.CreateOrResetUIPasswordRequest{UserId: f.User.Id})
	wantError(t, "uma resets victor's password", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	_, err = ec.GetUserUIPasswordInformation(ctx, identity.GetUserUIPasswordInformationRequest{UserId: f.User.Id})
	wantError(t, "uma reads victor's information", err, http.StatusNotFound, "NotAuthorizedOrNotFound")

	// Ids are checked at the edge.
	_, err = admin.CreateOrResetUIPassword(ctx, identity.CreateOrResetUIPasswordRequest{UserId: strp("ocid1.group.oc1..aaaa")})
	wantError(t, "a group id", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	_, err = admin.GetUserUIPasswordInformation(ctx, identity.GetUserUIPasswordInformationRequest{UserId: strp("not-an-ocid")})
	wantError(t, "a malformed id", err, http.StatusBadRequest, "InvalidParameter")

	// Deleting the user deletes the password with it.
	if _, err := admin.DeleteUser(ctx, identity.DeleteUserRequest{UserId: f.User.Id}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}

	for _, p := range []string{pw, *r2.Password} {
		if strings.Contains(env.Logs.String(), p) {
			t.Fatal("a console password is in the server log")
		}
	}
}

func strp(s string) *string { return &s }
