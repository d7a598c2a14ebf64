package authn

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

// WorkloadTokens resolves each kind to its own principal; SessionTokens'
// own lookup takes resource tokens only, whether or not the token is
// already cached.
func TestWorkloadTokensKinds(t *testing.T) {
	k1, _ := testKeys(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st := newTokens(t, &now)
	rt, _, err := st.Mint(testClaims, &k1.PublicKey, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	it, _, err := st.MintInstance(testInstance, &k1.PublicKey, InstanceTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	w := WorkloadTokens{st}
	for _, tc := range []struct {
		name string
		tok  string
		want *authz.Principal
	}{
		{"resource", rt, testClaims.Principal()},
		{"instance", it, testInstance.Principal()},
	} {
		for i := range 2 { // parsed, then cached
			pub, p, err := w.LookupSessionToken(context.Background(), tc.tok)
			if err != nil {
				t.Fatalf("%s #%d: %v", tc.name, i, err)
			}
			if !pub.Equal(&k1.PublicKey) || fmt.Sprint(*p) != fmt.Sprint(*tc.want) {
				t.Errorf("%s #%d: %+v, want %+v", tc.name, i, *p, *tc.want)
			}
		}
	}
	for i := range 2 {
		if _, _, err := st.LookupSessionToken(context.Background(), it); !errors.Is(err, ErrBadSessionToken) {
			t.Errorf("SessionTokens took an instance token (#%d): %v", i, err)
		}
	}
	if n := st.cache.len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
}

// A cached token is used only within its lifetime: expired, or (the clock
// set back) issued in the future, it is refused as when parsed.
func TestTokenCacheHonoursLifetime(t *testing.T) {
	k1, _ := testKeys(t)
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	st := newTokens(t, &now)
	tok, exp, err := st.Mint(testClaims, &k1.PublicKey, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{start, true},
		{exp.Add(-time.Second), true},
		{exp, false},
		{start.Add(-maxIssueSkew), true},
		{start.Add(-maxIssueSkew - time.Second), false},
		{start, true},
	} {
		now = tc.at
		_, _, err := st.LookupSessionToken(context.Background(), tok)
		if (err == nil) != tc.ok {
			t.Errorf("at %v: %v, want ok=%v", tc.at, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadSessionToken) {
			t.Errorf("at %v: %v is not ErrBadSessionToken", tc.at, err)
		}
	}
}

// A caller that changes the principal it got does not change what the
// next request with the same token gets.
func TestTokenCacheHandsOutCopies(t *testing.T) {
	k1, _ := testKeys(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st := newTokens(t, &now)
	tok, _, err := st.Mint(testClaims, &k1.PublicKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, p, err := st.LookupSessionToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p.ID, p.Attributes["resource.type"], p.GroupIDs = "changed", "changed", []string{"g"}
	_, p2, err := st.LookupSessionToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*p2) != fmt.Sprint(*testClaims.Principal()) {
		t.Errorf("cached principal changed: %+v", *p2)
	}
}

// The cache stays within its bound, and every token still verifies after
// its entry was evicted; refused tokens are never cached.
func TestTokenCacheBounded(t *testing.T) {
	k1, _ := testKeys(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st := newTokens(t, &now)
	st.cache.max = 8
	var toks []string
	for i := range 30 {
		c := testClaims
		c.ResourceID = fmt.Sprintf("ocid1.fnfunc.oc1.local.fn%d", i)
		tok, _, err := st.Mint(c, &k1.PublicKey, time.Duration(i+1)*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
		if _, _, err := st.LookupSessionToken(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		if n := st.cache.len(); n > st.cache.max {
			t.Fatalf("cache holds %d entries, bound %d", n, st.cache.max)
		}
	}
	for i, tok := range toks {
		_, p, err := st.LookupSessionToken(context.Background(), tok)
		if err != nil || p.ID != fmt.Sprintf("ocid1.fnfunc.oc1.local.fn%d", i) {
			t.Errorf("token %d after eviction: %+v %v", i, p, err)
		}
	}
	// Expired entries go first: after 10 minutes, tokens 0-9 are dead.
	now = now.Add(10 * time.Minute)
	before := st.cache.len()
	tok, _, _ := st.Mint(testClaims, &k1.PublicKey, 0)
	if _, _, err := st.LookupSessionToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := st.cache.len(); n > st.cache.max || n > before+1 {
		t.Errorf("cache holds %d entries (was %d)", n, before)
	}

	fresh := newTokens(t, &now)
	for _, bad := range []string{toks[0] + "x", "a.b.c", ""} {
		if _, _, err := fresh.LookupSessionToken(context.Background(), bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, _, err := fresh.LookupSessionToken(context.Background(), toks[0]); err == nil {
		t.Error("another server's token accepted")
	}
	if n := fresh.cache.len(); n != 0 {
		t.Errorf("refused tokens cached: %d entries", n)
	}
}

// signClaims signs an arbitrary claims object with st's key, as a server
// with that key would: what the parser does with genuine tokens of
// unexpected content.
func signClaims(t *testing.T, st *SessionTokens, claims any) string {
	t.Helper()
	h, _ := json.Marshal(tokenHeader{Alg: "HS256", Typ: "JWT"})
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	return signing + "." + b64.EncodeToString(st.mac(signing))
}

// Tokens in the form earlier releases minted (one claims struct per kind)
// still verify: the key is stored, so tokens outlive an upgrade. Genuine
// tokens that mix the kinds' claims, or name no kind, are refused.
func TestTokenClaimsForms(t *testing.T) {
	k1, _ := testKeys(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	st := newTokens(t, &now)
	spki, err := x509.MarshalPKIXPublicKey(&k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	key := b64.EncodeToString(spki)
	iat, exp := now.Unix(), now.Add(10*time.Minute).Unix()
	resource := map[string]any{"iss": "coffer", "sub": testClaims.ResourceID, "iat": iat, "exp": exp, "jti": "j",
		"ptype": "resource", "res_type": "fnfunc", "res_tenant": testClaims.TenancyID, "res_compartment": testClaims.CompartmentID,
		"session_key": key, "ttype_version": 1}
	instance := map[string]any{"iss": "coffer", "sub": testInstance.InstanceID, "iat": iat, "exp": exp, "jti": "j",
		"ptype": "instance", "opc-tenant": testInstance.TenancyID, "opc-compartment": testInstance.CompartmentID,
		"opc-instance": testInstance.InstanceID, "session_key": key, "ttype_version": 1}
	with := func(m map[string]any, k string, v any) map[string]any {
		c := make(map[string]any, len(m)+1)
		for kk, vv := range m {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   authz.PrincipalType // "" for refused
	}{
		{"resource, earlier form", resource, authz.PrincipalResource},
		{"instance, earlier form", instance, authz.PrincipalInstance},
		{"resource with instance claims", with(resource, "opc-instance", testInstance.InstanceID), ""},
		{"instance with resource claims", with(instance, "res_type", "fnfunc"), ""},
		{"instance whose sub is not its instance", with(instance, "sub", testClaims.ResourceID), ""},
		{"no ptype", with(resource, "ptype", nil), ""},
		{"user ptype", with(resource, "ptype", "user"), ""},
		{"other issuer", with(instance, "iss", "oci"), ""},
		{"version 2", with(resource, "ttype_version", 2), ""},
		{"instance living an hour", with(instance, "exp", now.Add(time.Hour).Unix()), ""},
		{"resource living an hour", with(resource, "exp", now.Add(time.Hour).Unix()), authz.PrincipalResource},
		{"small session key", with(resource, "session_key", b64.EncodeToString(spki[:40])), ""},
	} {
		_, p, err := WorkloadTokens{st}.LookupSessionToken(context.Background(), signClaims(t, st, tc.claims))
		switch {
		case tc.want == "" && !errors.Is(err, ErrBadSessionToken):
			t.Errorf("%s: accepted as %+v (%v)", tc.name, p, err)
		case tc.want != "" && (err != nil || p.Type != tc.want):
			t.Errorf("%s: %+v %v, want a %s principal", tc.name, p, err, tc.want)
		}
	}
}
