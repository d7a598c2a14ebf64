package kmsvault_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/server"
)

func createVault(t *testing.T, c keymanagement.KmsVaultClient, compartment, name string) keymanagement.Vault {
	t.Helper()
	resp, err := c.CreateVault(context.Background(), keymanagement.CreateVaultRequest{
		CreateVaultDetails: keymanagement.CreateVaultDetails{
			CompartmentId: common.String(compartment), DisplayName: common.String(name),
			VaultType:    keymanagement.CreateVaultDetailsVaultTypeDefault,
			FreeformTags: map[string]string{"team": "payments"},
		},
	})
	if err != nil {
		t.Fatalf("CreateVault: %v", err)
	}
	return resp.Vault
}

func TestVaultLifecycleThroughSDK(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	c := keystest.VaultClient(t, env, env.Provider)
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)

	v := createVault(t, c, tenancy, "first")
	if v.LifecycleState != keymanagement.VaultLifecycleStateActive {
		t.Fatalf("new vault state = %s", v.LifecycleState)
	}
	if *v.CompartmentId != tenancy || *v.DisplayName != "first" || v.FreeformTags["team"] != "payments" {
		t.Fatalf("vault fields wrong: %+v", v)
	}
	if !strings.HasPrefix(*v.ManagementEndpoint, "http://") || *v.ManagementEndpoint == *v.CryptoEndpoint {
		t.Fatalf("endpoints: management %q crypto %q", *v.ManagementEndpoint, *v.CryptoEndpoint)
	}
	if v.WrappingkeyId == nil || v.TimeCreated == nil {
		t.Fatal("wrappingkeyId or timeCreated missing")
	}

	got, err := c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if err != nil {
		t.Fatalf("GetVault: %v", err)
	}
	if *got.Id != *v.Id || got.Etag == nil || *got.Etag == "" {
		t.Fatalf("GetVault returned %+v etag %v", got.Vault, got.Etag)
	}

	upd, err := c.UpdateVault(ctx, keymanagement.UpdateVaultRequest{VaultId: v.Id,
		UpdateVaultDetails: keymanagement.UpdateVaultDetails{DisplayName: common.String("renamed")}, IfMatch: got.Etag})
	if err != nil {
		t.Fatalf("UpdateVault: %v", err)
	}
	if *upd.DisplayName != "renamed" || *upd.Etag == *got.Etag {
		t.Fatalf("UpdateVault: name %q etag unchanged=%v", *upd.DisplayName, *upd.Etag == *got.Etag)
	}
	// A stale etag is refused.
	_, err = c.UpdateVault(ctx, keymanagement.UpdateVaultRequest{VaultId: v.Id,
		UpdateVaultDetails: keymanagement.UpdateVaultDetails{DisplayName: common.String("again")}, IfMatch: got.Etag})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusPreconditionFailed || se.GetCode() != "NoEtagMatch" {
		t.Fatalf("stale etag: %d %s", se.GetHTTPStatusCode(), se.GetCode())
	}

	usage, err := c.GetVaultUsage(ctx, keymanagement.GetVaultUsageRequest{VaultId: v.Id})
	if err != nil {
		t.Fatalf("GetVaultUsage: %v", err)
	}
	if usage.KeyCount == nil || usage.KeyVersionCount == nil {
		t.Fatal("usage counts missing")
	}

	// Deletion window: 7 to 30 days.
	for _, days := range []int{1, 6, 31, -1} {
		when := time.Now().Add(time.Duration(days) * 24 * time.Hour)
		_, err := c.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: v.Id,
			ScheduleVaultDeletionDetails: keymanagement.ScheduleVaultDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: when}}})
		se := keystest.ServiceError(t, err)
		if se.GetHTTPStatusCode() != http.StatusBadRequest || !strings.Contains(se.GetMessage(), "between 7 and 30 days") {
			t.Fatalf("deletion in %d days: %d %s %q", days, se.GetHTTPStatusCode(), se.GetCode(), se.GetMessage())
		}
	}
	when := time.Now().Add(8 * 24 * time.Hour)
	sched, err := c.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: v.Id,
		ScheduleVaultDeletionDetails: keymanagement.ScheduleVaultDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: when}}})
	if err != nil {
		t.Fatalf("ScheduleVaultDeletion: %v", err)
	}
	if sched.LifecycleState != keymanagement.VaultLifecycleStatePendingDeletion || sched.TimeOfDeletion == nil ||
		sched.TimeOfDeletion.Sub(when).Abs() > time.Second {
		t.Fatalf("scheduled vault: %s %v", sched.LifecycleState, sched.TimeOfDeletion)
	}
	// Updating a vault pending deletion is an IncorrectState conflict.
	_, err = c.UpdateVault(ctx, keymanagement.UpdateVaultRequest{VaultId: v.Id,
		UpdateVaultDetails: keymanagement.UpdateVaultDetails{DisplayName: common.String("x")}})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusConflict || se.GetCode() != "IncorrectState" {
		t.Fatalf("update while pending deletion: %d %s", se.GetHTTPStatusCode(), se.GetCode())
	}
	cancelled, err := c.CancelVaultDeletion(ctx, keymanagement.CancelVaultDeletionRequest{VaultId: v.Id})
	if err != nil {
		t.Fatalf("CancelVaultDeletion: %v", err)
	}
	if cancelled.LifecycleState != keymanagement.VaultLifecycleStateActive || cancelled.TimeOfDeletion != nil {
		t.Fatalf("cancelled vault: %s %v", cancelled.LifecycleState, cancelled.TimeOfDeletion)
	}
	// The default window is 30 days.
	def, err := c.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: v.Id})
	if err != nil {
		t.Fatalf("ScheduleVaultDeletion default: %v", err)
	}
	if d := time.Until(def.TimeOfDeletion.Time); d < 29*24*time.Hour || d > 30*24*time.Hour+time.Minute {
		t.Fatalf("default deletion window %v", d)
	}
}

func TestListVaultsPaginationAndSort(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	c := keystest.VaultClient(t, env, env.Provider)
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	names := []string{"delta", "alpha", "echo", "charlie", "bravo"}
	for _, n := range names {
		createVault(t, c, tenancy, n)
	}
	var got []string
	var page *string
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("pagination does not end")
		}
		resp, err := c.ListVaults(ctx, keymanagement.ListVaultsRequest{CompartmentId: common.String(tenancy), Limit: common.Int(2), Page: page,
			SortBy: keymanagement.ListVaultsSortByDisplayname, SortOrder: keymanagement.ListVaultsSortOrderAsc})
		if err != nil {
			t.Fatalf("ListVaults: %v", err)
		}
		if len(resp.Items) > 2 {
			t.Fatalf("page of %d items with limit 2", len(resp.Items))
		}
		for _, v := range resp.Items {
			got = append(got, *v.DisplayName)
		}
		if resp.OpcNextPage == nil {
			break
		}
		page = resp.OpcNextPage
	}
	want := "alpha bravo charlie delta echo"
	if strings.Join(got, " ") != want {
		t.Fatalf("sorted by name: %v, want %s", got, want)
	}
	// Default order: newest first.
	resp, err := c.ListVaults(ctx, keymanagement.ListVaultsRequest{CompartmentId: common.String(tenancy)})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Items) != 5 || *resp.Items[0].DisplayName != "bravo" || *resp.Items[4].DisplayName != "delta" {
		t.Fatalf("default order wrong: %d items, first %q", len(resp.Items), *resp.Items[0].DisplayName)
	}
	// A compartment that does not exist is not in the policy tree: 404,
	// as in OCI.
	_, err = c.ListVaults(ctx, keymanagement.ListVaultsRequest{CompartmentId: common.String("ocid1.compartment.oc1..nothere")})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusNotFound {
		t.Fatalf("unknown compartment: %d", se.GetHTTPStatusCode())
	}
	// A bad page token is a 400.
	_, err = c.ListVaults(ctx, keymanagement.ListVaultsRequest{CompartmentId: common.String(tenancy), Page: common.String("not-a-token")})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusBadRequest {
		t.Fatalf("bad page token: %d", se.GetHTTPStatusCode())
	}
}

func TestVaultNegatives(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	c := keystest.VaultClient(t, env, env.Provider)
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)

	_, err := c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: common.String("ocid1.vault.oc1.local.missing")})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusNotFound || se.GetCode() != "NotAuthorizedOrNotFound" || se.GetOpcRequestID() == "" {
		t.Fatalf("missing vault: %d %s request id %q", se.GetHTTPStatusCode(), se.GetCode(), se.GetOpcRequestID())
	}
	_, err = c.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String("ocid1.compartment.oc1..missing"), DisplayName: common.String("x"),
		VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusNotFound {
		t.Fatalf("vault in missing compartment: %d %s", se.GetHTTPStatusCode(), se.GetCode())
	}
	_, err = c.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(tenancy), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusBadRequest || !strings.Contains(se.GetMessage(), "displayName") {
		t.Fatalf("missing displayName: %d %s %q", se.GetHTTPStatusCode(), se.GetCode(), se.GetMessage())
	}
	_, err = c.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(tenancy), DisplayName: common.String("x"), VaultType: keymanagement.CreateVaultDetailsVaultTypeExternal}})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusBadRequest || !strings.Contains(se.GetMessage(), "EXTERNAL") {
		t.Fatalf("external vault: %d %q", se.GetHTTPStatusCode(), se.GetMessage())
	}
	v := createVault(t, c, tenancy, "v")
	_, err = c.CancelVaultDeletion(ctx, keymanagement.CancelVaultDeletionRequest{VaultId: v.Id})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusConflict || se.GetCode() != "IncorrectState" {
		t.Fatalf("cancel deletion of active vault: %d %s", se.GetHTTPStatusCode(), se.GetCode())
	}
}

func TestCreateVaultRetryToken(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	c := keystest.VaultClient(t, env, env.Provider)
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	req := keymanagement.CreateVaultRequest{OpcRetryToken: common.String("token-1"), CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(tenancy), DisplayName: common.String("once"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}}
	a, err := c.CreateVault(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateVault(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if *a.Id != *b.Id {
		t.Fatalf("same retry token made two vaults: %s, %s", *a.Id, *b.Id)
	}
	list, err := c.ListVaults(ctx, keymanagement.ListVaultsRequest{CompartmentId: common.String(tenancy)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("%d vaults after a retried create", len(list.Items))
	}
	req.CreateVaultDetails.DisplayName = common.String("different")
	_, err = c.CreateVault(ctx, req)
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusConflict || se.GetCode() != "InvalidatedRetryToken" {
		t.Fatalf("reused token for another request: %d %s", se.GetHTTPStatusCode(), se.GetCode())
	}
}

func TestDueDeletionCompletes(t *testing.T) {
	clock := keystest.NewClock()
	env := coffertest.Start(t, coffertest.Options{Config: func(cfg *server.Config) { cfg.Now = clock.Now }})
	c := keystest.VaultClient(t, env, env.Provider)
	ctx := context.Background()
	v := createVault(t, c, keystest.Tenancy(t, env), "doomed")
	if _, err := c.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: v.Id}); err != nil {
		t.Fatal(err)
	}
	env.Server.RunJobs(ctx)
	got, err := c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if err != nil {
		t.Fatal(err)
	}
	if got.LifecycleState != keymanagement.VaultLifecycleStatePendingDeletion {
		t.Fatalf("state before due: %s", got.LifecycleState)
	}
	// Move the server clock 31 days on; the SDK's request dates follow it
	// only through the server's skew check, so keep the skew check on the
	// real clock by re-reading after the job with the clock reset.
	clock.Set(time.Now().Add(31 * 24 * time.Hour))
	env.Server.RunJobs(ctx)
	clock.Set(time.Now())
	got, err = c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if err != nil {
		t.Fatal(err)
	}
	if got.LifecycleState != keymanagement.VaultLifecycleStateDeleted {
		t.Fatalf("state after due: %s", got.LifecycleState)
	}
}
