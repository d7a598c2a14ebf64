package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/common/auth"
	"github.com/oracle/oci-go-sdk/v65/secrets"

	"github.com/coffer-vault/coffer/internal/retry"
	"github.com/coffer-vault/coffer/internal/sdkauth"
	"github.com/coffer-vault/coffer/internal/sdklog"
)

// Source says where secrets are read from and as whom: what NewSecretsClient
// needs. The agent takes it from its configuration file, coffer run from
// its flags.
type Source struct {
	Auth     Auth
	Endpoint string // Coffer's URL; empty: the SDK's endpoint for the region
	Region   string // overrides the auth method's region
	// Getenv reads the passphrase variable (default os.Getenv).
	Getenv func(string) string
}

// Source returns the plan's connection settings.
func (p *Plan) Source() Source {
	return Source{Auth: p.Auth, Endpoint: p.Endpoint, Region: p.Region}
}

// ConfigurationProvider builds the SDK's provider for the auth method:
// an API key from an OCI config file, an instance principal or a resource
// principal (both through the SDK's common/auth).
func (s Source) ConfigurationProvider() (common.ConfigurationProvider, error) {
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var p common.ConfigurationProvider
	var err error
	switch s.Auth.Type {
	case "", AuthAPIKey:
		path := s.Auth.ConfigFile
		if path == "" {
			path = "~/.oci/config"
		}
		if strings.HasPrefix(path, "~/") {
			home, herr := os.UserHomeDir()
			if herr != nil {
				return nil, fmt.Errorf("api_key: config file %s: %w", path, herr)
			}
			path = filepath.Join(home, path[2:])
		}
		if _, serr := os.Stat(path); serr != nil {
			return nil, fmt.Errorf("api_key: config file: %w", serr)
		}
		profile := s.Auth.Profile
		if profile == "" {
			profile = "DEFAULT"
		}
		var pass string
		if s.Auth.PassphraseEnv != "" {
			pass = getenv(s.Auth.PassphraseEnv)
		}
		p, err = common.ConfigurationProviderFromFileWithProfile(path, profile, pass)
		if err == nil {
			_, err = common.IsConfigurationProviderValid(sdkauth.WithRegion(p, s.Region))
		}
		if err != nil {
			return nil, fmt.Errorf("api_key: config file %s, profile %s: %w", path, profile, err)
		}
	case AuthInstancePrincipal:
		p, err = sdkauth.InstancePrincipal(s.Region)
		if err != nil {
			return nil, fmt.Errorf("instance principal: %w", err)
		}
	case AuthResourcePrincipal:
		p, err = auth.ResourcePrincipalConfigurationProvider()
		if err != nil {
			return nil, fmt.Errorf("resource principal: %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown auth type %q", s.Auth.Type)
	}
	if s.Region != "" {
		p = sdkauth.WithRegion(p, s.Region)
	}
	return p, nil
}

// NewSecretsClient returns the SDK's Secrets client for s, with Coffer's
// retry policy (internal/retry) and no circuit breaker: the agent backs
// off on its own and must recover as soon as the service is back.
func NewSecretsClient(s Source) (secrets.SecretsClient, error) {
	sdklog.Limit()
	p, err := s.ConfigurationProvider()
	if err != nil {
		return secrets.SecretsClient{}, err
	}
	c, err := secrets.NewSecretsClientWithConfigurationProvider(p)
	if err != nil {
		return c, fmt.Errorf("secrets client: %w", err)
	}
	if s.Endpoint != "" {
		c.Host = s.Endpoint
	}
	rp := retry.Default().SDK()
	c.SetCustomClientConfiguration(common.CustomClientConfiguration{RetryPolicy: &rp})
	return c, nil
}
