package identity

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// The region's layout, as OCI's IdentityClient reports it. A Coffer server
// is one region with one availability domain, which holds the three fault
// domains every OCI availability domain has. Nothing here is stored: the
// names and OCIDs derive from the tenancy and the region, so every node
// answers alike.
//
// OCI names an availability domain "<prefix>:<REGION>-AD-<n>", the prefix
// four letters particular to the tenancy (for example
// "YXol:US-ASHBURN-AD-1"); Coffer's prefix is taken from a hash of the
// tenancy OCID.

// FaultDomainsPerAD is how many fault domains an OCI availability domain has.
const FaultDomainsPerAD = 3

// AvailabilityDomain is the region's one availability domain.
type AvailabilityDomain struct {
	Name, ID, TenancyID string
}

// FaultDomain is one of an availability domain's fault domains.
type FaultDomain struct {
	Name, ID, TenancyID, AvailabilityDomain string
}

// AvailabilityDomains returns the region's availability domains (one).
func (s *Service) AvailabilityDomains(ctx context.Context) ([]AvailabilityDomain, error) {
	t, err := s.Tenancy(ctx)
	if err != nil {
		return nil, err
	}
	return []AvailabilityDomain{s.availabilityDomain(t.ID)}, nil
}

func (s *Service) availabilityDomain(tenancyID string) AvailabilityDomain {
	name := adPrefix(tenancyID) + ":" + strings.ToUpper(s.region) + "-AD-1"
	return AvailabilityDomain{Name: name, ID: ocid.Derive(ocid.AvailabilityDomain, s.region, tenancyID, name), TenancyID: tenancyID}
}

// adPrefix is four letters from a hash of the tenancy OCID.
func adPrefix(tenancyID string) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	sum := sha256.Sum256([]byte("coffer availability domain prefix\x00" + tenancyID))
	var b [4]byte
	for i := range b {
		b[i] = letters[int(sum[i])%len(letters)]
	}
	return string(b[:])
}

// FaultDomains returns the fault domains of the availability domain named
// ad (compared without case); an unknown name is InvalidParameter.
func (s *Service) FaultDomains(ctx context.Context, ad string) ([]FaultDomain, error) {
	if ad == "" {
		return nil, errs.E(errs.Missing, "query parameter availabilityDomain is required")
	}
	t, err := s.Tenancy(ctx)
	if err != nil {
		return nil, err
	}
	a := s.availabilityDomain(t.ID)
	if !strings.EqualFold(ad, a.Name) {
		return nil, errs.E(errs.Invalid, "availabilityDomain %q is not an availability domain of region %s; ListAvailabilityDomains names its one availability domain, %s", ad, s.region, a.Name)
	}
	out := make([]FaultDomain, 0, FaultDomainsPerAD)
	for i := 1; i <= FaultDomainsPerAD; i++ {
		name := fmt.Sprintf("FAULT-DOMAIN-%d", i)
		out = append(out, FaultDomain{Name: name, ID: ocid.Derive(ocid.FaultDomain, s.region, t.ID, a.Name, name),
			TenancyID: t.ID, AvailabilityDomain: a.Name})
	}
	return out, nil
}

// Region is the one region this server serves.
func (s *Service) Region() string { return s.region }
