package iam

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// Verb is one of the four policy verbs. The zero value means "no verb" (a
// statement written with an explicit permission list).
type Verb uint8

// The verbs, in nesting order: each includes every permission of the ones
// before it.
const (
	VerbNone Verb = iota
	VerbInspect
	VerbRead
	VerbUse
	VerbManage
)

var verbNames = [...]string{"", "inspect", "read", "use", "manage"}

// String returns the verb as written in a statement.
func (v Verb) String() string {
	if int(v) < len(verbNames) {
		return verbNames[v]
	}
	return fmt.Sprintf("Verb(%d)", v)
}

func parseVerb(s string) Verb {
	for i := VerbInspect; i <= VerbManage; i++ {
		if strings.EqualFold(s, verbNames[i]) {
			return i
		}
	}
	return VerbNone
}

// perm is an interned permission: an index into permNames. Interning lets the
// engine index grants by a small integer instead of hashing strings.
type perm uint8

// maxPerms bounds the catalogue so a permission set fits in a fixed bitset.
const maxPerms = 128

// permSet is a set of permissions.
type permSet [maxPerms / 64]uint64

func (s *permSet) add(p perm)     { s[p/64] |= 1 << (p % 64) }
func (s permSet) has(p perm) bool { return s[p/64]&(1<<(p%64)) != 0 }
func (s permSet) union(o permSet) permSet {
	for i := range s {
		s[i] |= o[i]
	}
	return s
}

// each calls f for every permission in s, in catalogue order.
func (s permSet) each(f func(perm)) {
	for i, w := range s {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			f(perm(i*64 + b))
			w &^= 1 << b
		}
	}
}

// resourceType is one individual resource type of the catalogue with the
// permissions each verb adds to the verb below it.
type resourceType struct {
	name string
	// adds[v] are the permissions verb v adds; a verb with no row adds nothing
	// (the reference: "the higher verb grants nothing more than the row below").
	adds [VerbManage + 1][]string
	// family is the aggregate type this one belongs to, if any.
	families []string
}

// The catalogue: reference sections 2.1 and 2.3 for Vault, KMS and Secrets, and
// Oracle's "Details for IAM" page for the identity types Coffer serves.
var resourceTypes = []resourceType{
	{name: "vaults", families: []string{"key-family"}, adds: [VerbManage + 1][]string{
		VerbInspect: {"VAULT_INSPECT"},
		VerbRead:    {"VAULT_READ"},
		VerbUse:     {"VAULT_CREATE_KEY", "VAULT_IMPORT_KEY", "VAULT_CREATE_SECRET"},
		VerbManage:  {"VAULT_CREATE", "VAULT_UPDATE", "VAULT_DELETE", "VAULT_MOVE", "VAULT_BACKUP", "VAULT_RESTORE", "VAULT_REPLICATE"},
	}},
	{name: "keys", families: []string{"key-family"}, adds: [VerbManage + 1][]string{
		VerbInspect: {"KEY_INSPECT"},
		VerbRead:    {"KEY_READ"},
		VerbUse:     {"KEY_ENCRYPT", "KEY_DECRYPT", "KEY_EXPORT", "KEY_SIGN", "KEY_VERIFY"},
		VerbManage:  {"KEY_CREATE", "KEY_UPDATE", "KEY_ROTATE", "KEY_DELETE", "KEY_MOVE", "KEY_IMPORT", "KEY_BACKUP", "KEY_RESTORE"},
	}},
	{name: "key-delegate", families: []string{"key-family"}, adds: [VerbManage + 1][]string{
		VerbUse: {"KEY_ASSOCIATE", "KEY_DISASSOCIATE"},
	}},
	{name: "secrets", families: []string{"secret-family"}, adds: [VerbManage + 1][]string{
		VerbInspect: {"SECRET_INSPECT"},
		VerbRead:    {"SECRET_READ"},
		VerbUse:     {"SECRET_UPDATE", "SECRET_ROTATE"},
		VerbManage:  {"SECRET_CREATE", "SECRET_DELETE", "SECRET_MOVE"},
	}},
	{name: "secret-versions", families: []string{"secret-family"}, adds: [VerbManage + 1][]string{
		VerbInspect: {"SECRET_VERSION_INSPECT"},
		VerbRead:    {"SECRET_VERSION_READ"},
		VerbManage:  {"SECRET_VERSION_DELETE"},
	}},
	{name: "secret-bundles", families: []string{"secret-family"}, adds: [VerbManage + 1][]string{
		VerbInspect: {"SECRET_BUNDLE_INSPECT"},
		VerbRead:    {"SECRET_BUNDLE_READ"},
	}},
	{name: "compartments", adds: [VerbManage + 1][]string{
		VerbInspect: {"COMPARTMENT_INSPECT"},
		VerbUse:     {"COMPARTMENT_READ", "COMPARTMENT_UPDATE"},
		VerbManage:  {"COMPARTMENT_CREATE", "COMPARTMENT_DELETE", "COMPARTMENT_RECOVER"},
	}},
	{name: "users", adds: [VerbManage + 1][]string{
		VerbInspect: {"USER_INSPECT"},
		VerbRead:    {"USER_READ"},
		VerbUse:     {"USER_UPDATE"},
		VerbManage: {"USER_CREATE", "USER_DELETE", "USER_UNBLOCK", "USER_APIKEY_ADD", "USER_APIKEY_REMOVE",
			"USER_UIPASS_SET", "USER_UIPASS_RESET", "USER_SWIFTPASS_SET", "USER_SWIFTPASS_RESET", "USER_SWIFTPASS_REMOVE",
			"USER_AUTHTOKEN_SET", "USER_AUTHTOKEN_RESET", "USER_AUTHTOKEN_REMOVE",
			"USER_OAUTH2_CLIENT_CRED_CREATE", "USER_OAUTH2_CLIENT_CRED_UPDATE", "USER_OAUTH2_CLIENT_CRED_REMOVE",
			"USER_SECRETKEY_ADD", "USER_SECRETKEY_UPDATE", "USER_SECRETKEY_REMOVE",
			"USER_SUPPORT_ACCOUNT_LINK", "USER_SUPPORT_ACCOUNT_UNLINK",
			"USER_TOTPDEVICE_ADD", "USER_TOTPDEVICE_REMOVE", "USER_TOTPDEVICE_UPDATE"},
	}},
	{name: "groups", adds: [VerbManage + 1][]string{
		VerbInspect: {"GROUP_INSPECT"},
		VerbUse:     {"GROUP_UPDATE"},
		VerbManage:  {"GROUP_CREATE", "GROUP_DELETE"},
	}},
	{name: "dynamic-groups", adds: [VerbManage + 1][]string{
		VerbInspect: {"DYNAMIC_GROUP_INSPECT"},
		VerbUse:     {"DYNAMIC_GROUP_UPDATE"},
		VerbManage:  {"DYNAMIC_GROUP_CREATE", "DYNAMIC_GROUP_DELETE"},
	}},
	{name: "policies", adds: [VerbManage + 1][]string{
		VerbInspect: {"POLICY_READ"},
		VerbManage:  {"POLICY_UPDATE", "POLICY_CREATE", "POLICY_DELETE"},
	}},
	{name: "tenancies", adds: [VerbManage + 1][]string{
		VerbInspect: {"TENANCY_INSPECT"},
		VerbUse:     {"TENANCY_UPDATE"},
	}},
	// OCI's Cost Analysis and Usage API are granted by `read usage-report
	// in tenancy`; Coffer's usage report (`coffer usage`) is read the same
	// way. OCI publishes no permission name for it: USAGE_REPORT_READ is
	// Coffer's.
	{name: "usage-report", adds: [VerbManage + 1][]string{
		VerbRead: {"USAGE_REPORT_READ"},
	}},
}

// The aggregate names a statement may use besides the individual types.
const (
	familyAll    = "all-resources"
	familySecret = "secret-family"
	familyKey    = "key-family"
)

var (
	permNames  []string
	permByName = map[string]perm{}
	// permType is the individual resource type each permission belongs to.
	permType []string
	// grantTable maps a resource-type name (individual, family or
	// all-resources) and a verb to the cumulative permission set.
	grantTable = map[string]*[VerbManage + 1]permSet{}
	// minVerb is, per permission, the lowest verb on its own type that grants it.
	minVerb []Verb
)

func init() {
	for _, rt := range resourceTypes {
		var row [VerbManage + 1]permSet
		var acc permSet
		for v := VerbInspect; v <= VerbManage; v++ {
			for _, name := range rt.adds[v] {
				p, dup := permByName[name]
				if !dup {
					if len(permNames) >= maxPerms {
						panic("iam: permission catalogue exceeds maxPerms")
					}
					p = perm(len(permNames))
					permNames = append(permNames, name)
					permByName[name] = p
					permType = append(permType, rt.name)
					minVerb = append(minVerb, v)
				}
				acc.add(p)
			}
			row[v] = acc
		}
		grantTable[rt.name] = &row
		for _, fam := range append([]string{familyAll}, rt.families...) {
			f := grantTable[fam]
			if f == nil {
				f = new([VerbManage + 1]permSet)
				grantTable[fam] = f
			}
			for v := range f {
				f[v] = f[v].union(row[v])
			}
		}
	}
}

// expand returns the permissions a verb grants on a resource type (an
// individual type, a family or all-resources).
func expand(v Verb, resourceType string) (permSet, bool) {
	row, ok := grantTable[resourceType]
	if !ok || v == VerbNone {
		return permSet{}, false
	}
	return row[v], true
}

// ResourceTypes lists every resource-type name a statement may use (individual
// types, families and all-resources), sorted; for documentation and for
// "did you mean" hints in the CLI.
func ResourceTypes() []string {
	out := make([]string, 0, len(grantTable))
	for name := range grantTable {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Permissions returns the permissions a verb grants on a resource type, in
// catalogue order; nil if the type is unknown. It is the verb table of the
// reference (2.3) made executable, for `coffer iam` and for tests.
func Permissions(v Verb, resourceType string) []string {
	set, ok := expand(v, strings.ToLower(resourceType))
	if !ok {
		return nil
	}
	var out []string
	set.each(func(p perm) { out = append(out, permNames[p]) })
	return out
}

// isSecretType reports whether a resource type carries secret contents or
// metadata, for lint and for which target variables apply.
func isSecretType(t string) bool {
	return t == "secrets" || t == "secret-versions" || t == "secret-bundles"
}

func isKeyType(t string) bool { return t == "keys" || t == "key-delegate" }

// Target says which loaded resource a permission check applies to.
type Target uint8

// The targets of a check.
const (
	// TargetCompartment is Request.CompartmentID: where a list or create acts.
	TargetCompartment Target = iota + 1
	// TargetTenancy is the root compartment, whatever the request names.
	TargetTenancy
	// TargetVault is Request.Vault.
	TargetVault
	// TargetKey is Request.Key (for secret operations: the secret's key).
	TargetKey
	// TargetSecret is Request.Secret.
	TargetSecret
)

var targetNames = [...]string{"", "compartment", "tenancy", "vault", "key", "secret"}

// String names the target as an explanation writes it.
func (t Target) String() string {
	if int(t) < len(targetNames) {
		return targetNames[t]
	}
	return fmt.Sprintf("Target(%d)", t)
}

// Check is one permission an operation needs, on one target.
type Check struct {
	Permission string
	Target     Target
	perm       perm
}

// opSpec is an operation's checks: always, and those added by Coffer's
// secret-key rule (Options.MirrorOCITable turns them off).
type opSpec struct {
	checks  []Check
	keyRule []Check
	// keyRuleVar, if set, makes keyRule apply only when the request carries
	// this Vars entry with value "true" (UpdateSecret with new content).
	keyRuleVar string
	// selfService marks credential operations (API keys, console password)
	// every user may perform on himself.
	selfService bool
	// everyPrincipal marks an operation every authenticated principal of
	// the tenancy may call without a policy because it shows each caller
	// only what other operations would let it read (ListChanges).
	everyPrincipal bool
	// allResources marks an operation that needs `manage all-resources` on
	// the request's compartment rather than named permissions
	// (MoveCompartment): init fills its checks with every permission of
	// the catalogue, and a denial suggests the one statement.
	allResources bool
}

// VarUpdatesContent is the Vars entry the wire layer sets to "true" when an
// UpdateSecret request carries new secret content (UpdateSecretDetails has a
// SecretContent). Only then does Coffer's secret-key rule ask for KEY_ENCRYPT
// on the secret's key. It is not a policy variable: statements cannot test it.
const VarUpdatesContent = "coffer.updatesSecretContent"

// OperationExplainAuthorization is Coffer's own administrative operation
// (`coffer iam explain`). Explaining reveals whether resources exist and who
// may use them, so it needs POLICY_UPDATE in the tenancy, i.e.
// `manage policies in tenancy`: the same people who could grant themselves
// anything already.
const OperationExplainAuthorization = "ExplainAuthorization"

// OperationExplainOwnAuthorization is Coffer's own "why was I denied"
// operation: every principal may ask how the engine decides an operation
// for itself, and is shown which permissions it lacks and what to add,
// without the text of the statements, and only on a target it can
// inspect or holds some permission on.
const OperationExplainOwnAuthorization = "ExplainOwnAuthorization"

// OperationLintPolicy is Coffer's own operation that lints a policy's
// statements for the console's policy editor. It needs POLICY_READ in the
// compartment the policy would be attached to, as ListPolicies does.
const OperationLintPolicy = "LintPolicy"

// OperationCreateResourcePrincipalSessionToken is Coffer's own operation
// that mints a resource-principal session token (`coffer iam
// resource-principal-token`), standing in for the platform that gives OCI
// workloads theirs.
const OperationCreateResourcePrincipalSessionToken = "CreateResourcePrincipalSessionToken"

// OperationSealServer (`coffer operator seal`), OperationRotateKeyring
// (`coffer operator rotate`) and OperationRekeyRootKey (`coffer operator
// rekey`) are Coffer's own operator operations. Sealing stops every caller
// until share holders unseal again; rotating changes the key that encrypts
// everything written next; rekeying replaces the root key and its shares.
// All need POLICY_UPDATE in the tenancy, i.e. administrators who could
// grant themselves anything.
// OperationGetRegionReplicationStatus is Coffer's own operation that
// reports cross-region replication on one node (`coffer operator
// replication status`); it needs VAULT_INSPECT in the tenancy.
const OperationGetRegionReplicationStatus = "GetRegionReplicationStatus"

const (
	OperationSealServer    = "SealServer"
	OperationRotateKeyring = "RotateKeyring"
	OperationRekeyRootKey  = "RekeyRootKey"
)

// OperationDownloadVaultBackup and OperationDownloadKeyBackup are Coffer's
// own forms of BackupVault and BackupKey that answer with the backup file
// (`coffer kms management vault backup --file`, `... key backup --file`),
// for a Coffer without Object Storage. They need what BackupVault and
// BackupKey need.
const (
	OperationDownloadVaultBackup = "DownloadVaultBackup"
	OperationDownloadKeyBackup   = "DownloadKeyBackup"
)

// OperationExportBackupKey (`coffer operator backup-key export`) and
// OperationImportBackupKey (`... import`) are Coffer's own operator
// operations on the keyring's backup key: with it, anyone holding a backup
// file can restore the key material in it. Both need POLICY_UPDATE in the
// tenancy, like the other operator operations.
const (
	OperationExportBackupKey = "ExportBackupKey"
	OperationImportBackupKey = "ImportBackupKey"
)

// OperationGetUsageReport is Coffer's own operation that reports API
// calls and secret retrievals by principal, operation or secret (`coffer
// usage`). It needs USAGE_REPORT_READ in the tenancy, i.e. `read
// usage-report in tenancy`, the statement OCI's cost reports need.
const OperationGetUsageReport = "GetUsageReport"

// EveryPrincipal reports whether op is allowed to every authenticated
// principal of the tenancy without a policy (ListChanges).
func EveryPrincipal(op string) bool { return operations[op].everyPrincipal }

// OperationListChanges is Coffer's change feed (`GET
// /20190301/coffer/changes`): which secrets and keys changed, filtered per
// item by the caller's right to read them.
const OperationListChanges = "ListChanges"

// OperationCreateInstanceCertificate is Coffer's own operation that issues
// an instance principal leaf certificate from Coffer's instance CA (`coffer
// iam instance-certificate`), standing in for OCI's instance metadata.
const OperationCreateInstanceCertificate = "CreateInstanceCertificate"

func c(p string, t Target) Check { return Check{Permission: p, Target: t} }

// operations is the table from every operation Coffer serves to its checks
// (Oracle's policy reference for Vault, Key Management and Secrets:
// docs/oci-behaviours.md#permissions-for-vault-keys-and-secrets).
var operations = map[string]*opSpec{
	// KmsVault
	"CreateVault":           {checks: []Check{c("VAULT_CREATE", TargetCompartment)}},
	"GetVault":              {checks: []Check{c("VAULT_READ", TargetVault)}},
	"GetVaultUsage":         {checks: []Check{c("VAULT_READ", TargetVault)}},
	"ListVaults":            {checks: []Check{c("VAULT_INSPECT", TargetCompartment)}},
	"UpdateVault":           {checks: []Check{c("VAULT_UPDATE", TargetVault)}},
	"ScheduleVaultDeletion": {checks: []Check{c("VAULT_DELETE", TargetVault)}},
	"CancelVaultDeletion":   {checks: []Check{c("VAULT_DELETE", TargetVault)}},
	// Moves need the permission where the resource is and where it goes
	// (Request.CompartmentID is the destination), as OCI's "Moving
	// Resources" page requires access in both compartments.
	"ChangeVaultCompartment": {checks: []Check{c("VAULT_MOVE", TargetVault), c("VAULT_MOVE", TargetCompartment)}},
	"BackupVault":            {checks: []Check{c("VAULT_BACKUP", TargetVault)}},
	// Restores are authorized in the compartment the vault goes into.
	"RestoreVaultFromFile":        {checks: []Check{c("VAULT_RESTORE", TargetCompartment)}},
	"RestoreVaultFromObjectStore": {checks: []Check{c("VAULT_RESTORE", TargetCompartment)}},
	// OperationDownloadVaultBackup is BackupVault answering with the file.
	OperationDownloadVaultBackup: {checks: []Check{c("VAULT_BACKUP", TargetVault)}},
	"CreateVaultReplica":         {checks: []Check{c("VAULT_REPLICATE", TargetVault)}},
	"DeleteVaultReplica":         {checks: []Check{c("VAULT_REPLICATE", TargetVault)}},
	"ListVaultReplicas":          {checks: []Check{c("VAULT_INSPECT", TargetVault)}},

	// KmsManagement
	"CreateKey":                  {checks: []Check{c("KEY_CREATE", TargetCompartment), c("VAULT_CREATE_KEY", TargetVault)}},
	"ImportKey":                  {checks: []Check{c("KEY_IMPORT", TargetCompartment), c("VAULT_IMPORT_KEY", TargetVault)}},
	"GetKey":                     {checks: []Check{c("KEY_READ", TargetKey)}},
	"ListKeys":                   {checks: []Check{c("KEY_INSPECT", TargetCompartment)}},
	"UpdateKey":                  {checks: []Check{c("KEY_UPDATE", TargetKey)}},
	"EnableKey":                  {checks: []Check{c("KEY_UPDATE", TargetKey)}},
	"DisableKey":                 {checks: []Check{c("KEY_UPDATE", TargetKey)}},
	"ScheduleKeyDeletion":        {checks: []Check{c("KEY_DELETE", TargetKey)}},
	"CancelKeyDeletion":          {checks: []Check{c("KEY_DELETE", TargetKey)}},
	"ChangeKeyCompartment":       {checks: []Check{c("KEY_MOVE", TargetKey), c("KEY_MOVE", TargetCompartment)}},
	"CreateKeyVersion":           {checks: []Check{c("KEY_ROTATE", TargetKey)}},
	"GetKeyVersion":              {checks: []Check{c("KEY_READ", TargetKey)}},
	"ListKeyVersions":            {checks: []Check{c("KEY_INSPECT", TargetKey)}},
	"ScheduleKeyVersionDeletion": {checks: []Check{c("KEY_DELETE", TargetKey)}},
	"CancelKeyVersionDeletion":   {checks: []Check{c("KEY_DELETE", TargetKey)}},
	"GetWrappingKey":             {checks: []Check{c("VAULT_READ", TargetVault)}},
	// Not in Oracle's table; read level, as GetWrappingKey.
	"GetReplicationStatus": {checks: []Check{c("VAULT_READ", TargetVault)}},
	"ImportKeyVersion":     {checks: []Check{c("KEY_IMPORT", TargetKey)}},
	"BackupKey":            {checks: []Check{c("KEY_BACKUP", TargetKey)}},
	// Restores are authorized in the compartment the key goes into.
	"RestoreKeyFromFile":        {checks: []Check{c("KEY_RESTORE", TargetCompartment)}},
	"RestoreKeyFromObjectStore": {checks: []Check{c("KEY_RESTORE", TargetCompartment)}},
	OperationDownloadKeyBackup:  {checks: []Check{c("KEY_BACKUP", TargetKey)}},

	// KmsCrypto
	"Encrypt":                   {checks: []Check{c("KEY_ENCRYPT", TargetKey)}},
	"GenerateDataEncryptionKey": {checks: []Check{c("KEY_ENCRYPT", TargetKey)}},
	"Decrypt":                   {checks: []Check{c("KEY_DECRYPT", TargetKey)}},
	"Sign":                      {checks: []Check{c("KEY_SIGN", TargetKey)}},
	"Verify":                    {checks: []Check{c("KEY_VERIFY", TargetKey)}},
	"ExportKey":                 {checks: []Check{c("KEY_EXPORT", TargetKey)}},

	// Vaults (secret management)
	"CreateSecret": {
		checks:  []Check{c("SECRET_CREATE", TargetCompartment), c("VAULT_CREATE_SECRET", TargetVault)},
		keyRule: []Check{c("KEY_ENCRYPT", TargetKey)},
	},
	"UpdateSecret": {
		checks:     []Check{c("SECRET_UPDATE", TargetSecret)},
		keyRule:    []Check{c("KEY_ENCRYPT", TargetKey)},
		keyRuleVar: VarUpdatesContent,
	},
	"GetSecret":                     {checks: []Check{c("SECRET_READ", TargetSecret)}},
	"ListSecrets":                   {checks: []Check{c("SECRET_INSPECT", TargetCompartment)}},
	"ChangeSecretCompartment":       {checks: []Check{c("SECRET_MOVE", TargetSecret), c("SECRET_UPDATE", TargetSecret), c("SECRET_MOVE", TargetCompartment)}},
	"GetSecretVersion":              {checks: []Check{c("SECRET_VERSION_READ", TargetSecret)}},
	"ListSecretVersions":            {checks: []Check{c("SECRET_VERSION_INSPECT", TargetSecret)}},
	"ScheduleSecretDeletion":        {checks: []Check{c("SECRET_DELETE", TargetSecret)}},
	"CancelSecretDeletion":          {checks: []Check{c("SECRET_DELETE", TargetSecret)}},
	"ScheduleSecretVersionDeletion": {checks: []Check{c("SECRET_VERSION_DELETE", TargetSecret), c("SECRET_UPDATE", TargetSecret)}},
	"CancelSecretVersionDeletion":   {checks: []Check{c("SECRET_VERSION_DELETE", TargetSecret), c("SECRET_UPDATE", TargetSecret)}},
	"RotateSecret":                  {checks: []Check{c("SECRET_ROTATE", TargetSecret)}},
	"CancelSecretRotation":          {checks: []Check{c("SECRET_ROTATE", TargetSecret)}},

	// Secrets (retrieval)
	"GetSecretBundle":          {checks: []Check{c("SECRET_BUNDLE_READ", TargetSecret)}, keyRule: []Check{c("KEY_DECRYPT", TargetKey)}},
	"GetSecretBundleByName":    {checks: []Check{c("SECRET_BUNDLE_READ", TargetSecret)}, keyRule: []Check{c("KEY_DECRYPT", TargetKey)}},
	"ListSecretBundleVersions": {checks: []Check{c("SECRET_BUNDLE_INSPECT", TargetSecret)}},

	// Identity
	"GetTenancy":               {checks: []Check{c("TENANCY_INSPECT", TargetTenancy)}},
	"ListRegionSubscriptions":  {checks: []Check{c("TENANCY_INSPECT", TargetTenancy)}},
	"GetCompartment":           {checks: []Check{c("COMPARTMENT_INSPECT", TargetCompartment)}},
	"ListCompartments":         {checks: []Check{c("COMPARTMENT_INSPECT", TargetCompartment)}},
	"CreateCompartment":        {checks: []Check{c("COMPARTMENT_CREATE", TargetCompartment)}},
	"UpdateCompartment":        {checks: []Check{c("COMPARTMENT_UPDATE", TargetCompartment)}},
	"DeleteCompartment":        {checks: []Check{c("COMPARTMENT_DELETE", TargetCompartment)}},
	"GetUser":                  {checks: []Check{c("USER_INSPECT", TargetCompartment)}},
	"ListUsers":                {checks: []Check{c("USER_INSPECT", TargetCompartment)}},
	"CreateUser":               {checks: []Check{c("USER_CREATE", TargetCompartment)}},
	"UpdateUser":               {checks: []Check{c("USER_UPDATE", TargetCompartment)}},
	"DeleteUser":               {checks: []Check{c("USER_DELETE", TargetCompartment)}},
	"UpdateUserState":          {checks: []Check{c("USER_UPDATE", TargetCompartment), c("USER_UNBLOCK", TargetCompartment)}}, // Oracle's IAM API table
	"UploadApiKey":             {checks: []Check{c("USER_UPDATE", TargetCompartment), c("USER_APIKEY_ADD", TargetCompartment)}, selfService: true},
	"ListApiKeys":              {checks: []Check{c("USER_READ", TargetCompartment)}, selfService: true},
	"DeleteApiKey":             {checks: []Check{c("USER_UPDATE", TargetCompartment), c("USER_APIKEY_REMOVE", TargetCompartment)}, selfService: true},
	"GetGroup":                 {checks: []Check{c("GROUP_INSPECT", TargetCompartment)}},
	"ListGroups":               {checks: []Check{c("GROUP_INSPECT", TargetCompartment)}},
	"CreateGroup":              {checks: []Check{c("GROUP_CREATE", TargetCompartment)}},
	"UpdateGroup":              {checks: []Check{c("GROUP_UPDATE", TargetCompartment)}},
	"DeleteGroup":              {checks: []Check{c("GROUP_DELETE", TargetCompartment)}},
	"AddUserToGroup":           {checks: []Check{c("GROUP_UPDATE", TargetCompartment), c("USER_UPDATE", TargetCompartment)}},
	"RemoveUserFromGroup":      {checks: []Check{c("GROUP_UPDATE", TargetCompartment), c("USER_UPDATE", TargetCompartment)}},
	"GetUserGroupMembership":   {checks: []Check{c("USER_INSPECT", TargetCompartment), c("GROUP_INSPECT", TargetCompartment)}},
	"ListUserGroupMemberships": {checks: []Check{c("GROUP_INSPECT", TargetCompartment), c("USER_INSPECT", TargetCompartment)}},
	"GetDynamicGroup":          {checks: []Check{c("DYNAMIC_GROUP_INSPECT", TargetCompartment)}},
	"ListDynamicGroups":        {checks: []Check{c("DYNAMIC_GROUP_INSPECT", TargetCompartment)}},
	"CreateDynamicGroup":       {checks: []Check{c("DYNAMIC_GROUP_CREATE", TargetCompartment)}},
	"UpdateDynamicGroup":       {checks: []Check{c("DYNAMIC_GROUP_UPDATE", TargetCompartment)}},
	"DeleteDynamicGroup":       {checks: []Check{c("DYNAMIC_GROUP_DELETE", TargetCompartment)}},
	"GetPolicy":                {checks: []Check{c("POLICY_READ", TargetCompartment)}},
	"ListPolicies":             {checks: []Check{c("POLICY_READ", TargetCompartment)}},
	"CreatePolicy":             {checks: []Check{c("POLICY_CREATE", TargetCompartment)}},
	"UpdatePolicy":             {checks: []Check{c("POLICY_UPDATE", TargetCompartment)}},
	"DeletePolicy":             {checks: []Check{c("POLICY_DELETE", TargetCompartment)}},

	// Console passwords: Oracle's IAM API table; OCI's user credentials
	// page says every user may create or reset his own.
	"CreateOrResetUIPassword":      {checks: []Check{c("USER_UPDATE", TargetCompartment), c("USER_UIPASS_RESET", TargetCompartment)}, selfService: true},
	"GetUserUIPasswordInformation": {checks: []Check{c("USER_READ", TargetCompartment)}, selfService: true},

	// Identity: moving compartments, work requests, the region's layout.
	// Oracle's IAM policy reference: MoveCompartment has no permission of
	// its own; it needs manage all-resources on the lowest shared parent of
	// the current and the destination parent (Request.CompartmentID).
	// GetWorkRequest needs COMPARTMENT_READ; ListWorkRequests, absent from
	// the reference, shows the same records and needs the same.
	"MoveCompartment":         {allResources: true},
	"GetWorkRequest":          {checks: []Check{c("COMPARTMENT_READ", TargetCompartment)}},
	"ListWorkRequests":        {checks: []Check{c("COMPARTMENT_READ", TargetCompartment)}},
	"ListAvailabilityDomains": {checks: []Check{c("COMPARTMENT_INSPECT", TargetCompartment)}},
	"ListFaultDomains":        {checks: []Check{c("COMPARTMENT_INSPECT", TargetCompartment)}},
	"ListRegions":             {checks: []Check{c("TENANCY_INSPECT", TargetTenancy)}},

	// Coffer administration
	OperationExplainAuthorization: {checks: []Check{c("POLICY_UPDATE", TargetTenancy)}},
	OperationLintPolicy:           {checks: []Check{c("POLICY_READ", TargetCompartment)}},
	// Minting a resource-principal token lets its holder act as any
	// resource, which is as much as creating a dynamic group that matches
	// it: the same permission, in the tenancy.
	OperationCreateResourcePrincipalSessionToken: {checks: []Check{c("DYNAMIC_GROUP_CREATE", TargetTenancy)}},
	// An instance certificate is the same: its holder acts as any instance.
	OperationCreateInstanceCertificate: {checks: []Check{c("DYNAMIC_GROUP_CREATE", TargetTenancy)}},
	// Usage names principals and secrets of the whole tenancy.
	OperationGetUsageReport: {checks: []Check{c("USAGE_REPORT_READ", TargetTenancy)}},
	// The change feed needs no permission of its own: every item is shown
	// only to a caller that may read its secret's bundle (GetSecretBundle)
	// or its key (GetKey), so an authenticated caller with no policy gets
	// a feed with no items.
	OperationListChanges: {everyPrincipal: true},
	// Each principal asks only about itself; the handler limits the answer.
	OperationExplainOwnAuthorization: {everyPrincipal: true},

	// Operator operations: who may stop every caller, or change the key
	// everything is written with, could already grant themselves anything.
	OperationSealServer:      {checks: []Check{c("POLICY_UPDATE", TargetTenancy)}},
	OperationRotateKeyring:   {checks: []Check{c("POLICY_UPDATE", TargetTenancy)}},
	OperationRekeyRootKey:    {checks: []Check{c("POLICY_UPDATE", TargetTenancy)}},
	OperationExportBackupKey: {checks: []Check{c("POLICY_UPDATE", TargetTenancy)}},
	OperationImportBackupKey: {checks: []Check{c("POLICY_UPDATE", TargetTenancy)}},
	// Which regions this one replicates from, how far behind and why not:
	// ids of failing secrets, no content.
	OperationGetRegionReplicationStatus: {checks: []Check{c("VAULT_INSPECT", TargetTenancy)}},
}

// permCompartmentInspect is checked by name on the hot path (instances hold it
// implicitly).
var permCompartmentInspect perm

func init() {
	permCompartmentInspect = permByName["COMPARTMENT_INSPECT"]
	for _, op := range operations {
		if op.allResources {
			grantTable[familyAll][VerbManage].each(func(p perm) { op.checks = append(op.checks, c(permNames[p], TargetCompartment)) })
		}
	}
	for name, op := range operations {
		for _, list := range [][]Check{op.checks, op.keyRule} {
			for i := range list {
				p, ok := permByName[list[i].Permission]
				if !ok {
					panic("iam: operation " + name + " needs unknown permission " + list[i].Permission)
				}
				list[i].perm = p
			}
		}
	}
}

// Operations lists every operation the engine knows, sorted. Any other
// operation is denied.
func Operations() []string {
	out := make([]string, 0, len(operations))
	for name := range operations {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// RequiredChecks returns the checks an operation needs under the given
// options, and false for an unknown operation. updatesContent says whether
// an UpdateSecret carries new content.
func RequiredChecks(operation string, opts Options, updatesContent bool) ([]Check, bool) {
	op, ok := operations[operation]
	if !ok {
		return nil, false
	}
	out := slices.Clone(op.checks)
	if !opts.MirrorOCITable && (op.keyRuleVar == "" || updatesContent) {
		out = append(out, op.keyRule...)
	}
	return out, true
}
