package iam

import (
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

// The test tenancy:
//
//	acme (tenancy)
//	 ├─ CompartmentA ─ CompartmentB ─ CompartmentC
//	 ├─ AppSecrets      vault V1, key K1, secret db-password (key K1)
//	 ├─ Keys            key K2
//	 └─ Other
const (
	tTenancy = "ocid1.tenancy.oc1..acme"
	tCompA   = "ocid1.compartment.oc1..a"
	tCompB   = "ocid1.compartment.oc1..b"
	tCompC   = "ocid1.compartment.oc1..c"
	tApp     = "ocid1.compartment.oc1..appsecrets"
	tKeys    = "ocid1.compartment.oc1..keys"
	tOther   = "ocid1.compartment.oc1..other"

	gDev   = "ocid1.group.oc1..developers"
	gAdm   = "ocid1.group.oc1..admins"
	gOps   = "ocid1.group.oc1..ops"
	gAdmin = "ocid1.group.oc1..administrators"

	dgApp  = "ocid1.dynamicgroup.oc1..appprod"
	dgInst = "ocid1.dynamicgroup.oc1..insta"
	dgTag  = "ocid1.dynamicgroup.oc1..tagged"

	tVault  = "ocid1.vault.oc1.iad.v1"
	tKey    = "ocid1.key.oc1.iad.v1.k1"
	tKey2   = "ocid1.key.oc1.iad.v1.k2"
	tSecret = "ocid1.vaultsecret.oc1.iad.s1"
)

func baseSnapshot() *Snapshot {
	return &Snapshot{
		TenancyID:   tTenancy,
		TenancyName: "acme",
		Compartments: []Compartment{
			{ID: tCompA, Name: "CompartmentA"},
			{ID: tCompB, ParentID: tCompA, Name: "CompartmentB"},
			{ID: tCompC, ParentID: tCompB, Name: "CompartmentC"},
			{ID: tApp, ParentID: tTenancy, Name: "AppSecrets"},
			{ID: tKeys, Name: "Keys"},
			{ID: tOther, Name: "Other"},
		},
		Groups: []Group{
			{ID: gDev, Name: "Developers"}, {ID: gAdm, Name: "Admins"}, {ID: gOps, Name: "Ops"},
			{ID: gAdmin, Name: "Administrators"},
		},
		DynamicGroups: []DynamicGroup{
			{ID: dgApp, Name: "app-prod", MatchingRule: "ALL {resource.type = 'fnfunc', resource.compartment.id = '" + tApp + "'}"},
			{ID: dgInst, Name: "instances-a", MatchingRule: "instance.compartment.id = '" + tCompA + "'"},
			{ID: dgTag, Name: "tagged", MatchingRule: "All {instance.compartment.id = '" + tOther + "', tag.dept.team.value = 'ops'}"},
		},
		AdministratorsGroupID: gAdmin,
	}
}

var (
	alice   = &authz.Principal{Type: authz.PrincipalUser, ID: "ocid1.user.oc1..alice", TenancyID: tTenancy, GroupIDs: []string{gDev}}
	bob     = &authz.Principal{Type: authz.PrincipalUser, ID: "ocid1.user.oc1..bob", TenancyID: tTenancy, GroupIDs: []string{gAdm}}
	carol   = &authz.Principal{Type: authz.PrincipalUser, ID: "ocid1.user.oc1..carol", TenancyID: tTenancy}
	root    = &authz.Principal{Type: authz.PrincipalUser, ID: "ocid1.user.oc1..root", TenancyID: tTenancy, GroupIDs: []string{gAdmin, gDev}}
	fn      = &authz.Principal{Type: authz.PrincipalResource, ID: "ocid1.fnfunc.oc1.iad.fn1", TenancyID: tTenancy, CompartmentID: tApp}
	fnOther = &authz.Principal{Type: authz.PrincipalResource, ID: "ocid1.fnfunc.oc1.iad.fn2", TenancyID: tTenancy, CompartmentID: tOther}
	instA   = &authz.Principal{Type: authz.PrincipalInstance, ID: "ocid1.instance.oc1..ia", TenancyID: tTenancy, CompartmentID: tCompA}
	instC   = &authz.Principal{Type: authz.PrincipalInstance, ID: "ocid1.instance.oc1..ic", TenancyID: tTenancy, CompartmentID: tCompC}
	instTag = &authz.Principal{Type: authz.PrincipalInstance, ID: "ocid1.instance.oc1..it", TenancyID: tTenancy, CompartmentID: tOther,
		Attributes: map[string]string{"tag.dept.team.value": "ops"}}
	instDev = &authz.Principal{Type: authz.PrincipalInstance, ID: "ocid1.instance.oc1..id", TenancyID: tTenancy, CompartmentID: tOther,
		Attributes: map[string]string{"tag.dept.team.value": "dev"}}
	svcBlock = &authz.Principal{Type: authz.PrincipalService, ID: "blockstorage", TenancyID: tTenancy}
	svcObj   = &authz.Principal{Type: authz.PrincipalService, ID: "objectstorage-us-ashburn-1", TenancyID: tTenancy}
	stranger = &authz.Principal{Type: authz.PrincipalUser, ID: "ocid1.user.oc1..x", TenancyID: "ocid1.tenancy.oc1..other", GroupIDs: []string{gDev}}
)

// request builds a request with every target of the test tenancy loaded;
// an operation uses the ones it needs.
func request(p *authz.Principal, op string) authz.Request {
	return authz.Request{
		Principal:     p,
		Operation:     op,
		CompartmentID: tApp,
		Vault:         &authz.Resource{ID: tVault, Name: "v1", CompartmentID: tApp},
		Key:           &authz.Resource{ID: tKey, Name: "k1", CompartmentID: tApp, VaultID: tVault},
		Secret:        &authz.Resource{ID: tSecret, Name: "db-password", CompartmentID: tApp, VaultID: tVault, KeyID: tKey},
	}
}

// in moves every target of r to compartment c.
func in(c string) func(*authz.Request) {
	return func(r *authz.Request) {
		r.CompartmentID = c
		r.Vault.CompartmentID = c
		r.Key.CompartmentID = c
		r.Secret.CompartmentID = c
	}
}

func vars(kv ...string) func(*authz.Request) {
	return func(r *authz.Request) {
		if r.Vars == nil {
			r.Vars = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Vars[kv[i]] = kv[i+1]
		}
	}
}

func fixedClock(s string) func() time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t }
}
