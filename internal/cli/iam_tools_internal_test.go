package cli

import (
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
)

// A policy the server answers without a name is named by its OCID in
// lint's summary instead of crashing the command.
func TestPolicyLabel(t *testing.T) {
	const id = "ocid1.policy.oc1..aaaa"
	for _, tc := range []struct {
		name *string
		want string
	}{
		{nil, id},
		{common.String(""), id},
		{common.String("app-prod"), "app-prod"},
	} {
		if got := policyLabel(identity.Policy{Name: tc.name}, id); got != tc.want {
			t.Errorf("policyLabel(%v) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
