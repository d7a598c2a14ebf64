package secrets

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/authz"
)

// SecretResource returns the secret as the authorizer sees it, with the key
// that encrypts its content; a secret that does not exist is errs.NotFound.
func (s *Service) SecretResource(ctx context.Context, id string) (*authz.Resource, error) {
	sec, err := s.GetSecret(ctx, id)
	if err != nil {
		return nil, err
	}
	return sec.Resource(), nil
}

// CompartmentInUse implements identity.CompartmentUsage: it names a secret
// in the compartment that is not DELETED.
func (s *Service) CompartmentInUse(ctx context.Context, compartmentID string) (string, bool, error) {
	for page := ""; ; {
		list, next, err := s.ListSecrets(ctx, ListSecretsRequest{CompartmentID: compartmentID, Limit: 1000, Page: page})
		if err != nil {
			return "", false, err
		}
		for _, sec := range list {
			if sec.LifecycleState != StateDeleted {
				return fmt.Sprintf("secret %s (%s)", sec.Name, sec.LifecycleState), true, nil
			}
		}
		if next == "" {
			return "", false, nil
		}
		page = next
	}
}
