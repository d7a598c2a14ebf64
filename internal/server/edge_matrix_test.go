package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/server"
)

// The edge matrix drives every registered route of every service (from
// Server.Routes, so a new route is covered without editing this file) with
// malformed input, signed correctly, as the administrator and as a user no
// policy allows anything. It asserts what issue 11 found broken: no
// response is a 5xx, every error has OCI's {"code","message"} body, nothing
// panics, and a malformed id is a 400 for every caller, before anything is
// looked up.

// badSegments are path-segment values, already percent-encoded.
var badSegments = map[string]string{
	"nul":         "ocid1.user.oc1..a%00b",
	"invalidUTF8": "ocid1.user.oc1..%FF%FE",
	"long":        "ocid1.user.oc1.." + strings.Repeat("a", 1100),
	"control":     "ocid1.user.oc1..a%0Ab%1B",
	"dotdotSlash": "..%2F..%2Fetc",
	"slash":       "a%2Fb",
	"dots":        "%2E%2E",
	"hugeNumber":  "99999999999999999999999999",
	"negative":    "-1",
	"space":       "a%20b",
}

// badQueries are query strings every GET route (and the bodiless POST
// getByName) is sent.
var badQueries = []string{
	"limit=0", "limit=-1", "limit=1001", "limit=99999999999999999999", "limit=abc",
	"page=%00", "page=!!!garbage!!!", "page=" + strings.Repeat("A", 5000), "page=czEuZ2FyYmFnZQ",
	"lifecycleState=BOGUS", "sortBy=BOGUS", "sortOrder=BOGUS", "stage=BOGUS",
	"versionNumber=-1", "versionNumber=99999999999999999999",
	"compartmentId=%00", "compartmentId=%FF", "compartmentId=" + strings.Repeat("x", 1100),
	"vaultId=a%00b", "userId=%0A", "groupId=..%2F..", "name=a%00b", "secretName=a%00b", "secretVersionName=a%00b",
	"accessLevel=BOGUS", "compartmentIdInSubtree=maybe", "length=-99999999999999999999",
	"protectionMode=BOGUS", "algorithm=BOGUS",
}

// badBodies are request bodies every POST and PUT route is sent.
func badBodies() map[string][]byte {
	tags := map[string]string{}
	for i := 0; i < 10000; i++ {
		tags[fmt.Sprintf("k%d", i)] = "v"
	}
	manyTags, _ := json.Marshal(map[string]any{"freeformTags": tags, "definedTags": map[string]any{"ns": map[string]any{"k": []int{1}}}})
	bigMeta, _ := json.Marshal(map[string]any{"metadata": map[string]string{"a": strings.Repeat("x", 500_000)}, "description": "d"})
	return map[string][]byte{
		"array":         []byte(`[]`),
		"string":        []byte(`"x"`),
		"number":        []byte(`5`),
		"null":          []byte(`null`),
		"wrongTypes":    []byte(`{"compartmentId":5,"displayName":[],"name":{},"freeformTags":"x","definedTags":[1],"keyShape":"AES","plaintext":7,"keyId":true,"secretContent":[],"statements":"s","principal":3}`),
		"deepNesting":   []byte(strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)),
		"deepObject":    []byte(`{"metadata":` + strings.Repeat(`{"a":`, 9000) + `1` + strings.Repeat("}", 9000) + `}`),
		"duplicateKeys": []byte(`{"compartmentId":"a","compartmentId":"ocid1.tenancy.oc1..x%00","name":"a","name":"b"}`),
		"truncated":     []byte(`{"compartmentId":"ocid1.tenancy.oc1..aaaa","displayName":`),
		"trailing":      []byte(`{} {}`),
		"nulIDs":        []byte("{\"compartmentId\":\"ocid1.tenancy.oc1..a\\u0000\",\"vaultId\":\"\\u0000\",\"keyId\":\"ocid1.key.oc1..\\u0000\",\"userId\":\"a\\u0000\",\"groupId\":\"\\ud800\",\"principal\":{\"userId\":\"\\u0000\"},\"secretId\":\"..\\/..\"}"),
		"invalidUTF8":   append(append([]byte(`{"name":"`), 0xff, 0xfe), []byte(`","displayName":"x"}`)...),
		"manyTags":      manyTags,
		"bigMetadata":   bigMeta,
		"emptyPlain":    []byte(`{"keyId":"ocid1.key.oc1..aaaa","plaintext":""}`),
	}
}

// heavyBodies are sent as the administrator only.
var heavyBodies = map[string]bool{"deepNesting": true, "deepObject": true, "manyTags": true, "bigMetadata": true}

var wildcard = regexp.MustCompile(`\{([A-Za-z]+)\}`)

type matrixReq struct {
	route   server.RouteInfo
	who     string
	class   string
	method  string
	rawURL  string
	body    []byte
	badID   bool // a malformed id in the path: must be 400 for everyone
	wrongID bool // a well-formed OCID of another type in an id path parameter: 404
}

func TestEdgeMatrix(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	admin := env.Provider
	nobody := env.NewUser(t, "edge-nobody")
	ids := edgeFixtures(t, env, nobody)

	routes := env.Server.Routes()
	if len(routes) < 50 {
		t.Fatalf("Server.Routes lists %d routes; expected every service's", len(routes))
	}
	hosts := map[string]string{server.EndpointMain: env.URL, server.EndpointManagement: ids["managementEndpoint"], server.EndpointCrypto: ids["cryptoEndpoint"]}

	var reqs []matrixReq
	bodies := badBodies()
	bodyNames := make([]string, 0, len(bodies))
	for n := range bodies {
		bodyNames = append(bodyNames, n)
	}
	sort.Strings(bodyNames)
	for _, rt := range routes {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			t.Fatalf("route %s: pattern %q has no method", rt.Operation, rt.Pattern)
		}
		// Mutating routes get well-formed ids that name nothing, so the
		// matrix cannot delete or disable its own fixtures.
		mutating := method == http.MethodPost || method == http.MethodDelete
		fill := func(skip string) string {
			return wildcard.ReplaceAllStringFunc(path, func(m string) string {
				name := m[1 : len(m)-1]
				if name == skip {
					return m
				}
				v, ok := ids[name]
				if !ok {
					t.Fatalf("route %s: no fixture value for path parameter {%s}: add one to edgeFixtures", rt.Operation, name)
				}
				if mutating {
					if fake, ok := ids["fake:"+name]; ok {
						return fake
					}
				}
				return v
			})
		}
		base := hosts[rt.Endpoint]
		for _, who := range []string{"admin", "nobody"} {
			add := func(r matrixReq) {
				r.route, r.who, r.method = rt, who, method
				reqs = append(reqs, r)
			}
			var body []byte
			if method == http.MethodPost || method == http.MethodPut {
				body = []byte(`{}`)
			}
			add(matrixReq{class: "baseline", rawURL: base + fill(""), body: body})
			for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
				name := m[1]
				tmpl := fill(name)
				classes := make([]string, 0, len(badSegments))
				for c := range badSegments {
					classes = append(classes, c)
				}
				sort.Strings(classes)
				for _, c := range classes {
					add(matrixReq{class: "path " + name + " " + c, rawURL: base + strings.Replace(tmpl, "{"+name+"}", badSegments[c], 1),
						body: body, badID: c != "dotdotSlash" && c != "dots"})
				}
				if strings.HasSuffix(name, "Id") && name != "tenancyId" {
					wrong := ocid.New(ocid.WrappingKey, "dev")
					add(matrixReq{class: "path " + name + " wrong type", rawURL: base + strings.Replace(tmpl, "{"+name+"}", wrong, 1), body: body, wrongID: true})
				}
			}
			if method == http.MethodGet || rt.Operation == "GetSecretBundleByName" {
				for _, q := range badQueries {
					add(matrixReq{class: "query " + q[:min(len(q), 40)], rawURL: base + fill("") + "?" + q, body: body})
				}
			}
			if method == http.MethodPost || method == http.MethodPut {
				for _, n := range bodyNames {
					if heavyBodies[n] && who != "admin" {
						// Decoded before authorization, so the same work
						// for both callers: once keeps the run short.
						continue
					}
					add(matrixReq{class: "body " + n, rawURL: base + fill(""), body: bodies[n]})
				}
			}
		}
	}

	signers := map[string]common.HTTPRequestSigner{"admin": common.DefaultRequestSigner(admin), "nobody": common.DefaultRequestSigner(nobody)}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	type result struct {
		status int
		body   []byte
		err    error
	}
	results := make([]result, len(reqs))
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := reqs[i]
				var body io.Reader
				if r.body != nil {
					body = bytes.NewReader(r.body)
				}
				req, err := http.NewRequestWithContext(ctx, r.method, r.rawURL, body)
				if err != nil {
					results[i] = result{err: err}
					continue
				}
				if r.body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
				if err := signers[r.who].Sign(req); err != nil {
					results[i] = result{err: err}
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					results[i] = result{err: err}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				results[i] = result{status: resp.StatusCode, body: b}
			}
		}()
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("%d requests over %d routes in %v", len(reqs), len(routes), time.Since(start).Round(time.Millisecond))

	failures := 0
	fail := func(r matrixReq, format string, args ...any) {
		failures++
		if failures <= 40 {
			t.Errorf("%s %s as %s [%s]: %s", r.route.Operation, r.method, r.who, r.class, fmt.Sprintf(format, args...))
		}
	}
	byStatus := map[int]int{}
	for i, r := range reqs {
		res := results[i]
		if res.err != nil {
			fail(r, "request failed: %v", res.err)
			continue
		}
		byStatus[res.status]++
		if res.status >= 500 {
			fail(r, "status %d: %s", res.status, res.body)
			continue
		}
		if res.status == http.StatusUnauthorized && r.route.Signed {
			// A signed request refused means the matrix tested nothing.
			fail(r, "401: the request's signature was refused: %s", res.body)
			continue
		}
		if res.status >= 400 {
			var e struct {
				Code    *string `json:"code"`
				Message *string `json:"message"`
			}
			if err := json.Unmarshal(res.body, &e); err != nil || e.Code == nil || *e.Code == "" || e.Message == nil || *e.Message == "" {
				fail(r, "status %d with a body that is not an OCI error: %q", res.status, res.body)
				continue
			}
		}
		if !r.route.Signed {
			continue
		}
		switch {
		case r.badID && res.status != http.StatusBadRequest:
			// The shape of every path parameter is checked before anything
			// is looked up or authorized: 400 for every caller.
			fail(r, "malformed path parameter: status %d, want 400: %s", res.status, res.body)
		case r.wrongID && res.status != http.StatusNotFound && !(res.status == http.StatusBadRequest && !bytes.Contains(res.body, []byte(paramOf(r.class)))):
			// A body the handler checks first may be refused first, with
			// a 400 about the body; the id itself is a 404.
			fail(r, "OCID of another type: status %d, want 404: %s", res.status, res.body)
		}
	}
	if failures > 40 {
		t.Errorf("... and %d more failures", failures-40)
	}
	t.Logf("statuses: %v", byStatus)
	if strings.Contains(env.Logs.String(), "panic serving request") {
		t.Errorf("the server logged a panic")
	}
}

// edgeFixtures creates one of everything as the administrator and returns
// the values each path parameter takes ("fake:<name>" for a well-formed id
// that names nothing), and the vault's endpoints.
func edgeFixtures(t *testing.T, env *coffertest.Env, nobody common.ConfigurationProvider) map[string]string {
	t.Helper()
	ctx := context.Background()
	tenancy := env.Tenancy(t)
	ic := env.Identity(t)
	vc := vaultClient(t, env, env.Provider)
	v, err := vc.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &tenancy, DisplayName: common.String("edge"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatalf("CreateVault: %v", err)
	}
	mc, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(env.Provider, *v.ManagementEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&mc.BaseClient, *v.ManagementEndpoint)
	k, err := mc.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: &tenancy, DisplayName: common.String("edge"), ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
		KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)}}})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	sc, err := vault.NewVaultsClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&sc.BaseClient, env.URL)
	s, err := sc.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
		CompartmentId: &tenancy, VaultId: v.Id, KeyId: k.Id, SecretName: common.String("edge"),
		SecretContent: vault.Base64SecretContentDetails{Content: common.String(base64.StdEncoding.EncodeToString([]byte("s")))}}})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	g, err := ic.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &tenancy, Name: common.String("edge"), Description: common.String("edge")}})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	dg, err := ic.CreateDynamicGroup(ctx, identity.CreateDynamicGroupRequest{CreateDynamicGroupDetails: identity.CreateDynamicGroupDetails{
		CompartmentId: &tenancy, Name: common.String("edge-dg"), Description: common.String("edge"),
		MatchingRule: common.String("resource.type = 'fnfunc'")}})
	if err != nil {
		t.Fatalf("CreateDynamicGroup: %v", err)
	}
	p, err := ic.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &tenancy, Name: common.String("edge"), Description: common.String("edge"),
		Statements: []string{"allow group edge to read vaults in tenancy"}}})
	if err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}
	user, err := nobody.UserOCID()
	if err != nil {
		t.Fatal(err)
	}
	fp, err := nobody.KeyFingerprint()
	if err != nil {
		t.Fatal(err)
	}
	// A second user in the group, so the no-policy user stays without rights.
	u2, err := ic.CreateUser(ctx, identity.CreateUserRequest{CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: &tenancy, Name: common.String("edge-member"), Description: common.String("edge")}})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	m, err := ic.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{UserId: u2.Id, GroupId: g.Id}})
	if err != nil {
		t.Fatalf("AddUserToGroup: %v", err)
	}
	// A work request: deleting a compartment answers with one.
	gone, err := ic.CreateCompartment(ctx, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
		CompartmentId: &tenancy, Name: common.String("edge-gone"), Description: common.String("edge")}})
	if err != nil {
		t.Fatalf("CreateCompartment: %v", err)
	}
	del, err := ic.DeleteCompartment(ctx, identity.DeleteCompartmentRequest{CompartmentId: gone.Id})
	if err != nil || del.OpcWorkRequestId == nil {
		t.Fatalf("DeleteCompartment: %v (work request %v)", err, del.OpcWorkRequestId)
	}
	return map[string]string{
		"workRequestId": *del.OpcWorkRequestId, "fake:workRequestId": ocid.New(ocid.WorkRequest, "dev"),
		"managementEndpoint": *v.ManagementEndpoint, "cryptoEndpoint": *v.CryptoEndpoint,
		"tenancyId": tenancy, "compartmentId": tenancy,
		"userId": user, "fake:userId": ocid.New(ocid.User, ""),
		"fingerprint": fp, "fake:fingerprint": "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
		"groupId": *g.Id, "fake:groupId": ocid.New(ocid.Group, ""),
		"userGroupMembershipId": *m.Id, "fake:userGroupMembershipId": ocid.New(ocid.Membership, ""),
		"dynamicGroupId": *dg.Id, "fake:dynamicGroupId": ocid.New(ocid.DynamicGroup, ""),
		"policyId": *p.Id, "fake:policyId": ocid.New(ocid.Policy, ""),
		"fake:compartmentId": ocid.New(ocid.Compartment, ""),
		"vaultId":            *v.Id, "fake:vaultId": ocid.New(ocid.Vault, "dev"),
		// No replication exists in a single region: a well-formed id that
		// names nothing (404 for everyone).
		"replicationId": ocid.New(ocid.VaultReplication, "dev"),
		"keyId":         *k.Id, "fake:keyId": ocid.New(ocid.Key, "dev"),
		"keyVersionId": *k.CurrentKeyVersion, "fake:keyVersionId": ocid.New(ocid.KeyVersion, "dev"),
		"secretId": *s.Id, "fake:secretId": ocid.New(ocid.Secret, "dev"),
		"secretVersionNumber": "1", "fake:secretVersionNumber": "99",
	}
}

// paramOf returns the path parameter a "path <name> <class>" class names.
func paramOf(class string) string {
	f := strings.Fields(class)
	if len(f) < 2 {
		return class
	}
	return f[1]
}

// signedDo sends a request signed by signer and returns the status and body.
func signedDo(t *testing.T, signer common.HTTPRequestSigner, method, rawURL string, body []byte) (int, []byte) {
	t.Helper()
	return coffertest.Signed(t, signer, method, rawURL, body, time.Now())
}

// TestEdgeBounds: the inputs issue 11 found accepted are refused with a
// 400 whose message states the bound, and the values at the bound pass.
func TestEdgeBounds(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ids := edgeFixtures(t, env, env.NewUser(t, "edge-nobody"))
	tenancy := env.Tenancy(t)
	admin := common.DefaultRequestSigner(env.Provider)
	tags := func(n, keyLen, valueLen int) []byte {
		m := map[string]string{}
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("k%d", i)
			k += strings.Repeat("k", max(0, keyLen-len(k)))
			m[k] = strings.Repeat("v", valueLen)
		}
		b, _ := json.Marshal(map[string]any{"freeformTags": m})
		return b
	}
	meta := func(n int) []byte {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]string{"a": strings.Repeat("x", n)}})
		return b
	}
	plaintext := func(n int) []byte {
		b, _ := json.Marshal(map[string]any{"keyId": ids["keyId"], "plaintext": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'p'}, n))})
		return b
	}
	vaultURL := env.URL + "/20180608/vaults/" + ids["vaultId"]
	secretURL := env.URL + "/20180608/secrets/" + ids["secretId"]
	encryptURL := ids["cryptoEndpoint"] + "/20180608/encrypt"
	for _, tc := range []struct {
		name, method, url string
		body              []byte
		status            int
		message           string // a part of the message that states the bound
	}{
		{"limit=0", "GET", env.URL + "/20180608/vaults?compartmentId=" + tenancy + "&limit=0", nil, 400, "from 1 to 1000"},
		{"limit=1001", "GET", env.URL + "/20160918/users?compartmentId=" + tenancy + "&limit=1001", nil, 400, "from 1 to 1000"},
		{"limit=-1", "GET", env.URL + "/20180608/secrets?compartmentId=" + tenancy + "&limit=-1", nil, 400, "from 1 to 1000"},
		{"limit=1000", "GET", env.URL + "/20180608/secrets?compartmentId=" + tenancy + "&limit=1000", nil, 200, ""},
		{"page garbage", "GET", env.URL + "/20180608/secrets?compartmentId=" + tenancy + "&page=%00%01", nil, 400, "page"},
		{"page undecodable", "GET", env.URL + "/20160918/groups?compartmentId=" + tenancy + "&page=bm90LWEtdG9rZW4", nil, 400, "page token"},
		{"lifecycleState=BOGUS", "GET", env.URL + "/20180608/secrets?compartmentId=" + tenancy + "&lifecycleState=BOGUS", nil, 400, "ACTIVE"},
		{"lifecycleState=BOGUS identity", "GET", env.URL + "/20160918/policies?compartmentId=" + tenancy + "&lifecycleState=BOGUS", nil, 400, "ACTIVE"},
		{"lifecycleState=active", "GET", env.URL + "/20160918/users?compartmentId=" + tenancy + "&lifecycleState=active", nil, 200, ""},
		{"sortBy=BOGUS", "GET", env.URL + "/20180608/vaults?compartmentId=" + tenancy + "&sortBy=BOGUS", nil, 400, "TIMECREATED, DISPLAYNAME"},
		{"sortOrder=BOGUS", "GET", env.URL + "/20160918/users?compartmentId=" + tenancy + "&sortOrder=BOGUS", nil, 400, "ASC, DESC"},
		{"10,000 tags", "PUT", vaultURL, tags(10000, 1, 1), 400, "at most 64 tags"},
		{"65 tags", "PUT", vaultURL, tags(65, 1, 1), 400, "at most 64 tags"},
		{"64 tags", "PUT", vaultURL, tags(64, 100, 256), 200, ""},
		{"tag key 101", "PUT", secretURL, tags(1, 101, 1), 400, "at most 100 characters"},
		{"tag value 257", "PUT", env.URL + "/20160918/groups/" + ids["groupId"], tags(1, 5, 257), 400, "at most 256 characters"},
		{"metadata 500 KB", "PUT", secretURL, meta(500_000), 400, "at most 8192 bytes"},
		{"metadata 8 KiB", "PUT", secretURL, meta(8192 - len(`{"a":""}`)), 200, ""},
		{"version name NUL", "PUT", secretURL, []byte(`{"secretContent":{"contentType":"BASE64","content":"cw==","name":"v\u0000"}}`), 400, "control characters"},
		{"display name NUL", "PUT", vaultURL, []byte(`{"displayName":"a\u0000b"}`), 400, "control characters"},
		{"plaintext empty", "POST", encryptURL, plaintext(0), 400, "1 to 4096 bytes"},
		{"plaintext 4097", "POST", encryptURL, plaintext(4097), 400, "1 to 4096 bytes"},
		{"plaintext 4096", "POST", encryptURL, plaintext(4096), 200, ""},
		{"plaintext 1", "POST", encryptURL, plaintext(1), 200, ""},
		{"versionNumber huge", "GET", env.URL + "/20190301/secretbundles/" + ids["secretId"] + "?versionNumber=99999999999999999999", nil, 400, "from 1 to"},
		{"stage=BOGUS", "GET", env.URL + "/20190301/secretbundles/" + ids["secretId"] + "?stage=BOGUS", nil, 400, "CURRENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := signedDo(t, admin, tc.method, tc.url, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.message != "" && !strings.Contains(string(body), tc.message) {
				t.Errorf("message %s does not state the bound (%q)", body, tc.message)
			}
		})
	}
}
