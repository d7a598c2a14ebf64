package secrets

import (
	"context"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
)

// GetSecretBundle returns a version with its content: CURRENT by default, or
// the one selected. A secret pending deletion or deleted, a version pending
// deletion or deleted, and a selector that matches nothing all answer
// errs.NotFound. Content whose expiry rule blocks retrieval answers
// errs.Invalid (OCI does not document its error here). A disabled or
// deleted master key fails with the KeyUser's error.
func (s *Service) GetSecretBundle(ctx context.Context, secretID string, sel BundleSelector) (*Bundle, error) {
	now := s.clock()
	n := 0
	for _, set := range []bool{sel.VersionNumber != 0, sel.VersionName != "", sel.Stage != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, errs.E(errs.Invalid, "give at most one of versionNumber, secretVersionName and stage")
	}
	switch sel.Stage {
	case "", StageCurrent, StagePending, StageLatest, StagePrevious, StageDeprecated:
	default:
		return nil, errs.E(errs.Invalid, "stage must be CURRENT, PENDING, LATEST, PREVIOUS or DEPRECATED")
	}
	var (
		rec *secretRecord
		ver *versionRecord
	)
	err := s.view(ctx, func(r store.Reader) error {
		var err error
		if rec, err = loadSecret(r, secretID); err != nil {
			return err
		}
		if rec.LifecycleState == StatePendingDeletion || rec.LifecycleState == StateDeleted {
			return errSecretNotFound()
		}
		ver, err = selectVersion(r, rec, sel)
		return err
	})
	if err != nil {
		return nil, err
	}
	if ver.Deleted || ver.TimeOfDeletion != nil || ver.Content == nil {
		return nil, errs.E(errs.NotFound, "secret version %d is deleted or pending deletion", ver.Number)
	}
	exp, blocked := expiryOf(rec.Rules, ver.TimeCreated)
	if blocked && exp != nil && !now.Before(*exp) {
		return nil, errs.E(errs.Invalid, "secret version %d expired and the secret's expiry rule blocks retrieval of expired content; change the rule or update the content", ver.Number)
	}
	pt, err := open(ctx, s.keys, rec.KeyID, versionAAD(rec.ID, ver.Number), *ver.Content)
	if err != nil {
		return nil, err
	}
	return &Bundle{
		SecretID: rec.ID, VersionNumber: ver.Number, VersionName: ver.Name, Content: NewContent(pt),
		TimeCreated: ver.TimeCreated, TimeOfDeletion: ver.TimeOfDeletion, TimeOfExpiry: exp,
		Stages: rec.Stages.stagesOf(ver.Number), Metadata: rec.Metadata, ETag: ver.ETag,
	}, nil
}

func selectVersion(r store.Reader, rec *secretRecord, sel BundleSelector) (*versionRecord, error) {
	switch {
	case sel.VersionNumber != 0:
		if sel.VersionNumber < 0 || sel.VersionNumber > rec.Versions {
			return nil, errs.E(errs.NotFound, "secret version %d not found", sel.VersionNumber)
		}
		return loadVersion(r, rec.ID, sel.VersionNumber)
	case sel.VersionName != "":
		vers, err := loadVersions(r, rec.ID)
		if err != nil {
			return nil, err
		}
		for _, v := range vers {
			if v.Name == sel.VersionName {
				return v, nil
			}
		}
		return nil, errs.E(errs.NotFound, "no version of the secret is named %q", truncate(sel.VersionName, 64))
	case sel.Stage == StageDeprecated:
		// Several versions may be DEPRECATED: the newest readable one.
		for n := rec.Versions; n >= 1; n-- {
			if !rec.Stages.deprecated(n) {
				continue
			}
			v, err := loadVersion(r, rec.ID, n)
			if err != nil {
				return nil, err
			}
			if !v.Deleted && v.TimeOfDeletion == nil {
				return v, nil
			}
		}
		return nil, errs.E(errs.NotFound, "no version of the secret has stage DEPRECATED")
	}
	stage := sel.Stage
	if stage == "" {
		stage = StageCurrent
	}
	n := rec.Stages.byStage(stage)
	if n == 0 {
		return nil, errs.E(errs.NotFound, "no version of the secret has stage %s", stage)
	}
	return loadVersion(r, rec.ID, n)
}

// GetSecretBundleByName is GetSecretBundle for the secret named name in
// vaultID (case-sensitive). A secret pending deletion answers 404.
func (s *Service) GetSecretBundleByName(ctx context.Context, vaultID, name string, sel BundleSelector) (*Bundle, error) {
	id, err := s.SecretIDByName(ctx, vaultID, name)
	if err != nil {
		return nil, err
	}
	return s.GetSecretBundle(ctx, id, sel)
}

// SecretIDByName resolves a secret's name in a vault to its OCID with one
// index read and no decryption, so that a caller can be authorized on the
// secret before anything about its content is touched.
func (s *Service) SecretIDByName(ctx context.Context, vaultID, name string) (string, error) {
	if vaultID == "" {
		return "", errs.E(errs.Missing, "vaultId is required")
	}
	if name == "" {
		return "", errs.E(errs.Missing, "secretName is required")
	}
	if !ocid.Valid(vaultID) {
		return "", errs.E(errs.Invalid, "vaultId is not a valid OCID")
	}
	if !validName(name) {
		return "", errSecretNotFound()
	}
	var id string
	err := s.view(ctx, func(r store.Reader) error {
		ok, err := getJSON(r, nameKey(vaultID, name), &id)
		if err == nil && !ok {
			err = errSecretNotFound()
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}
