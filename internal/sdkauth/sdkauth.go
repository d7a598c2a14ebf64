// Package sdkauth holds the pieces of an OCI SDK configuration provider
// that the CLI and the agent build alike: a region override and the
// instance principal provider for a region.
package sdkauth

import (
	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/common/auth"
)

// WithRegion returns p answering region for Region; an empty region
// leaves p's own. Everything else is p's.
func WithRegion(p common.ConfigurationProvider, region string) common.ConfigurationProvider {
	return regionProvider{p, region}
}

type regionProvider struct {
	common.ConfigurationProvider
	region string
}

func (r regionProvider) Region() (string, error) {
	if r.region == "" {
		return r.ConfigurationProvider.Region()
	}
	return r.region, nil
}

// InstancePrincipal returns the SDK's instance principal provider, in
// region when it is set (otherwise the SDK asks the metadata service).
func InstancePrincipal(region string) (common.ConfigurationProvider, error) {
	if region != "" {
		return auth.InstancePrincipalConfigurationProviderForRegion(common.StringToRegion(region))
	}
	return auth.InstancePrincipalConfigurationProvider()
}
