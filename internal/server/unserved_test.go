package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/operations"
	"github.com/coffer-vault/coffer/internal/server"
)

// cofferExtension reports whether a route is Coffer's own rather than one
// of the four OCI API families: the operator API and the actions under a
// "coffer" path segment, and OCI's instance federation endpoint (served by
// OCI's auth service, not Identity), and the web console under /console/.
func cofferExtension(operation, path string) bool {
	return strings.Contains(path+"/", "/coffer/") || operation == "X509Federation" || strings.HasPrefix(path, "/console/")
}

// TestRoutesAreOCIOperations: every route Coffer serves is the SDK's
// operation of that method and path template on that endpoint, under the
// SDK's name, or one of Coffer's own, which shadows no OCI operation.
func TestRoutesAreOCIOperations(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	served := 0
	for _, rt := range env.Server.Routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		var match *operations.Operation
		for _, op := range operations.Match(path) {
			if op.Method == method && op.Endpoint.String() == rt.Endpoint {
				match = &op
			}
			if op.Method == method && cofferExtension(rt.Operation, path) {
				t.Errorf("Coffer's %s (%s) shadows OCI's %s", rt.Operation, rt.Pattern, op.Name)
			}
		}
		switch {
		case match != nil:
			served++
			if match.Name != rt.Operation || match.Path != path {
				t.Errorf("%s route %s %s: the SDK calls it %s (%s %s)", rt.Endpoint, rt.Operation, rt.Pattern, match.Name, match.Method, match.Path)
			}
		case !cofferExtension(rt.Operation, path):
			t.Errorf("%s route %s (%s) is no operation of the SDK %s", rt.Endpoint, rt.Operation, rt.Pattern, operations.SDKVersion)
		}
	}
	if served < 70 {
		t.Fatalf("only %d routes are OCI operations", served)
	}
	t.Logf("Coffer serves %d of the %d operations of SDK %s", served, len(operations.All()), operations.SDKVersion)
}

// unservedCount is how many requests for operation the server answered as
// unserved, from its log.
func unservedCount(env *coffertest.Env, operation string) int {
	n := 0
	for _, line := range strings.Split(env.Logs.String(), "\n") {
		if strings.Contains(line, `"msg":"unserved operation"`) && strings.Contains(line, `"operation":"`+operation+`"`) {
			n++
		}
	}
	return n
}

// TestUnservedAnswers sends requests no route matches to each endpoint and
// checks the answer: 501 naming an OCI operation Coffer does not serve,
// 404 saying where an operation served elsewhere is, 405 naming what a
// path serves, 404 for what is no operation. No signature is needed to
// learn it, as with the 404 before.
func TestUnservedAnswers(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.MetricsListen = "127.0.0.1:0" }})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	vaultPath := "/20180608/vaults/" + *v.Id
	hosts := map[string]string{"main": env.URL, "management": *v.ManagementEndpoint, "crypto": *v.CryptoEndpoint}
	for _, tc := range []struct {
		endpoint, method, path string
		status                 int
		code, message, allow   string
	}{
		{"main", "POST", "/20180608/hsmClusters/ocid1.hsmcluster.oc1..x/actions/changeCompartment", 501, "MethodNotImplemented",
			"Coffer does not serve ChangeHsmClusterCompartment (POST /20180608/hsmClusters/{hsmClusterId}/actions/changeCompartment)", ""},
		{"main", "GET", "/20160918/tagNamespaces?compartmentId=x", 501, "MethodNotImplemented",
			"Coffer does not serve ListTagNamespaces (GET /20160918/tagNamespaces)", ""},
		{"main", "POST", "/20180608/ekmsPrivateEndpoints", 501, "MethodNotImplemented",
			"Coffer does not serve CreateEkmsPrivateEndpoint (POST /20180608/ekmsPrivateEndpoints)", ""},
		{"main", "GET", "/20180608/hsmClusters/ocid1.hsmcluster.oc1..x/hsmPartitions", 501, "MethodNotImplemented",
			"Coffer does not serve ListHsmPartitions (GET /20180608/hsmClusters/{hsmClusterId}/hsmPartitions)", ""},
		// The vault endpoints answer the same way (every KmsManagement and
		// KmsCrypto operation is served; these are other clients').
		{"management", "GET", "/20180608/hsmClusters", 501, "MethodNotImplemented",
			"Coffer does not serve ListHsmClusters (GET /20180608/hsmClusters)", ""},
		{"crypto", "GET", "/20180608/ekmsPrivateEndpoints/ocid1.ekmsprivateendpoint.oc1..x", 501, "MethodNotImplemented",
			"Coffer does not serve GetEkmsPrivateEndpoint", ""},
		{"management", "GET", "/20160918/tagNamespaces", 501, "MethodNotImplemented",
			"Coffer does not serve ListTagNamespaces", ""},
		// Served, on another endpoint.
		{"main", "POST", "/20180608/keys", 404, "NotFound",
			"CreateKey (POST /20180608/keys) is served on a vault's management endpoint, not on this endpoint", ""},
		{"main", "POST", "/20180608/encrypt", 404, "NotFound", "is served on a vault's crypto endpoint", ""},
		{"crypto", "GET", "/20180608/keys", 404, "NotFound", "ListKeys (GET /20180608/keys) is served on a vault's management endpoint", ""},
		{"management", "GET", vaultPath, 404, "NotFound", "GetVault (GET /20180608/vaults/{vaultId}) is served on the main endpoint", ""},
		// A method OCI does not define on the path.
		{"main", "DELETE", vaultPath, 405, "MethodNotAllowed",
			"DELETE /20180608/vaults/{vaultId} is not an OCI operation; this path serves GET (GetVault), PUT (UpdateVault)", "GET, PUT"},
		{"main", "PATCH", "/20160918/tagNamespaces", 405, "MethodNotAllowed",
			"OCI defines GET (ListTagNamespaces), POST (CreateTagNamespace) on this path, which Coffer does not serve here", ""},
		{"management", "DELETE", "/20180608/keys/ocid1.key.oc1..x", 405, "MethodNotAllowed",
			"this path serves GET (GetKey), PUT (UpdateKey)", "GET, PUT"},
		// No operation at all.
		{"main", "GET", "/20180608/nothing", 404, "NotFound", "GET /20180608/nothing is not an operation this endpoint serves", ""},
		{"main", "GET", "/20180608/vaults/", 404, "NotFound", "is not an operation this endpoint serves", ""},
		{"crypto", "POST", "/20180608/encrypt/x", 404, "NotFound", "is not an operation this endpoint serves", ""},
	} {
		req, err := http.NewRequest(tc.method, hosts[tc.endpoint]+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body struct{ Code, Message string }
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("%s %s %s: %d %q is not an OCI error", tc.endpoint, tc.method, tc.path, resp.StatusCode, b)
		}
		if resp.StatusCode != tc.status || body.Code != tc.code || !strings.Contains(body.Message, tc.message) {
			t.Errorf("%s %s %s: %d %s %q; want %d %s containing %q", tc.endpoint, tc.method, tc.path,
				resp.StatusCode, body.Code, body.Message, tc.status, tc.code, tc.message)
		}
		if got := resp.Header.Get("Allow"); tc.allow != "" && got != tc.allow {
			t.Errorf("%s %s %s: Allow %q, want %q", tc.endpoint, tc.method, tc.path, got, tc.allow)
		}
		if resp.Header.Get("opc-request-id") == "" {
			t.Errorf("%s %s %s: no opc-request-id", tc.endpoint, tc.method, tc.path)
		}
	}
	// Unserved operations are counted by name, so an operator sees what
	// the programs using Coffer miss.
	resp, err := http.Get(env.Server.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`coffer_requests_total{decision="none",operation="ChangeHsmClusterCompartment",status="501"} 1`,
		`coffer_requests_total{decision="none",operation="ListHsmClusters",status="501"} 1`,
		`coffer_requests_total{decision="none",operation="GetEkmsPrivateEndpoint",status="501"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestUnservedDefaultRetryPolicy uses SDK clients as an ordinary program
// makes them: the default retry policy and the default circuit breaker.
// After an identity write, which makes the Go SDK retry 404
// NotAuthorizedOrNotFound and similar errors for up to four minutes
// (eventual consistency), an unserved operation still fails at once: the
// server sees one request per call, and twelve calls in a row do not open
// the circuit breaker (which opens after 10 requests with 80% failures it
// counts).
func TestUnservedDefaultRetryPolicy(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	ctx := context.Background()
	root := tenancy(t, env.Provider)

	ic, err := identity.NewIdentityClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	ic.Host = env.URL
	if ic.Configuration.CircuitBreaker == nil {
		t.Fatal("the identity client has no circuit breaker by default")
	}
	if _, err := ic.CreateCompartment(ctx, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
		CompartmentId: &root, Name: common.String("unserved-ec"), Description: common.String("arms the SDK's eventual-consistency retries"),
	}}); err != nil {
		t.Fatalf("CreateCompartment: %v", err)
	}
	if common.EcContext.GetEndOfWindow() == nil {
		t.Fatal("CreateCompartment did not open the SDK's eventual-consistency window")
	}
	const calls = 12
	for range calls {
		_, err := ic.ListTagNamespaces(ctx, identity.ListTagNamespacesRequest{CompartmentId: &root})
		keystest.WantError(t, err, http.StatusNotImplemented, "MethodNotImplemented",
			"Coffer does not serve ListTagNamespaces (GET /20160918/tagNamespaces)")
	}
	if n := unservedCount(env, "ListTagNamespaces"); n != calls {
		t.Fatalf("server saw %d ListTagNamespaces requests for %d calls", n, calls)
	}

	hc, err := keymanagement.NewKmsHsmClusterClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	hc.Host = env.URL
	_, err = hc.ListHsmClusters(ctx, keymanagement.ListHsmClustersRequest{CompartmentId: &root})
	keystest.WantError(t, err, http.StatusNotImplemented, "MethodNotImplemented", "Coffer does not serve ListHsmClusters")
	if n := unservedCount(env, "ListHsmClusters"); n != 1 {
		t.Fatalf("server saw %d ListHsmClusters requests for one call", n)
	}

	ec, err := keymanagement.NewEkmClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	ec.Host = *v.ManagementEndpoint // an unserved operation on a vault endpoint too
	_, err = ec.ListEkmsPrivateEndpoints(ctx, keymanagement.ListEkmsPrivateEndpointsRequest{CompartmentId: &root})
	keystest.WantError(t, err, http.StatusNotImplemented, "MethodNotImplemented", "Coffer does not serve ListEkmsPrivateEndpoints")
	if n := unservedCount(env, "ListEkmsPrivateEndpoints"); n != 1 {
		t.Fatalf("server saw %d ListEkmsPrivateEndpoints requests for one call", n)
	}
}

// TestUnservedNodeSDK: the same with the official TypeScript/JavaScript
// SDK's defaults (testdata/regionapp-node/unserved.js), against a region:
// each of twelve calls is one request answered 501.
func TestUnservedNodeSDK(t *testing.T) {
	r, cmd := nodeRegionApp(t, "unserved.js")
	// Retries would take minutes; one request per call takes milliseconds,
	// so a program still running after a minute is the SDK retrying.
	out, _ := runProgram(t, cmd, time.Minute)
	want := "unserved: 501 MethodNotImplemented Coffer does not serve ListTagNamespaces (GET /20160918/tagNamespaces)"
	if n := strings.Count(out, want); n != 12 {
		t.Fatalf("%d of 12 calls answered %q:\n%s", n, want, out)
	}
	if n := unservedCount(r.Env, "ListTagNamespaces"); n != 12 {
		t.Fatalf("server saw %d ListTagNamespaces requests for 12 calls", n)
	}
}

// TestUnservedRegionHosts: in region mode, where the Host header picks the
// service and the vault, the service names and a vault's management and
// crypto names answer an unserved operation the same way.
func TestUnservedRegionHosts(t *testing.T) {
	r := coffertest.StartRegion(t, realmDomain)
	r.UseInProcess(t)
	vc, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(r.Provider)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(&vc.BaseClient)
	comp := tenancy(t, r.Provider)
	v, err := vc.CreateVault(context.Background(), keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &comp, DisplayName: common.String("unserved-region"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatalf("CreateVault: %v", err)
	}
	hc := regionHTTP(r)
	for _, tc := range []struct{ host, method, path, name string }{
		{"kms.local." + realmDomain, "GET", "/20180608/hsmClusters", "ListHsmClusters"},
		{"identity.local.oci." + realmDomain, "GET", "/20160918/tagNamespaces", "ListTagNamespaces"},
		{strings.TrimPrefix(*v.ManagementEndpoint, "https://"), "GET", "/20180608/ekmsPrivateEndpoints", "ListEkmsPrivateEndpoints"},
		{strings.TrimPrefix(*v.CryptoEndpoint, "https://"), "GET", "/20180608/ekmsPrivateEndpoints", "ListEkmsPrivateEndpoints"},
	} {
		req, err := http.NewRequest(tc.method, "https://"+r.Addr+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		name := tc.host
		if h, _, err := net.SplitHostPort(tc.host); err == nil {
			name = h
		}
		hc.Transport.(*http.Transport).TLSClientConfig.ServerName = name
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if status, code := ociError(t, resp); status != http.StatusNotImplemented || code != "MethodNotImplemented" {
			t.Errorf("%s %s on %s: %d %s, want 501 MethodNotImplemented", tc.method, tc.path, tc.host, status, code)
		}
		if n := unservedCount(r.Env, tc.name); n == 0 {
			t.Errorf("%s on %s: not logged as unserved", tc.name, tc.host)
		}
	}
}
