// Package ocid makes and checks Oracle Cloud IDs (OCIDs), the identifiers of
// every resource Coffer serves: ocid1.<type>.<realm>.<region>.<unique>.
// The unique part is 60 characters of lowercase base32 from crypto/rand, so
// OCIDs cannot be guessed.
package ocid

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Realm is the realm segment Coffer writes in every OCID.
const Realm = "oc1"

// Resource types, as OCI spells them in OCIDs.
const (
	Tenancy         = "tenancy"
	Compartment     = "compartment"
	User            = "user"
	Group           = "group"
	DynamicGroup    = "dynamicgroup"
	Policy          = "policy"
	Membership      = "groupmembership"
	Vault           = "vault"
	Key             = "key"
	KeyVersion      = "keyversion"
	Secret          = "vaultsecret"
	WrappingKey     = "wrappingkey"
	KmsEndpointHint = "kms"
	// VaultReplication names a create or delete of a vault replica (its
	// replicationId).
	VaultReplication = "vaultreplication"
	// WorkRequest, AvailabilityDomain and FaultDomain are the identity
	// service's work requests and the region's layout.
	WorkRequest        = "workrequest"
	AvailabilityDomain = "availabilitydomain"
	FaultDomain        = "faultdomain"
)

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// New returns a fresh OCID of the given resource type in region. The tenancy
// and identity types carry an empty region segment, as in OCI.
func New(resourceType, region string) string {
	var b [38]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ocid: crypto/rand failed: " + err.Error())
	}
	unique := enc.EncodeToString(b[:])[:60]
	switch resourceType {
	case Tenancy, Compartment, User, Group, DynamicGroup, Policy, Membership:
		region = ""
	}
	return "ocid1." + resourceType + "." + Realm + "." + region + "." + unique
}

// Derive returns the OCID of a resource Coffer computes rather than stores
// (an availability domain, a fault domain): its unique part is a hash of
// seed, so the same seed always names the same resource. The region rule is
// New's.
func Derive(resourceType, region string, seed ...string) string {
	h := sha256.New()
	for _, s := range seed {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	sum := h.Sum(nil)
	unique := enc.EncodeToString(append(sum, sum[:6]...))[:60]
	switch resourceType {
	case Tenancy, Compartment, User, Group, DynamicGroup, Policy, Membership, AvailabilityDomain:
		region = ""
	}
	return "ocid1." + resourceType + "." + Realm + "." + region + "." + unique
}

// TypeOf returns the resource-type segment of id, or "" when id is not an OCID.
func TypeOf(id string) string {
	if !Valid(id) {
		return ""
	}
	parts := strings.SplitN(id, ".", 4)
	return parts[1]
}

// Valid reports whether id has the shape of an OCID: ocid1 and at least four
// more dot-separated segments of [a-z0-9-_], the last one non-empty, and at
// most 255 bytes.
func Valid(id string) bool {
	if len(id) > 255 || !strings.HasPrefix(id, "ocid1.") {
		return false
	}
	// One pass, no allocation: this runs on every id of every request.
	rest := id[len("ocid1."):]
	if rest == "" || rest[0] == '.' || rest[len(rest)-1] == '.' {
		return false
	}
	dots := 0
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '.':
			dots++
		case !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'):
			return false
		}
	}
	return dots >= 3
}

// Short returns the unique (last) segment of an OCID, used in host names
// such as <short>-management.kms.<domain>.
func Short(id string) string {
	i := strings.LastIndexByte(id, '.')
	return id[i+1:]
}

// Errors of Parse. They carry no part of the input: an id from outside may
// hold anything, including bytes a log or an error body should not echo.
var (
	// ErrMalformed: the string does not have the shape of an OCID.
	ErrMalformed = errors.New("ocid: not a valid OCID")
	// ErrWrongType: a well-formed OCID of another resource type. Such an id
	// cannot name the resource asked for, which is "not found", not "bad
	// request".
	ErrWrongType = errors.New("ocid: OCID of another resource type")
)

// ID is an OCID that Parse has checked.
type ID string

// String returns the OCID.
func (id ID) String() string { return string(id) }

// Type returns the resource-type segment.
func (id ID) Type() string { return TypeOf(string(id)) }

// Parse checks that s is an OCID and, when types are given, that its
// resource type is one of them. It is the one check every id from outside
// passes before anything looks it up, so a NUL byte, invalid UTF-8, a path
// separator or a 2 KB string never reaches a store key.
func Parse(s string, types ...string) (ID, error) {
	if !Valid(s) {
		return "", ErrMalformed
	}
	if len(types) == 0 {
		return ID(s), nil
	}
	t := TypeOf(s)
	for _, want := range types {
		if t == want {
			return ID(s), nil
		}
	}
	return "", ErrWrongType
}
