package identityapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/example/helpers"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
)

// A compartment holding a vault moves from Old to New (both under P): the
// group granted in Old loses the vault, the group granted in New gains it,
// on the next request. Only a caller with manage all-resources on P, the
// lowest shared parent, may move it; the work request says SUCCEEDED.
func TestMoveCompartmentAccessFollowsTheNewPath(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)

	p := newCompartment(t, admin, tenancy, "P")
	oldC := newCompartment(t, admin, *p.Id, "Old")
	newC := newCompartment(t, admin, *p.Id, "New")
	app := newCompartment(t, admin, *oldC.Id, "App")
	v := newVault(t, keystest.VaultClient(t, env, env.Provider), *app.Id, "moved")

	gOld, gNew := newGroup(t, admin, tenancy, "GOld"), newGroup(t, admin, tenancy, "GNew")
	gMove, gBoth := newGroup(t, admin, tenancy, "GMove"), newGroup(t, admin, tenancy, "GBoth")
	uOld, uNew := newUser(t, admin, tenancy, "u-old", *gOld.Id), newUser(t, admin, tenancy, "u-new", *gNew.Id)
	mover, both := newUser(t, admin, tenancy, "mover", *gMove.Id), newUser(t, admin, tenancy, "both", *gBoth.Id)
	nobody := newUser(t, admin, tenancy, "nobody")
	onTenancy := newPolicy(t, admin, tenancy, "grants",
		"Allow group GOld to read vaults in compartment P:Old",
		"Allow group GNew to read vaults in compartment P:New",
		"Allow group GMove to manage all-resources in compartment P",
		"Allow group GBoth to manage all-resources in compartment P:Old",
		"Allow group GBoth to manage all-resources in compartment P:New")

	getVault := func(who principal) error {
		_, err := keystest.VaultClient(t, env, who.Provider).GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
		return err
	}
	if err := getVault(uOld); err != nil {
		t.Fatalf("u-old before the move: %v", err)
	}
	wantError(t, "u-new before the move", getVault(uNew), http.StatusNotFound, "NotAuthorizedOrNotFound")

	req := identity.MoveCompartmentRequest{CompartmentId: app.Id,
		MoveCompartmentDetails: identity.MoveCompartmentDetails{TargetCompartmentId: newC.Id}}
	// Rights on the current and the target parent are not enough: the
	// lowest shared parent is P. Nor is no policy at all.
	for name, who := range map[string]principal{"both": both, "nobody": nobody} {
		_, err := identityClient(t, env, who.Provider).MoveCompartment(ctx, req)
		wantError(t, name+" MoveCompartment", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	}
	moverClient := identityClient(t, env, mover.Provider)
	resp, err := moverClient.MoveCompartment(ctx, req)
	if err != nil {
		t.Fatalf("MoveCompartment: %v", err)
	}
	if resp.RawResponse.StatusCode != http.StatusAccepted || resp.OpcWorkRequestId == nil {
		t.Fatalf("MoveCompartment: status %d, work request %v", resp.RawResponse.StatusCode, resp.OpcWorkRequestId)
	}

	if err := getVault(uNew); err != nil {
		t.Fatalf("u-new after the move: %v", err)
	}
	wantError(t, "u-old after the move", getVault(uOld), http.StatusNotFound, "NotAuthorizedOrNotFound")
	got, err := admin.GetCompartment(ctx, identity.GetCompartmentRequest{CompartmentId: app.Id})
	if err != nil || *got.CompartmentId != *newC.Id || got.LifecycleState != identity.CompartmentLifecycleStateActive {
		t.Fatalf("GetCompartment after the move: %+v %v", got.Compartment, err)
	}
	// The policy attached to the tenancy (a shared ancestor) names
	// compartments P:Old and P:New, not App: unchanged.
	if pol, err := admin.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: onTenancy.Id}); err != nil || strings.Join(pol.Statements, "\n") != strings.Join(onTenancy.Statements, "\n") {
		t.Fatalf("policy naming no moved path changed: %v", err)
	}

	wr, err := moverClient.GetWorkRequest(ctx, identity.GetWorkRequestRequest{WorkRequestId: resp.OpcWorkRequestId})
	if err != nil {
		t.Fatalf("GetWorkRequest: %v", err)
	}
	if wr.Status != identity.WorkRequestStatusSucceeded || wr.OperationType != "MOVE_COMPARTMENT" || *wr.CompartmentId != *newC.Id ||
		wr.PercentComplete == nil || *wr.PercentComplete != 100 || wr.TimeFinished == nil || wr.TimeAccepted == nil ||
		len(wr.Resources) != 1 || *wr.Resources[0].Identifier != *app.Id || wr.Resources[0].ActionType != identity.WorkRequestResourceActionTypeUpdated {
		t.Fatalf("work request: %+v", wr.WorkRequest)
	}
	_, err = identityClient(t, env, nobody.Provider).GetWorkRequest(ctx, identity.GetWorkRequestRequest{WorkRequestId: resp.OpcWorkRequestId})
	wantError(t, "nobody GetWorkRequest", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	list, err := admin.ListWorkRequests(ctx, identity.ListWorkRequestsRequest{CompartmentId: newC.Id, ResourceIdentifier: app.Id})
	if err != nil || len(list.Items) != 1 || *list.Items[0].Id != *resp.OpcWorkRequestId || list.Items[0].Status != identity.WorkRequestSummaryStatusSucceeded {
		t.Fatalf("ListWorkRequests: %+v %v", list.Items, err)
	}
	_, err = identityClient(t, env, nobody.Provider).ListWorkRequests(ctx, identity.ListWorkRequestsRequest{CompartmentId: newC.Id})
	wantError(t, "nobody ListWorkRequests", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	_, err = admin.GetWorkRequest(ctx, identity.GetWorkRequestRequest{WorkRequestId: common.String("ocid1.workrequest.oc1.dev.nothing")})
	wantError(t, "GetWorkRequest of nothing", err, http.StatusNotFound, "NotAuthorizedOrNotFound")

	// DeleteCompartment answers with a work request too.
	empty := newCompartment(t, admin, tenancy, "Empty")
	del, err := admin.DeleteCompartment(ctx, identity.DeleteCompartmentRequest{CompartmentId: empty.Id})
	if err != nil || del.OpcWorkRequestId == nil {
		t.Fatalf("DeleteCompartment: %v %v", err, del.OpcWorkRequestId)
	}
	dwr, err := admin.GetWorkRequest(ctx, identity.GetWorkRequestRequest{WorkRequestId: del.OpcWorkRequestId})
	if err != nil || dwr.OperationType != identity.WorkRequestOperationTypeCompartment || dwr.Status != identity.WorkRequestStatusSucceeded {
		t.Fatalf("delete work request: %+v %v", dwr.WorkRequest, err)
	}
}

// The refusals of MoveCompartment, through the SDK: each fails at once
// with a status the SDK's default retry policy does not retry.
func TestMoveCompartmentRefusals(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)
	a := newCompartment(t, admin, tenancy, "A")
	b := newCompartment(t, admin, *a.Id, "B")
	d := newCompartment(t, admin, tenancy, "D")
	newCompartment(t, admin, *d.Id, "B")
	gone := newCompartment(t, admin, tenancy, "Gone")
	if _, err := admin.DeleteCompartment(ctx, identity.DeleteCompartmentRequest{CompartmentId: gone.Id}); err != nil {
		t.Fatal(err)
	}
	moveReq := func(id, target *string) identity.MoveCompartmentRequest {
		return identity.MoveCompartmentRequest{CompartmentId: id, MoveCompartmentDetails: identity.MoveCompartmentDetails{TargetCompartmentId: target}}
	}
	for _, tc := range []struct {
		name   string
		req    identity.MoveCompartmentRequest
		status int
		code   string
	}{
		{"the root", moveReq(common.String(tenancy), a.Id), http.StatusBadRequest, "InvalidParameter"},
		{"into its own subtree", moveReq(a.Id, b.Id), http.StatusBadRequest, "InvalidParameter"},
		{"into itself", moveReq(a.Id, a.Id), http.StatusBadRequest, "InvalidParameter"},
		{"into its parent", moveReq(b.Id, a.Id), http.StatusBadRequest, "InvalidParameter"},
		{"a name taken at the target", moveReq(b.Id, d.Id), http.StatusConflict, "Conflict"},
		{"a deleted target", moveReq(b.Id, gone.Id), http.StatusBadRequest, "RelatedResourceNotAuthorizedOrNotFound"},
		{"no target", moveReq(b.Id, nil), http.StatusBadRequest, "MissingParameter"},
		{"a malformed target", moveReq(b.Id, common.String("not-an-ocid")), http.StatusBadRequest, "InvalidParameter"},
		{"an unknown compartment", moveReq(common.String("ocid1.compartment.oc1..nothing"), d.Id), http.StatusNotFound, "NotAuthorizedOrNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admin.MoveCompartment(ctx, tc.req)
			se := wantError(t, tc.name, err, tc.status, tc.code)
			if strings.TrimSpace(se.GetMessage()) == "" {
				t.Fatal("no message")
			}
		})
	}
	// A stale etag is 412.
	req := moveReq(b.Id, common.String(tenancy))
	req.IfMatch = common.String("stale")
	_, err := admin.MoveCompartment(ctx, req)
	wantError(t, "stale if-match", err, http.StatusPreconditionFailed, "NoEtagMatch")
	// The same retry token answers the same work request; the move happens
	// once.
	req = moveReq(b.Id, common.String(tenancy))
	req.OpcRetryToken = common.String("move-b-once")
	first, err := admin.MoveCompartment(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.NextSecond()
	again, err := admin.MoveCompartment(ctx, req)
	if err != nil || *again.OpcWorkRequestId != *first.OpcWorkRequestId {
		t.Fatalf("retried MoveCompartment: %v (work requests %v, %v)", err, first.OpcWorkRequestId, again.OpcWorkRequestId)
	}
}

// ListRegions, ListAvailabilityDomains and ListFaultDomains: one region,
// one availability domain, three fault domains; a user without policy is
// refused, a user granted in a compartment lists from there.
func TestRegionLayout(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)
	x := newCompartment(t, admin, tenancy, "X")
	g := newGroup(t, admin, tenancy, "Lookers")
	looker := newUser(t, admin, tenancy, "looker", *g.Id)
	nobody := newUser(t, admin, tenancy, "nobody")
	newPolicy(t, admin, tenancy, "look", "Allow group Lookers to inspect compartments in compartment X")

	subs, err := admin.ListRegionSubscriptions(ctx, identity.ListRegionSubscriptionsRequest{TenancyId: common.String(tenancy)})
	if err != nil || len(subs.Items) != 1 {
		t.Fatalf("ListRegionSubscriptions: %v", err)
	}
	region := *subs.Items[0].RegionName
	regions, err := admin.ListRegions(ctx)
	if err != nil || len(regions.Items) != 1 || *regions.Items[0].Name != region || *regions.Items[0].Key != *subs.Items[0].RegionKey {
		t.Fatalf("ListRegions: %+v %v", regions.Items, err)
	}
	ads, err := admin.ListAvailabilityDomains(ctx, identity.ListAvailabilityDomainsRequest{CompartmentId: common.String(tenancy)})
	if err != nil || len(ads.Items) != 1 {
		t.Fatalf("ListAvailabilityDomains: %+v %v", ads.Items, err)
	}
	ad := ads.Items[0]
	if *ad.Name != (*ad.Name)[:4]+":"+strings.ToUpper(region)+"-AD-1" || *ad.CompartmentId != tenancy ||
		!strings.HasPrefix(*ad.Id, "ocid1.availabilitydomain.oc1..") {
		t.Fatalf("availability domain: %+v", ad)
	}
	fds, err := admin.ListFaultDomains(ctx, identity.ListFaultDomainsRequest{CompartmentId: common.String(tenancy), AvailabilityDomain: ad.Name})
	if err != nil || len(fds.Items) != 3 || *fds.Items[2].Name != "FAULT-DOMAIN-3" || *fds.Items[0].AvailabilityDomain != *ad.Name {
		t.Fatalf("ListFaultDomains: %+v %v", fds.Items, err)
	}
	_, err = admin.ListFaultDomains(ctx, identity.ListFaultDomainsRequest{CompartmentId: common.String(tenancy), AvailabilityDomain: common.String("xxxx:PHX-AD-1")})
	wantError(t, "unknown availability domain", err, http.StatusBadRequest, "InvalidParameter")
	// The SDK will not send a request without availabilityDomain; a raw
	// request is 400.
	var none []identity.FaultDomain
	if status := callJSON(t, admin, http.MethodGet, "/20160918/faultDomains?compartmentId="+tenancy, "", &none); status != http.StatusBadRequest {
		t.Fatalf("ListFaultDomains without availabilityDomain: status %d", status)
	}

	lc := identityClient(t, env, looker.Provider)
	if got, err := lc.ListAvailabilityDomains(ctx, identity.ListAvailabilityDomainsRequest{CompartmentId: x.Id}); err != nil || *got.Items[0].Name != *ad.Name {
		t.Fatalf("looker in X: %v", err)
	}
	if _, err := lc.ListFaultDomains(ctx, identity.ListFaultDomainsRequest{CompartmentId: x.Id, AvailabilityDomain: ad.Name}); err != nil {
		t.Fatalf("looker fault domains in X: %v", err)
	}
	_, err = lc.ListAvailabilityDomains(ctx, identity.ListAvailabilityDomainsRequest{CompartmentId: common.String(tenancy)})
	wantError(t, "looker in the tenancy", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	nc := identityClient(t, env, nobody.Provider)
	_, err = nc.ListAvailabilityDomains(ctx, identity.ListAvailabilityDomainsRequest{CompartmentId: common.String(tenancy)})
	wantError(t, "nobody ListAvailabilityDomains", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	_, err = nc.ListRegions(ctx)
	wantError(t, "nobody ListRegions", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
}

// The SDK's own examples, Example_moveCompartment and
// Example_listAvailabilityDomains (example/example_compartment_test.go,
// example/example_identity_test.go), call for call, with the default
// configuration provider and the default retry policy; changed only to
// point at the local server (OCI_CONFIG_FILE, the client's Host) and to
// fail the test instead of the process.
func TestSDKExamples(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	t.Setenv("OCI_CONFIG_FILE", env.Server.ConfigPath)
	fatalIfError := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	newClient := func() identity.IdentityClient {
		c, err := identity.NewIdentityClientWithConfigurationProvider(common.DefaultConfigProvider())
		fatalIfError(err)
		c.Host = env.URL
		return c
	}

	t.Run("Example_moveCompartment", func(t *testing.T) {
		c := newClient()
		tenancyID, err := common.DefaultConfigProvider().TenancyOCID()
		fatalIfError(err)
		ctx := context.Background()
		create := func(name string) *string {
			resp, err := c.CreateCompartment(ctx, identity.CreateCompartmentRequest{
				CreateCompartmentDetails: identity.CreateCompartmentDetails{CompartmentId: common.String(tenancyID), Name: common.String(name), Description: common.String(name)},
				RequestMetadata:          helpers.GetRequestMetadataWithDefaultRetryPolicy(),
			})
			fatalIfError(err)
			return resp.Id
		}
		get := func(id *string) identity.Compartment {
			resp, err := c.GetCompartment(ctx, identity.GetCompartmentRequest{CompartmentId: id, RequestMetadata: helpers.GetRequestMetadataWithDefaultRetryPolicy()})
			fatalIfError(err)
			return resp.Compartment
		}
		cpSource := create("cp_source_GOSDK")
		cpTarget := create("cp_target_GOSDK")
		resp, err := c.MoveCompartment(ctx, identity.MoveCompartmentRequest{
			CompartmentId:          cpSource,
			MoveCompartmentDetails: identity.MoveCompartmentDetails{TargetCompartmentId: cpTarget},
			RequestMetadata:        helpers.GetRequestMetadataWithDefaultRetryPolicy(),
		})
		fatalIfError(err)
		t.Logf("move compartment with workrequest id: %s", *resp.OpcWorkRequestId)
		newParent := get(cpSource).CompartmentId
		if name := get(newParent).Name; *name != "cp_target_GOSDK" {
			t.Fatalf("cp_source_GOSDK new parent is %s", *name)
		}
	})

	t.Run("Example_listAvailabilityDomains", func(t *testing.T) {
		c := newClient()
		tenancyID, err := common.DefaultConfigProvider().TenancyOCID()
		fatalIfError(err)
		r, err := c.ListAvailabilityDomains(context.Background(), identity.ListAvailabilityDomainsRequest{CompartmentId: &tenancyID})
		fatalIfError(err)
		if len(r.Items) != 1 {
			t.Fatalf("list of available domains: %v", r.Items)
		}
	})
}
