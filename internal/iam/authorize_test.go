package iam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

type authCase struct {
	name   string
	stmts  []string
	attach string // compartment the policy is attached to; "" = tenancy
	who    *authz.Principal
	op     string
	mod    []func(*authz.Request)
	mirror bool   // Options.MirrorOCITable
	now    string // RFC 3339; "" = 2026-06-15T12:00:00Z (a Monday)
	want   bool
	// problem: the statements are meant not to compile (Problems non-empty).
	problem bool
}

func allow(name string, stmts []string, who *authz.Principal, op string, mod ...func(*authz.Request)) authCase {
	return authCase{name: name, stmts: stmts, who: who, op: op, mod: mod, want: true}
}

func denyCase(name string, stmts []string, who *authz.Principal, op string, mod ...func(*authz.Request)) authCase {
	return authCase{name: name, stmts: stmts, who: who, op: op, mod: mod, want: false}
}

func (c authCase) broken() authCase { c.problem = true; return c }

func (c authCase) mirrored() authCase          { c.mirror = true; return c }
func (c authCase) at(now string) authCase      { c.now = now; return c }
func (c authCase) attached(to string) authCase { c.attach = to; return c }

func s(stmts ...string) []string { return stmts }

const (
	devSecretsRead = "Allow group Developers to read secret-family in compartment AppSecrets"
	devUseKeys     = "Allow group Developers to use keys in compartment AppSecrets"
)

func authCases() []authCase {
	withKey2 := func(r *authz.Request) {
		r.Key = &authz.Resource{ID: tKey2, CompartmentID: tKeys, VaultID: tVault}
		r.Secret.KeyID = tKey2
	}
	identity := func(r *authz.Request) { r.CompartmentID = tTenancy }
	return []authCase{
		// Verbs and how they nest (docs/oci-behaviours.md#policy-language).
		allow("inspect vaults lists", s("Allow group Developers to inspect vaults in tenancy"), alice, "ListVaults"),
		denyCase("inspect vaults does not get", s("Allow group Developers to inspect vaults in tenancy"), alice, "GetVault"),
		allow("read vaults gets", s("Allow group Developers to read vaults in tenancy"), alice, "GetVault"),
		allow("read vaults lists", s("Allow group Developers to read vaults in tenancy"), alice, "ListVaults"),
		allow("read vaults usage", s("Allow group Developers to read vaults in tenancy"), alice, "GetVaultUsage"),
		denyCase("use vaults does not update", s("Allow group Developers to use vaults in tenancy"), alice, "UpdateVault"),
		allow("manage vaults updates", s("Allow group Developers to manage vaults in tenancy"), alice, "UpdateVault"),
		allow("manage vaults creates", s("Allow group Developers to manage vaults in tenancy"), alice, "CreateVault"),
		allow("manage vaults moves", s("Allow group Developers to manage vaults in tenancy"), alice, "ChangeVaultCompartment"),
		allow("manage vaults schedules deletion", s("Allow group Developers to manage vaults in tenancy"), alice, "ScheduleVaultDeletion"),
		allow("read vaults wrapping key", s("Allow group Developers to read vaults in tenancy"), alice, "GetWrappingKey"),
		allow("read keys gets key", s("Allow group Developers to read keys in tenancy"), alice, "GetKey"),
		denyCase("read keys does not encrypt", s("Allow group Developers to read keys in tenancy"), alice, "Encrypt"),
		allow("use keys encrypts", s(devUseKeys), alice, "Encrypt"),
		allow("use keys decrypts", s(devUseKeys), alice, "Decrypt"),
		allow("use keys generates data key", s(devUseKeys), alice, "GenerateDataEncryptionKey"),
		allow("use keys signs", s(devUseKeys), alice, "Sign"),
		allow("use keys verifies", s(devUseKeys), alice, "Verify"),
		allow("use keys exports", s(devUseKeys), alice, "ExportKey"),
		allow("use keys reads key version", s(devUseKeys), alice, "GetKeyVersion"),
		denyCase("use keys does not update", s(devUseKeys), alice, "UpdateKey"),
		allow("manage keys updates", s("Allow group Developers to manage keys in compartment AppSecrets"), alice, "UpdateKey"),
		allow("manage keys disables", s("Allow group Developers to manage keys in compartment AppSecrets"), alice, "DisableKey"),
		allow("manage keys rotates", s("Allow group Developers to manage keys in compartment AppSecrets"), alice, "CreateKeyVersion"),
		allow("manage keys deletes key version", s("Allow group Developers to manage keys in compartment AppSecrets"), alice, "ScheduleKeyVersionDeletion"),
		denyCase("CreateKey with manage keys only", s("Allow group Developers to manage keys in compartment AppSecrets"), alice, "CreateKey"),
		allow("CreateKey with manage keys and use vaults", s("Allow group Developers to manage keys in compartment AppSecrets", "Allow group Developers to use vaults in compartment AppSecrets"), alice, "CreateKey"),
		denyCase("CreateKey with use vaults only", s("Allow group Developers to use vaults in compartment AppSecrets"), alice, "CreateKey"),
		allow("ImportKey with manage keys and use vaults", s("Allow group Developers to manage keys in compartment AppSecrets", "Allow group Developers to use vaults in compartment AppSecrets"), alice, "ImportKey"),
		allow("ImportKeyVersion with manage keys", s("Allow group Developers to manage keys in compartment AppSecrets"), alice, "ImportKeyVersion"),
		allow("inspect keys lists versions", s("Allow group Developers to inspect keys in compartment AppSecrets"), alice, "ListKeyVersions"),
		denyCase("inspect keys does not get versions", s("Allow group Developers to inspect keys in compartment AppSecrets"), alice, "GetKeyVersion"),
		allow("use secrets updates metadata", s("Allow group Developers to use secrets in compartment AppSecrets"), alice, "UpdateSecret"),
		allow("use secrets rotates", s("Allow group Developers to use secrets in compartment AppSecrets"), alice, "RotateSecret"),
		allow("use secrets cancels rotation", s("Allow group Developers to use secrets in compartment AppSecrets"), alice, "CancelSecretRotation"),
		denyCase("read secrets does not update", s("Allow group Developers to read secrets in compartment AppSecrets"), alice, "UpdateSecret"),
		allow("manage secrets schedules deletion", s("Allow group Developers to manage secrets in compartment AppSecrets"), alice, "ScheduleSecretDeletion"),
		allow("manage secrets cancels deletion", s("Allow group Developers to manage secrets in compartment AppSecrets"), alice, "CancelSecretDeletion"),
		denyCase("CreateSecret with manage secrets only", s("Allow group Developers to manage secrets in compartment AppSecrets"), alice, "CreateSecret"),
		allow("CreateSecret with secrets, vaults and keys", s("Allow group Developers to manage secrets in compartment AppSecrets", "Allow group Developers to use vaults in compartment AppSecrets", devUseKeys), alice, "CreateSecret"),
		denyCase("CreateSecret without use keys (rule on)", s("Allow group Developers to manage secrets in compartment AppSecrets", "Allow group Developers to use vaults in compartment AppSecrets"), alice, "CreateSecret"),
		allow("CreateSecret without use keys (OCI table)", s("Allow group Developers to manage secrets in compartment AppSecrets", "Allow group Developers to use vaults in compartment AppSecrets"), alice, "CreateSecret").mirrored(),
		allow("ChangeSecretCompartment with manage secrets", s("Allow group Developers to manage secrets in compartment AppSecrets"), alice, "ChangeSecretCompartment"),
		denyCase("move needs the destination too", s("Allow group Developers to manage secrets in compartment AppSecrets"), alice, "ChangeSecretCompartment", func(r *authz.Request) { r.CompartmentID = tOther }),
		allow("move with source and destination", s("Allow group Developers to manage secrets in compartment AppSecrets", "Allow group Developers to manage secrets in compartment Other"), alice, "ChangeSecretCompartment", func(r *authz.Request) { r.CompartmentID = tOther }),
		denyCase("key move needs the source too", s("Allow group Developers to manage keys in compartment Other"), alice, "ChangeKeyCompartment", func(r *authz.Request) { r.CompartmentID = tOther }),
		allow("vault move with manage vaults in tenancy", s("Allow group Developers to manage vaults in tenancy"), alice, "ChangeVaultCompartment", func(r *authz.Request) { r.CompartmentID = tOther }),
		denyCase("ChangeSecretCompartment with SECRET_MOVE only", s("Allow group Developers to {SECRET_MOVE} in compartment AppSecrets"), alice, "ChangeSecretCompartment"),
		denyCase("version deletion needs use secrets too", s("Allow group Developers to manage secret-versions in compartment AppSecrets"), alice, "ScheduleSecretVersionDeletion"),
		allow("version deletion with secret-versions and secrets", s("Allow group Developers to manage secret-versions in compartment AppSecrets", "Allow group Developers to use secrets in compartment AppSecrets"), alice, "CancelSecretVersionDeletion"),
		allow("use secret-versions equals read", s("Allow group Developers to use secret-versions in compartment AppSecrets"), alice, "GetSecretVersion"),
		denyCase("use secret-versions does not delete", s("Allow group Developers to use secret-versions in compartment AppSecrets", "Allow group Developers to use secrets in compartment AppSecrets"), alice, "ScheduleSecretVersionDeletion"),
		allow("inspect secret-versions lists", s("Allow group Developers to inspect secret-versions in compartment AppSecrets"), alice, "ListSecretVersions"),

		// Reading a bundle: Coffer's rule on and off (docs/decisions.md#reading-a-secret-needs-use-keys).
		denyCase("read secret-bundles alone (rule on)", s("Allow group Developers to read secret-bundles in compartment AppSecrets"), alice, "GetSecretBundle"),
		allow("read secret-bundles and use keys", s("Allow group Developers to read secret-bundles in compartment AppSecrets", devUseKeys), alice, "GetSecretBundle"),
		allow("read secret-bundles alone (OCI table)", s("Allow group Developers to read secret-bundles in compartment AppSecrets"), alice, "GetSecretBundle").mirrored(),
		allow("by name with bundles and keys", s("Allow group Developers to read secret-bundles in compartment AppSecrets", devUseKeys), alice, "GetSecretBundleByName"),
		denyCase("by name without keys", s("Allow group Developers to read secret-bundles in compartment AppSecrets"), alice, "GetSecretBundleByName"),
		allow("inspect secret-bundles lists versions", s("Allow group Developers to inspect secret-bundles in compartment AppSecrets"), alice, "ListSecretBundleVersions"),
		denyCase("inspect secret-bundles does not read", s("Allow group Developers to inspect secret-bundles in compartment AppSecrets"), alice, "GetSecretBundle").mirrored(),
		allow("manage secret-bundles equals read", s("Allow group Developers to manage secret-bundles in compartment AppSecrets"), alice, "GetSecretBundle").mirrored(),
		allow("key in another compartment, use keys there", s(devSecretsRead, "Allow group Developers to use keys in compartment Keys"), alice, "GetSecretBundle", withKey2),
		denyCase("key in another compartment, use keys in secret's", s(devSecretsRead, devUseKeys), alice, "GetSecretBundle", withKey2),
		denyCase("UpdateSecret with content needs use keys", s("Allow group Developers to use secrets in compartment AppSecrets"), alice, "UpdateSecret", vars(VarUpdatesContent, "true")),
		allow("UpdateSecret with content and use keys", s("Allow group Developers to use secrets in compartment AppSecrets", devUseKeys), alice, "UpdateSecret", vars(VarUpdatesContent, "true")),
		allow("UpdateSecret with content (OCI table)", s("Allow group Developers to use secrets in compartment AppSecrets"), alice, "UpdateSecret", vars(VarUpdatesContent, "true")).mirrored(),

		// key-delegate and families.
		denyCase("use key-delegate does not encrypt", s("Allow group Developers to use key-delegate in compartment AppSecrets"), alice, "Encrypt"),
		denyCase("manage key-delegate does not decrypt", s("Allow group Developers to manage key-delegate in compartment AppSecrets"), alice, "Decrypt"),
		allow("read secret-family and use keys", s(devSecretsRead, devUseKeys), alice, "GetSecretBundle"),
		allow("inspect secret-family lists", s("Allow group Developers to inspect secret-family in compartment AppSecrets"), alice, "ListSecrets"),
		denyCase("inspect secret-family does not get", s("Allow group Developers to inspect secret-family in compartment AppSecrets"), alice, "GetSecret"),
		allow("use secret-family updates", s("Allow group Developers to use secret-family in compartment AppSecrets"), alice, "UpdateSecret"),
		allow("manage secret-family cancels deletion", s("Allow group Developers to manage secret-family in compartment AppSecrets"), alice, "CancelSecretDeletion"),
		allow("use key-family encrypts", s("Allow group Developers to use key-family in compartment AppSecrets"), alice, "Encrypt"),
		allow("manage key-family creates keys", s("Allow group Developers to manage key-family in compartment AppSecrets"), alice, "CreateKey"),
		allow("read key-family reads vaults", s("Allow group Developers to read key-family in compartment AppSecrets"), alice, "GetVault"),
		allow("manage all-resources creates secrets", s("Allow group Developers to manage all-resources in compartment AppSecrets"), alice, "CreateSecret"),
		denyCase("read all-resources: bundles but no key use", s("Allow group Developers to read all-resources in tenancy"), alice, "GetSecretBundle"),
		allow("read all-resources reads bundles (OCI table)", s("Allow group Developers to read all-resources in tenancy"), alice, "GetSecretBundle").mirrored(),
		allow("manage all-resources creates users", s("Allow group Developers to manage all-resources in tenancy"), alice, "CreateUser", identity),

		// Explicit permission lists.
		allow("permission list bundle+decrypt", s("Allow group Developers to {SECRET_BUNDLE_READ, KEY_DECRYPT} in compartment AppSecrets"), alice, "GetSecretBundle"),
		denyCase("permission list bundle only", s("Allow group Developers to {SECRET_BUNDLE_READ} in compartment AppSecrets"), alice, "GetSecretBundle"),
		allow("permission list encrypt", s("Allow group Developers to {KEY_ENCRYPT} in compartment AppSecrets"), alice, "GenerateDataEncryptionKey"),
		allow("permission list lower case", s("allow group Developers to {key_encrypt} in compartment AppSecrets"), alice, "Encrypt"),
		allow("permission list with operation", s("Allow group Developers to {KEY_READ} in tenancy where request.operation='GetKeyVersion'"), alice, "GetKeyVersion"),
		denyCase("permission list with other operation", s("Allow group Developers to {KEY_READ} in tenancy where request.operation='GetKeyVersion'"), alice, "GetKey"),

		// Inheritance and locations (docs/oci-behaviours.md#policy-language).
		allow("inherits down the tree", s("Allow group Developers to manage secret-family in compartment CompartmentA"), alice, "GetSecret", in(tCompC)),
		denyCase("does not apply above", s("Allow group Developers to manage secret-family in compartment CompartmentA:CompartmentB"), alice, "GetSecret", in(tCompA)),
		allow("path applies below", s("Allow group Developers to manage secret-family in compartment CompartmentA:CompartmentB"), alice, "GetSecret", in(tCompC)),
		allow("tenancy covers deep compartments", s("Allow group Developers to read secrets in tenancy"), alice, "GetSecret", in(tCompC)),
		denyCase("sibling compartment", s("Allow group Developers to read secrets in compartment Other"), alice, "GetSecret"),
		allow("compartment by OCID", s("Allow group Developers to read secrets in compartment id "+tCompB), alice, "GetSecret", in(tCompC)),
		allow("tenancy OCID as compartment", s("Allow group Developers to read secrets in compartment id "+tTenancy), alice, "GetSecret"),
		denyCase("bare name that is not a child of the attachment", s("Allow group Developers to read secrets in compartment CompartmentB"), alice, "GetSecret", in(tCompB)).broken(),
		allow("attached to A: B:C", s("Allow group Developers to read secrets in compartment CompartmentB:CompartmentC"), alice, "GetSecret", in(tCompC)).attached(tCompA),
		allow("attached to A: B inherits to C", s("Allow group Developers to read secrets in compartment CompartmentB"), alice, "GetSecret", in(tCompC)).attached(tCompA),
		allow("attached to B: C", s("Allow group Developers to read secrets in compartment CompartmentC"), alice, "GetSecret", in(tCompC)).attached(tCompB),
		allow("attached to C: C itself", s("Allow group Developers to read secrets in compartment CompartmentC"), alice, "GetSecret", in(tCompC)).attached(tCompC),
		denyCase("attached to A: tenancy is invalid", s("Allow group Developers to read secrets in tenancy"), alice, "GetSecret", in(tCompA)).attached(tCompA).broken(),
		denyCase("attached to A: OCID outside subtree", s("Allow group Developers to read secrets in compartment id "+tOther), alice, "GetSecret", in(tOther)).attached(tCompA).broken(),
		denyCase("attached to A: root path does not resolve", s("Allow group Developers to read secrets in compartment CompartmentA:CompartmentB:CompartmentC"), alice, "GetSecret", in(tCompC)).attached(tCompB).broken(),

		// Names and OCIDs.
		allow("group by OCID", s("Allow group id "+gDev+" to read secrets in compartment AppSecrets"), alice, "GetSecret"),
		allow("group name in another case", s("Allow group developers to read secrets in compartment appsecrets"), alice, "GetSecret"),
		allow("group with Default domain", s("Allow group 'Default'/'Developers' to read secrets in compartment AppSecrets"), alice, "GetSecret"),
		denyCase("group in another domain", s("Allow group 'Other Domain'/'Developers' to read secrets in compartment AppSecrets"), alice, "GetSecret").broken(),
		denyCase("unknown group", s("Allow group Nobody to read secrets in compartment AppSecrets"), alice, "GetSecret").broken(),
		allow("unknown group next to a known one", s("Allow group Nobody, Developers to read secrets in compartment AppSecrets"), alice, "GetSecret").broken(),
		denyCase("other group", s("Allow group Admins to read secrets in compartment AppSecrets"), alice, "GetSecret"),
		allow("several groups", s("Allow group Admins, Developers to read secrets in compartment AppSecrets"), alice, "GetSecret"),
		allow("several group OCIDs", s("Allow group id "+gAdm+", id "+gDev+" to read secrets in compartment AppSecrets"), alice, "GetSecret"),
		allow("keywords in any case", s("ALLOW GROUP Developers TO READ SECRETS IN COMPARTMENT AppSecrets"), alice, "GetSecret"),

		// Conditions (docs/oci-behaviours.md#policy-language, #permissions-for-vault-keys-and-secrets).
		allow("secret name equals", s("Allow group Developers to read secrets in tenancy where target.secret.name = 'db-password'"), alice, "GetSecret"),
		allow("secret name equals ignoring case", s("Allow group Developers to read secrets in tenancy where target.secret.name = 'DB-Password'"), alice, "GetSecret"),
		denyCase("secret name differs", s("Allow group Developers to read secrets in tenancy where target.secret.name = 'api-key'"), alice, "GetSecret"),
		allow("secret name not equal", s("Allow group Developers to read secrets in tenancy where target.secret.name != 'api-key'"), alice, "GetSecret"),
		denyCase("secret name not equal to itself", s("Allow group Developers to read secrets in tenancy where target.secret.name != 'db-password'"), alice, "GetSecret"),
		allow("pattern prefix", s("Allow group Developers to read secrets in tenancy where target.secret.name = /db-*/"), alice, "GetSecret"),
		allow("pattern suffix", s("Allow group Developers to read secrets in tenancy where target.secret.name = /*PASSWORD/"), alice, "GetSecret"),
		allow("pattern contains", s("Allow group Developers to read secrets in tenancy where target.secret.name = /*-pass*/"), alice, "GetSecret"),
		allow("quoted pattern", s("Allow group Developers to read secrets in tenancy where target.secret.name = 'db-*'"), alice, "GetSecret"),
		denyCase("pattern mismatch", s("Allow group Developers to read secrets in tenancy where target.secret.name = /api-*/"), alice, "GetSecret"),
		allow("secret id", s("Allow group Developers to read secrets in tenancy where target.secret.id = '"+tSecret+"'"), alice, "GetSecret"),
		allow("old secret ocid variable", s("Allow group Developers to read secrets in tenancy where target.secret.ocid = '"+tSecret+"'"), alice, "GetSecret"),
		allow("vault id on secrets and keys", s("Allow group Developers to read secret-family in tenancy where target.vault.id = '"+tVault+"'", "Allow group Developers to use keys in tenancy where target.vault.id = '"+tVault+"'"), alice, "GetSecretBundle"),
		allow("key id", s("Allow group Developers to use keys in tenancy where target.key.id = '"+tKey+"'"), alice, "Encrypt"),
		denyCase("other key id", s("Allow group Developers to use keys in tenancy where target.key.id = '"+tKey2+"'"), alice, "Encrypt"),
		denyCase("key id does not apply to secrets", s("Allow group Developers to read secret-family in tenancy where target.key.id = '"+tKey+"'"), alice, "GetSecretBundle").mirrored(),
		denyCase("not-applicable variable with != is false", s("Allow group Developers to use keys in tenancy where target.secret.name != 'x'"), alice, "Encrypt"),
		allow("any with a non-applicable branch", s("Allow group Developers to use keys in tenancy where any {target.secret.name = 'x', target.key.id = '"+tKey+"'}"), alice, "Encrypt"),
		allow("operation condition", s("Allow group Developers to read secret-family in tenancy where request.operation = 'GetSecretBundle'"), alice, "GetSecretBundle").mirrored(),
		denyCase("operation condition other op", s("Allow group Developers to read secret-family in tenancy where request.operation = 'GetSecretBundle'"), alice, "GetSecret"),
		allow("permission condition", s("Allow group Developers to read secret-family in tenancy where request.permission = 'SECRET_BUNDLE_READ'"), alice, "GetSecretBundle").mirrored(),
		denyCase("auditor exclusion blocks bundles", s("Allow group Developers to read all-resources in tenancy where request.permission != 'SECRET_BUNDLE_READ'"), alice, "GetSecretBundle").mirrored(),
		allow("auditor exclusion keeps metadata", s("Allow group Developers to read all-resources in tenancy where request.permission != 'SECRET_BUNDLE_READ'"), alice, "GetSecret"),
		allow("any of names", s("Allow group Developers to read secrets in tenancy where any {target.secret.name = 'a', target.secret.name = 'db-password'}"), alice, "GetSecret"),
		allow("all of name and op", s("Allow group Developers to read secret-family in tenancy where all {target.secret.name = 'db-password', request.operation = 'GetSecret'}"), alice, "GetSecret"),
		denyCase("all of name and op, other op", s("Allow group Developers to read secret-family in tenancy where all {target.secret.name = 'db-password', request.operation = 'GetSecret'}"), alice, "GetSecretBundle").mirrored(),
		allow("nested any/all", s("Allow group Developers to read secrets in tenancy where all {request.principal.type = 'user', any {target.secret.name = 'x', all {target.secret.name = /db-*/, target.compartment.name = 'AppSecrets'}}}"), alice, "GetSecret"),
		allow("in list of operations", s("Allow group Developers to read secrets in tenancy where request.operation in ('GetSecret', 'ListSecrets')"), alice, "ListSecrets"),
		allow("any-user narrowed by group", s("Allow any-user to read secrets in tenancy where request.groups.id = '"+gDev+"'"), alice, "GetSecret"),
		allow("groups not equal", s("Allow any-user to read secrets in tenancy where request.groups.id != '"+gAdm+"'"), alice, "GetSecret"),
		denyCase("groups not equal, member", s("Allow any-user to read secrets in tenancy where request.groups.id != '"+gDev+"'"), alice, "GetSecret"),
		allow("user id", s("Allow any-user to read secrets in tenancy where request.user.id = '"+alice.ID+"'"), alice, "GetSecret"),
		denyCase("user id does not apply to instances", s("Allow any-user to read secrets in tenancy where request.user.id != 'x'"), instA, "GetSecret"),
		allow("principal type user", s("Allow any-user to read secrets in tenancy where request.principal.type = 'user'"), alice, "GetSecret"),
		allow("principal type fnfunc", s("Allow any-user to read secrets in tenancy where request.principal.type = 'fnfunc'"), fn, "GetSecret"),
		allow("principal id", s("Allow any-user to read secrets in tenancy where request.principal.id = '"+fn.ID+"'"), fn, "GetSecret"),
		allow("principal compartment", s("Allow any-user to read secrets in tenancy where request.principal.compartment.id = '"+tApp+"'"), fn, "GetSecret"),
		allow("before a future date", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp before '2030-01-01T00:00Z'"), alice, "GetSecret"),
		denyCase("after a future date", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp after '2030-01-01Z'"), alice, "GetSecret"),
		allow("month in summer", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp.month-of-year in ('6', '7', '8')"), alice, "GetSecret"),
		denyCase("month in summer, January", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp.month-of-year in ('6', '7', '8')"), alice, "GetSecret").at("2026-01-15T12:00:00Z"),
		allow("day of week", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp.day-of-week = 'Monday'"), alice, "GetSecret"),
		denyCase("day of week not", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp.day-of-week != 'monday'"), alice, "GetSecret"),
		allow("day of month", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp.day-of-month = '15'"), alice, "GetSecret"),
		allow("night shift at 23:00", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp.time-of-day between '17:00:00Z' and '01:00:00Z'"), alice, "GetSecret").at("2026-06-15T23:00:00Z"),
		allow("night shift at 00:30", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp.time-of-day between '17:00:00Z' and '01:00:00Z'"), alice, "GetSecret").at("2026-06-16T00:30:00Z"),
		denyCase("night shift at noon", s("Allow group Developers to read secrets in tenancy where request.utc-timestamp.time-of-day between '17:00:00Z' and '01:00:00Z'"), alice, "GetSecret"),
		allow("compartment name", s("Allow group Developers to read secrets in tenancy where target.compartment.name = 'AppSecrets'"), alice, "GetSecret"),
		allow("compartment id", s("Allow group Developers to read secrets in tenancy where target.compartment.id = '"+tApp+"'"), alice, "GetSecret"),
		allow("tenant id", s("Allow group Developers to read secrets in tenancy where target.tenant.id = '"+tTenancy+"'"), alice, "GetSecret"),
		allow("plaintext key refused, request without", s("Allow group Developers to use keys in tenancy where request.includePlainTextKey = 'false'"), alice, "GenerateDataEncryptionKey", vars("request.includePlainTextKey", "false")),
		denyCase("plaintext key refused, request with", s("Allow group Developers to use keys in tenancy where request.includePlainTextKey = 'false'"), alice, "GenerateDataEncryptionKey", vars("request.includePlainTextKey", "true")),
		denyCase("plaintext key variable absent", s("Allow group Developers to use keys in tenancy where request.includePlainTextKey = 'false'"), alice, "Encrypt"),
		allow("region", s("Allow group Developers to read secrets in tenancy where request.region = 'iad'"), alice, "GetSecret", vars("request.region", "IAD")),

		// Dynamic groups (docs/oci-behaviours.md#dynamic-groups).
		allow("function in app-prod", s("Allow dynamic-group app-prod to read secret-family in compartment AppSecrets where target.secret.name = 'db-*'"), fn, "GetSecretBundle").mirrored(),
		denyCase("function elsewhere", s("Allow dynamic-group app-prod to read secret-family in compartment AppSecrets"), fnOther, "GetSecret"),
		denyCase("user is not in a dynamic group", s("Allow dynamic-group app-prod to read secret-family in compartment AppSecrets"), alice, "GetSecret"),
		allow("several dynamic groups", s("Allow dynamic-group instances-a, app-prod to read secrets in compartment AppSecrets"), fn, "GetSecret"),
		allow("instance in A", s("Allow dynamic-group instances-a to read secrets in compartment AppSecrets"), instA, "GetSecret"),
		denyCase("instance in C is not in A's rule", s("Allow dynamic-group instances-a to read secrets in compartment AppSecrets"), instC, "GetSecret"),
		allow("tagged instance", s("Allow dynamic-group tagged to read secrets in compartment AppSecrets"), instTag, "GetSecret"),
		denyCase("instance with another tag value", s("Allow dynamic-group tagged to read secrets in compartment AppSecrets"), instDev, "GetSecret"),
		denyCase("group statement, instance principal", s("Allow group Developers to read secrets in compartment AppSecrets"), instA, "GetSecret"),
		allow("any-group, instance in a dynamic group", s("Allow any-group to read secrets in compartment AppSecrets"), instA, "GetSecret"),
		denyCase("any-group, instance in no dynamic group", s("Allow any-group to read secrets in compartment AppSecrets"), instC, "GetSecret"),
		denyCase("any-group, user in no group", s("Allow any-group to read secrets in compartment AppSecrets"), carol, "GetSecret"),
		allow("any-user, instance in no dynamic group", s("Allow any-user to read secrets in compartment AppSecrets"), instC, "GetSecret"),
		allow("dynamic group by OCID", s("Allow dynamic-group id "+dgApp+" to read secrets in compartment AppSecrets"), fn, "GetSecret"),

		// Services.
		allow("service principal uses keys", s("Allow service blockstorage, objectstorage-us-phoenix-1 to use keys in compartment AppSecrets where target.key.id = '"+tKey+"'"), svcBlock, "Encrypt"),
		denyCase("other service", s("Allow service blockstorage to use keys in compartment AppSecrets"), svcObj, "Encrypt"),
		allow("any-user includes services", s("Allow any-user to use keys in compartment AppSecrets"), svcObj, "Decrypt"),

		// Defaults and guards.
		denyCase("no policy", nil, alice, "GetSecret"),
		denyCase("unknown operation", s("Allow group Developers to manage all-resources in tenancy"), alice, "DeleteEverything"),
		denyCase("principal of another tenancy", s("Allow group Developers to manage all-resources in tenancy"), stranger, "GetSecret"),
		denyCase("no principal", s("Allow any-user to manage all-resources in tenancy"), nil, "GetSecret"),
		denyCase("deny wins over allow", s("Allow group Developers to manage secret-family in tenancy", "Deny group Developers to read secret-bundles in tenancy"), alice, "GetSecretBundle").mirrored(),
		allow("deny does not touch other permissions", s("Allow group Developers to manage secret-family in tenancy", "Deny group Developers to read secret-bundles in tenancy"), alice, "GetSecret"),
		allow("administrators are exempt from deny", s("Allow group Developers to manage secret-family in tenancy", "Deny group Developers to read secret-bundles in tenancy"), root, "GetSecretBundle").mirrored(),
		allow("bundle without a loaded key (OCI table)", s("Allow group Developers to read secret-bundles in compartment AppSecrets"), alice, "GetSecretBundle", func(r *authz.Request) { r.Key = nil }).mirrored(),
		denyCase("bundle without a loaded key (rule on)", s("Allow group Developers to read secret-bundles in compartment AppSecrets", "Allow group Developers to use keys in tenancy"), alice, "GetSecretBundle", func(r *authz.Request) { r.Key = nil }),
		allow("two statements grant the same permission", s("Allow group Developers to read secrets in tenancy where target.secret.name = 'nope'", "Allow group Developers to read secrets in compartment AppSecrets", "Allow group Developers to inspect secrets in tenancy", devSecretsRead), alice, "GetSecret"),
		denyCase("target missing", s("Allow group Developers to use keys in tenancy"), alice, "Encrypt", func(r *authz.Request) { r.Key = nil }),
		denyCase("target in unknown compartment", s("Allow group Developers to use keys in tenancy"), alice, "Encrypt", func(r *authz.Request) { r.Key.CompartmentID = "ocid1.compartment.oc1..gone" }),

		// Identity.
		allow("instances always list compartments", nil, instC, "ListCompartments", identity),
		denyCase("users do not", nil, alice, "ListCompartments", identity),
		allow("own API keys", nil, alice, "UploadApiKey", identity, vars("target.user.id", alice.ID)),
		denyCase("someone else's API keys", nil, alice, "DeleteApiKey", identity, vars("target.user.id", bob.ID)),
		allow("manage users uploads keys", s("Allow group Admins to manage users in tenancy"), bob, "UploadApiKey", identity, vars("target.user.id", alice.ID)),
		allow("add to group with use users and groups", s("Allow group Admins to use users in tenancy", "Allow group Admins to use groups in tenancy"), bob, "AddUserToGroup", identity),
		denyCase("add to group with use groups only", s("Allow group Admins to use groups in tenancy"), bob, "AddUserToGroup", identity),
		denyCase("docs example: != on absent variable", s("Allow group Admins to use users in tenancy where target.group.name != 'Administrators'"), bob, "UpdateUser", identity),
		allow("docs example: other group", s("Allow group Admins to use users in tenancy where target.group.name != 'Administrators'", "Allow group Admins to use groups in tenancy where target.group.name != 'Administrators'"), bob, "AddUserToGroup", identity, vars("target.group.name", "Ops")),
		denyCase("docs example: Administrators", s("Allow group Admins to use users in tenancy where target.group.name != 'Administrators'", "Allow group Admins to use groups in tenancy where target.group.name != 'Administrators'"), bob, "AddUserToGroup", identity, vars("target.group.name", "administrators")),
		allow("inspect policies lists", s("Allow group Admins to inspect policies in tenancy"), bob, "ListPolicies", identity),
		denyCase("inspect policies does not update", s("Allow group Admins to inspect policies in tenancy"), bob, "UpdatePolicy", identity),
		allow("memberships need users and groups", s("Allow group Admins to inspect users in tenancy", "Allow group Admins to inspect groups in tenancy"), bob, "ListUserGroupMemberships", identity),
		allow("manage dynamic-groups", s("Allow group Admins to manage dynamic-groups in tenancy"), bob, "CreateDynamicGroup", identity),
		allow("use compartments updates", s("Allow group Admins to use compartments in tenancy"), bob, "UpdateCompartment", identity),
		denyCase("use compartments does not delete", s("Allow group Admins to use compartments in tenancy"), bob, "DeleteCompartment", identity),
		allow("tenancy", s("Allow group Admins to inspect tenancies in tenancy"), bob, "GetTenancy"),
		allow("explain needs manage policies in tenancy", s("Allow group Admins to manage policies in tenancy"), bob, OperationExplainAuthorization),
		denyCase("explain with manage policies in a compartment", s("Allow group Admins to manage policies in compartment CompartmentA"), bob, OperationExplainAuthorization),
		allow("move compartment with manage all-resources", s("Allow group Admins to manage all-resources in compartment CompartmentA"), bob, "MoveCompartment", in(tCompB)),
		denyCase("move compartment with manage all-resources below the shared parent", s("Allow group Admins to manage all-resources in compartment CompartmentA:CompartmentB"), bob, "MoveCompartment", in(tCompA)),
		denyCase("move compartment with manage compartments", s("Allow group Admins to manage compartments in tenancy"), bob, "MoveCompartment", in(tCompA)),
		denyCase("move compartment with everything but one family", s("Allow group Admins to manage compartments in tenancy", "Allow group Admins to manage key-family in tenancy", "Allow group Admins to manage secret-family in tenancy"), bob, "MoveCompartment"),
		allow("availability domains with inspect compartments", s("Allow group Admins to inspect compartments in compartment AppSecrets"), bob, "ListAvailabilityDomains"),
		denyCase("work request with inspect compartments", s("Allow group Admins to inspect compartments in compartment AppSecrets"), bob, "GetWorkRequest"),
		allow("work request with use compartments", s("Allow group Admins to use compartments in compartment AppSecrets"), bob, "GetWorkRequest"),
		allow("regions with inspect tenancies", s("Allow group Admins to inspect tenancies in tenancy"), bob, "ListRegions"),
		allow("policy name variable", s("Allow group Admins to manage policies in tenancy where target.policy.name = 'app-*'"), bob, "UpdatePolicy", identity, vars("target.policy.name", "app-secrets")),
	}
}

func runCase(t testing.TB, c authCase) (authz.Decision, *Engine) {
	snap := baseSnapshot()
	attach := c.attach
	if attach == "" {
		attach = tTenancy
	}
	snap.Policies = []Policy{{ID: "ocid1.policy.oc1..p", Name: "test-policy", CompartmentID: attach, Statements: c.stmts}}
	now := c.now
	if now == "" {
		now = "2026-06-15T12:00:00Z"
	}
	e, err := Compile(snap, Options{MirrorOCITable: c.mirror, Now: fixedClock(now)})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	req := request(c.who, c.op)
	for _, m := range c.mod {
		m(&req)
	}
	d, err := e.Authorize(context.Background(), req)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	return d, e
}

func TestAuthorizeTable(t *testing.T) {
	cases := authCases()
	if len(cases) < 100 {
		t.Fatalf("only %d cases", len(cases))
	}
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			d, e := runCase(t, c)
			if d.Allowed != c.want {
				t.Errorf("Allowed = %v, want %v\nreason: %s\nproblems: %v", d.Allowed, c.want, d.Reason, e.Problems())
			}
			if got := len(e.Problems()) > 0; got != c.problem {
				t.Errorf("problems = %v, want problems: %v", e.Problems(), c.problem)
			}
			if d.Reason == "" {
				t.Errorf("empty reason")
			}
			if d.Allowed && len(d.Missing) > 0 {
				t.Errorf("allowed with missing %v", d.Missing)
			}
			// Explain must agree with Authorize.
			req := request(c.who, c.op)
			for _, m := range c.mod {
				m(&req)
			}
			x := e.Explain(req)
			if x.Allowed != d.Allowed {
				t.Errorf("Explain.Allowed = %v, Authorize = %v: %s", x.Allowed, d.Allowed, x.Reason)
			}
			if xd := x.Decision(); xd.Reason != d.Reason || !slices.Equal(xd.Matched, d.Matched) || !slices.Equal(xd.Missing, d.Missing) || xd.Suggestion != d.Suggestion {
				t.Errorf("Explain and Authorize disagree:\n%+v\n%+v", xd, d)
			}
		})
	}
	t.Logf("%d authorization cases", len(cases))
}

// Every operation in the catalogue must be allowed by manage all-resources in
// tenancy (nothing is unreachable), and denied with no policy (except the
// implicit grants and the operations every principal may call).
func TestEveryOperationReachable(t *testing.T) {
	for _, op := range Operations() {
		c := authCase{name: op, stmts: s("Allow group Developers to manage all-resources in tenancy"), who: alice, op: op,
			mod: []func(*authz.Request){vars(VarUpdatesContent, "true")}, want: true}
		if d, _ := runCase(t, c); !d.Allowed {
			t.Errorf("%s: manage all-resources denied: %s", op, d.Reason)
		}
		c.stmts = nil
		if d, _ := runCase(t, c); d.Allowed != EveryPrincipal(op) {
			t.Errorf("%s: allowed with no policy: %s", op, d.Reason)
		}
	}
}

func TestProblemsReported(t *testing.T) {
	snap := baseSnapshot()
	snap.Policies = []Policy{{ID: "p", Name: "p", CompartmentID: tCompA, Statements: s(
		"Allow group Developers to read secrets in tenancy",
		"Allow group Nobody to read secrets in compartment CompartmentB",
		"Allow group Developers to reed secrets in compartment CompartmentB",
		"Allow group Developers to read secrets in compartment CompartmentB",
	)}}
	snap.DynamicGroups = append(snap.DynamicGroups, DynamicGroup{ID: "dg", Name: "bad", MatchingRule: "instance.idd = 'x'"})
	e, err := Compile(snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := e.Problems()
	if len(got) != 4 {
		t.Fatalf("problems = %v, want 4", got)
	}
	var se *SyntaxError
	for _, p := range got {
		switch p.Index {
		case 0, 1:
			if !errors.Is(p, ErrUnresolved) {
				t.Errorf("problem %d: %v, want ErrUnresolved", p.Index, p)
			}
		case 2, -1:
			if !errors.As(p, &se) {
				t.Errorf("problem %d: %v, want SyntaxError", p.Index, p)
			}
		}
	}
}

func TestCompileRejectsBrokenTree(t *testing.T) {
	for name, comps := range map[string][]Compartment{
		"unknown parent": {{ID: "a", ParentID: "nope", Name: "a"}},
		"cycle":          {{ID: "a", ParentID: "b", Name: "a"}, {ID: "b", ParentID: "a", Name: "b"}},
		"duplicate":      {{ID: "a", Name: "a"}, {ID: "a", Name: "b"}},
	} {
		_, err := Compile(&Snapshot{TenancyID: tTenancy, Compartments: comps}, Options{})
		if !errors.Is(err, ErrSnapshot) {
			t.Errorf("%s: err = %v, want ErrSnapshot", name, err)
		}
	}
}

func TestHolderSwaps(t *testing.T) {
	h := NewHolder(nil)
	req := request(alice, "GetSecret")
	if _, err := h.Authorize(context.Background(), req); !errors.Is(err, ErrNoEngine) {
		t.Fatalf("empty holder: err = %v", err)
	}
	snap := baseSnapshot()
	if err := h.Update(snap, Options{}); err != nil {
		t.Fatal(err)
	}
	if d, _ := h.Authorize(context.Background(), req); d.Allowed {
		t.Fatal("allowed before the policy exists")
	}
	snap.Policies = []Policy{{ID: "p", Name: "p", CompartmentID: tTenancy, Statements: s(devSecretsRead)}}
	if err := h.Update(snap, Options{}); err != nil {
		t.Fatal(err)
	}
	if d, _ := h.Authorize(context.Background(), req); !d.Allowed {
		t.Fatalf("denied after the policy was added: %s", d.Reason)
	}
	if err := h.Update(&Snapshot{}, Options{}); err == nil {
		t.Fatal("Update accepted an empty snapshot")
	}
	if d, _ := h.Authorize(context.Background(), req); !d.Allowed {
		t.Fatal("a failed update replaced the engine")
	}
}

// TestHolderConcurrent runs decisions while engines are swapped (go test -race).
func TestHolderConcurrent(t *testing.T) {
	h := NewHolder(nil)
	snap := baseSnapshot()
	snap.Policies = []Policy{{ID: "p", Name: "p", CompartmentID: tTenancy, Statements: s(devSecretsRead)}}
	if err := h.Update(snap, Options{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			snap.Policies[0].Statements = s(devSecretsRead, fmt.Sprintf("Allow group Ops to read secrets in tenancy where target.secret.name = 's%d'", i))
			if err := h.Update(snap, Options{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 2000 {
		if d, _ := h.Authorize(context.Background(), request(alice, "GetSecret")); !d.Allowed {
			t.Fatalf("denied during swap: %s", d.Reason)
		}
	}
	<-done
}

func TestClockDrivesTimeConditions(t *testing.T) {
	now := fixedClock("2029-12-31T23:59:00Z")()
	snap := baseSnapshot()
	snap.Policies = []Policy{{ID: "p", Name: "p", CompartmentID: tTenancy, Statements: s(
		"Allow group Developers to read secrets in tenancy where request.utc-timestamp before '2030-01-01T00:00:00Z'")}}
	e, err := Compile(snap, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Authorize(context.Background(), request(alice, "GetSecret")); !d.Allowed {
		t.Fatalf("denied before expiry: %s", d.Reason)
	}
	now = now.Add(2 * time.Minute)
	if d, _ := e.Authorize(context.Background(), request(alice, "GetSecret")); d.Allowed {
		t.Fatal("allowed after expiry")
	}
}

func TestPermissionsTable(t *testing.T) {
	for _, tc := range []struct {
		v    Verb
		rt   string
		want string
	}{
		{VerbInspect, "vaults", "VAULT_INSPECT"},
		{VerbUse, "vaults", "VAULT_INSPECT VAULT_READ VAULT_CREATE_KEY VAULT_IMPORT_KEY VAULT_CREATE_SECRET"},
		{VerbRead, "secret-bundles", "SECRET_BUNDLE_INSPECT SECRET_BUNDLE_READ"},
		{VerbManage, "secret-bundles", "SECRET_BUNDLE_INSPECT SECRET_BUNDLE_READ"},
		{VerbUse, "key-delegate", "KEY_ASSOCIATE KEY_DISASSOCIATE"},
		{VerbRead, "key-delegate", ""},
		{VerbInspect, "policies", "POLICY_READ"},
		{VerbUse, "secrets", "SECRET_INSPECT SECRET_READ SECRET_UPDATE SECRET_ROTATE"},
	} {
		if got := strings.Join(Permissions(tc.v, tc.rt), " "); got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.v, tc.rt, got, tc.want)
		}
	}
	fam := Permissions(VerbManage, "secret-family")
	if len(fam) != len(Permissions(VerbManage, "secrets"))+len(Permissions(VerbManage, "secret-versions"))+len(Permissions(VerbManage, "secret-bundles")) {
		t.Errorf("secret-family is not the union of its members: %v", fam)
	}
}

func TestRequiredChecks(t *testing.T) {
	checks, ok := RequiredChecks("GetSecretBundle", Options{}, false)
	if !ok || len(checks) != 2 || checks[1].Permission != "KEY_DECRYPT" || checks[1].Target != TargetKey {
		t.Errorf("GetSecretBundle = %v", checks)
	}
	checks, _ = RequiredChecks("GetSecretBundle", Options{MirrorOCITable: true}, false)
	if len(checks) != 1 {
		t.Errorf("GetSecretBundle mirrored = %v", checks)
	}
	checks, _ = RequiredChecks("UpdateSecret", Options{}, false)
	if len(checks) != 1 {
		t.Errorf("UpdateSecret without content = %v", checks)
	}
	checks, _ = RequiredChecks("UpdateSecret", Options{}, true)
	if len(checks) != 2 || checks[1].Permission != "KEY_ENCRYPT" {
		t.Errorf("UpdateSecret with content = %v", checks)
	}
	if _, ok := RequiredChecks("Nope", Options{}, false); ok {
		t.Error("unknown operation has checks")
	}
}

// A denied MoveCompartment suggests the one statement OCI asks for and
// names a few of the missing permissions, not all of them.
func TestMoveCompartmentSuggestion(t *testing.T) {
	d, _ := runCase(t, denyCase("move", s("Allow group Admins to manage compartments in tenancy"), bob, "MoveCompartment", in(tCompA)))
	if d.Allowed || d.Suggestion != "Allow group Admins to manage all-resources in compartment CompartmentA" {
		t.Fatalf("suggestion %q", d.Suggestion)
	}
	if !strings.Contains(d.Reason, "more") || len(d.Reason) > 1500 || len(d.Missing) < 30 {
		t.Fatalf("reason (%d bytes, %d missing): %s", len(d.Reason), len(d.Missing), d.Reason)
	}
}
