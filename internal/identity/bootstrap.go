package identity

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// AdministratorsGroup is the name of the group that dev mode makes and
// grants everything to.
const AdministratorsGroup = "Administrators"

// AdminPolicyStatement is the statement of the bootstrap policy.
const AdminPolicyStatement = "Allow group Administrators to manage all-resources in tenancy"

// BootstrapSpec describes the first tenancy and its administrator.
type BootstrapSpec struct {
	TenancyName string
	AdminName   string
	AdminKey    *rsa.PublicKey
}

// BootstrapResult names what Bootstrap created.
type BootstrapResult struct {
	TenancyID   string
	UserID      string
	GroupID     string
	PolicyID    string
	Fingerprint string
}

// ErrAlreadyBootstrapped means the store already has a tenancy.
var ErrAlreadyBootstrapped = errors.New("identity: already bootstrapped")

// Bootstrap creates a tenancy, an administrator user with one API key, the
// Administrators group with that user in it, and a policy that lets the
// group manage everything. It is one transaction: either all exist after it
// or nothing does.
func (s *Service) Bootstrap(ctx context.Context, spec BootstrapSpec) (BootstrapResult, error) {
	var res BootstrapResult
	fp, err := authn.Fingerprint(spec.AdminKey)
	if err != nil {
		return res, err
	}
	der, err := x509.MarshalPKIXPublicKey(spec.AdminKey)
	if err != nil {
		return res, fmt.Errorf("identity: bootstrap: %w", err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	now := s.now().UTC()
	res = BootstrapResult{
		TenancyID:   ocid.New(ocid.Tenancy, s.region),
		UserID:      ocid.New(ocid.User, s.region),
		GroupID:     ocid.New(ocid.Group, s.region),
		PolicyID:    ocid.New(ocid.Policy, s.region),
		Fingerprint: fp,
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if done, err := record.Exists(tx, keyTenancy); err != nil {
			return err
		} else if done {
			return ErrAlreadyBootstrapped
		}
		t := Tenancy{ID: res.TenancyID, Name: spec.TenancyName, Description: "Coffer tenancy", HomeRegion: s.region, TimeCreated: now}
		u := User{ID: res.UserID, TenancyID: t.ID, Name: spec.AdminName, Description: "Administrator created by bootstrap", State: StateActive, TimeCreated: now, ETag: etag.New()}
		g := Group{ID: res.GroupID, TenancyID: t.ID, Name: AdministratorsGroup, Description: "Administrators of the tenancy", State: StateActive, TimeCreated: now, ETag: etag.New()}
		m := Membership{ID: ocid.New(ocid.Membership, s.region), TenancyID: t.ID, UserID: u.ID, GroupID: g.ID, State: StateActive, TimeCreated: now, ETag: etag.New()}
		p := Policy{ID: res.PolicyID, CompartmentID: t.ID, Name: "Administrators", Description: "Lets the Administrators group manage everything",
			Statements: []string{AdminPolicyStatement}, State: StateActive, TimeCreated: now, ETag: etag.New()}
		k := APIKey{UserID: u.ID, Fingerprint: fp, PublicPEM: pubPEM, State: StateActive, TimeCreated: now}
		for _, w := range []struct {
			key string
			v   any
		}{
			{keyTenancy, t},
			{prefixUser + u.ID, u},
			{s.nameKey(nameUser, "", u.Name), u.ID},
			{prefixGroup + g.ID, g},
			{s.nameKey(nameGroup, "", g.Name), g.ID},
			{prefixMember + m.ID, m},
			{prefixUserGrp + u.ID + "/" + g.ID, m.ID},
			{prefixPolicy + p.ID, p},
			{s.nameKey(namePolicy, t.ID, p.Name), p.ID},
			{s.apiKeyKey(u.ID, fp), k},
		} {
			if err := record.Put(tx, w.key, w.v); err != nil {
				return err
			}
		}
		_, err := bumpStoredGeneration(tx)
		return err
	})
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("identity: bootstrap: %w", err)
	}
	s.Changed()
	return res, nil
}
