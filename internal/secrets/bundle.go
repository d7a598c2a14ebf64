package secrets

import (
	"context"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
)

// GetSecretBundle is ReadBundle by OCID for callers inside the server,
// with no authorization.
func (s *Service) GetSecretBundle(ctx context.Context, secretID string, sel BundleSelector) (*Bundle, error) {
	return s.ReadBundle(ctx, SecretRef{ID: secretID}, sel, nil)
}

func selectVersion(r store.Reader, rec *secretRecord, sel BundleSelector) (*versionRecord, error) {
	switch {
	case sel.VersionNumber != 0:
		if sel.VersionNumber < 0 || sel.VersionNumber > rec.Versions {
			return nil, errs.E(errs.NotFound, "secret version %d not found", sel.VersionNumber)
		}
		return loadVersion(r, rec.ID, sel.VersionNumber)
	case sel.VersionName != "":
		for n := rec.Versions; n >= 1; n-- {
			v, err := loadVersion(r, rec.ID, n)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
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
