package sdkauth

import (
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
)

func TestWithRegion(t *testing.T) {
	base := common.NewRawConfigurationProvider("ocid1.tenancy.oc1..t", "ocid1.user.oc1..u", "us-ashburn-1", "aa:bb", "key", nil)
	for _, tt := range []struct{ region, want string }{{"eu-frankfurt-1", "eu-frankfurt-1"}, {"", "us-ashburn-1"}} {
		p := WithRegion(base, tt.region)
		if got, err := p.Region(); err != nil || got != tt.want {
			t.Errorf("WithRegion(%q).Region() = %q, %v; want %q", tt.region, got, err, tt.want)
		}
		if ten, err := p.TenancyOCID(); err != nil || ten != "ocid1.tenancy.oc1..t" {
			t.Errorf("TenancyOCID = %q, %v: not the wrapped provider's", ten, err)
		}
	}
}
