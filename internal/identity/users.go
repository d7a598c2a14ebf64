package identity

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// InactiveBlocked is the User.InactiveStatus bit of a blocked user.
const InactiveBlocked = 4

// UserInput is a CreateUser or UpdateUser request; nil fields are
// unchanged on update. Name is set on create only: OCI user names never
// change.
type UserInput struct {
	CompartmentID string // create only: the tenancy
	Name          *string
	Description   *string
	Email         *string
	FreeformTags  map[string]string
	DefinedTags   map[string]map[string]any
}

// CreateUser creates an ACTIVE user. Names are unique in the tenancy.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (User, error) {
	if in.Name == nil {
		return User{}, errs.E(errs.Missing, "name is required")
	}
	if err := userNames.check(*in.Name); err != nil {
		return User{}, err
	}
	if err := checkDescription(in.Description, true); err != nil {
		return User{}, err
	}
	u := User{ID: ocid.New(ocid.User, s.region), Name: *in.Name, Description: *in.Description,
		Email: strOr(in.Email, ""), State: StateActive, TimeCreated: s.now().UTC(),
		FreeformTags: in.FreeformTags, DefinedTags: in.DefinedTags, ETag: etag.New()}
	err := s.update(ctx, func(tx store.Tx) error {
		t, err := checkTenancy(tx, in.CompartmentID)
		if err != nil {
			return err
		}
		u.TenancyID = t.ID
		if err := claimName(tx, s.nameKey(nameUser, "", u.Name), u.ID, "a user", u.Name); err != nil {
			return err
		}
		return record.Put(tx, prefixUser+u.ID, u)
	})
	if err != nil {
		return User{}, fmt.Errorf("identity: create user: %w", err)
	}
	return u, nil
}

// GetUser returns a user.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	return viewOne[User](ctx, s, prefixUser, "user", id)
}

// ListUsers lists the users of the tenancy.
func (s *Service) ListUsers(ctx context.Context, compartmentID string, o ListOptions) ([]User, string, error) {
	return listInTenancy[User](ctx, s, compartmentID, prefixUser, o)
}

func (s *Service) mutateUser(ctx context.Context, id, ifMatch string, fn func(tx store.Tx, u *User) error) (User, error) {
	var u User
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		if u, err = get[User](tx, prefixUser+id, "user", id); err != nil {
			return err
		}
		if err := checkETag(ifMatch, u.ETag, "user", id); err != nil {
			return err
		}
		if err := fn(tx, &u); err != nil {
			return err
		}
		u.ETag = etag.New()
		return record.Put(tx, prefixUser+u.ID, u)
	})
	return u, err
}

// UpdateUser changes a user's description, email and tags.
func (s *Service) UpdateUser(ctx context.Context, id string, in UserInput, ifMatch string) (User, error) {
	if err := checkDescription(in.Description, false); err != nil {
		return User{}, err
	}
	return s.mutateUser(ctx, id, ifMatch, func(_ store.Tx, u *User) error {
		u.Description = strOr(in.Description, u.Description)
		u.Email = strOr(in.Email, u.Email)
		mergeTags(&u.FreeformTags, &u.DefinedTags, in.FreeformTags, in.DefinedTags)
		return nil
	})
}

// UpdateUserState blocks or unblocks a user. A blocked user is INACTIVE
// and its API keys stop authenticating on the next request.
func (s *Service) UpdateUserState(ctx context.Context, id string, blocked bool, ifMatch string) (User, error) {
	return s.mutateUser(ctx, id, ifMatch, func(_ store.Tx, u *User) error {
		if blocked {
			u.State, u.InactiveStatus = StateInactive, InactiveBlocked
		} else {
			u.State, u.InactiveStatus = StateActive, 0
		}
		return nil
	})
}

// DeleteUser deletes a user, its API keys and its console password. As in OCI, the user must
// first be removed from every group.
func (s *Service) DeleteUser(ctx context.Context, id, ifMatch string) error {
	return s.update(ctx, func(tx store.Tx) error {
		u, err := get[User](tx, prefixUser+id, "user", id)
		if err != nil {
			return err
		}
		if err := checkETag(ifMatch, u.ETag, "user", id); err != nil {
			return err
		}
		groups, err := tx.List(prefixUserGrp+id+"/", "", 1)
		if err != nil {
			return err
		}
		if len(groups) > 0 {
			return errs.E(errs.Conflict, "user %s is still a member of a group; remove it from every group first", u.Name)
		}
		keys, err := tx.List(apiKeyPrefix(id), "", 0)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k.Key); err != nil {
				return err
			}
		}
		if err := tx.Delete(prefixUIPassword + id); err != nil {
			return err
		}
		if err := tx.Delete(s.nameKey(nameUser, "", u.Name)); err != nil {
			return err
		}
		return tx.Delete(prefixUser + id)
	})
}

// UploadAPIKey adds an RSA public key (PEM) to a user. The fingerprint is
// computed here, as OCI does; a user holds at most MaxAPIKeysPerUser keys.
func (s *Service) UploadAPIKey(ctx context.Context, userID, keyPEM string) (APIKey, error) {
	if strings.TrimSpace(keyPEM) == "" {
		return APIKey{}, errs.E(errs.Missing, "key is required: a PEM-encoded RSA public key")
	}
	pub, err := ParseRSAPublicKeyPEM(keyPEM)
	if err != nil {
		return APIKey{}, err
	}
	if pub.N.BitLen() < 2048 {
		return APIKey{}, errs.E(errs.Invalid, "key is a %d-bit RSA key; API keys must be at least 2048 bits", pub.N.BitLen())
	}
	fp, err := authn.Fingerprint(pub)
	if err != nil {
		return APIKey{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return APIKey{}, fmt.Errorf("identity: upload api key: %w", err)
	}
	k := APIKey{UserID: userID, Fingerprint: fp, PublicPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		State: StateActive, TimeCreated: s.now().UTC()}
	err = s.update(ctx, func(tx store.Tx) error {
		if _, err := get[User](tx, prefixUser+userID, "user", userID); err != nil {
			return err
		}
		existing, err := tx.List(apiKeyPrefix(userID), "", 0)
		if err != nil {
			return err
		}
		for _, e := range existing {
			if e.Key == s.apiKeyKey(userID, fp) {
				return errs.E(errs.Conflict, "the user already has an API key with fingerprint %s", fp)
			}
		}
		if len(existing) >= MaxAPIKeysPerUser {
			return errs.E(errs.LimitExceeded, "the user already has %d API keys, the most allowed; delete one first", MaxAPIKeysPerUser)
		}
		return record.Put(tx, s.apiKeyKey(userID, fp), k)
	})
	if err != nil {
		return APIKey{}, fmt.Errorf("identity: upload api key: %w", err)
	}
	return k, nil
}

// ListAPIKeys lists a user's API keys.
func (s *Service) ListAPIKeys(ctx context.Context, userID string) ([]APIKey, error) {
	var keys []APIKey
	err := s.st.View(ctx, func(r store.Reader) error {
		if _, err := get[User](r, prefixUser+userID, "user", userID); err != nil {
			return err
		}
		var err error
		keys, err = record.List[APIKey](r, apiKeyPrefix(userID))
		return err
	})
	slices.SortFunc(keys, func(a, b APIKey) int { return a.TimeCreated.Compare(b.TimeCreated) })
	return keys, err
}

// DeleteAPIKey revokes a key at once: the authentication cache is keyed on
// the identity generation, which this write moves.
func (s *Service) DeleteAPIKey(ctx context.Context, userID, fingerprint string) error {
	return s.update(ctx, func(tx store.Tx) error {
		key := s.apiKeyKey(userID, fingerprint)
		if found, err := record.Exists(tx, key); err != nil {
			return err
		} else if !found {
			return errs.E(errs.NotFound, "API key %s of user %s not found or not authorized", fingerprint, userID)
		}
		return tx.Delete(key)
	})
}
