package vaultsapi

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/ociapi"
)

// FuzzDecodeBodies feeds arbitrary bodies through the CreateSecret and
// UpdateSecret decoding and conversion to domain requests: nothing may
// panic, and a decoded secretContent always reaches the domain unchanged
// (so that PLAIN and bad base64 are refused there, not lost here).
func FuzzDecodeBodies(f *testing.F) {
	for _, seed := range []string{
		`{"compartmentId":"c","vaultId":"v","keyId":"k","secretName":"n","secretContent":{"contentType":"BASE64","content":"aGk=","stage":"CURRENT"}}`,
		`{"secretContent":{"contentType":"PLAIN","content":"hi"}}`,
		`{"secretRules":[{"ruleType":"SECRET_EXPIRY_RULE","secretVersionExpiryInterval":"P3D","timeOfAbsoluteExpiry":"2030-01-02T03:04:05Z"},{"ruleType":"SECRET_REUSE_RULE"}]}`,
		`{"secretRules":[]}`, `{"secretRules":null}`,
		`{"rotationConfig":{"targetSystemDetails":{"targetSystemType":"FUNCTION","functionId":"f"},"rotationInterval":"P30D"}}`,
		`{"secretGenerationContext":{"generationType":"PASSPHRASE","generationTemplate":"SECRETS_DEFAULT_PASSWORD","passphraseLength":20}}`,
		`{"replicationConfig":{"replicationTargets":[{"targetRegion":"r"}]}}`,
		`{"currentVersionNumber":3}`, `[]`, `{"secretContent":7}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var c createJSON
		if ociapi.DecodeJSON(body, &c) == nil {
			if cd := c.SecretContent.domain(); c.SecretContent != nil && (cd == nil || cd.Content != c.SecretContent.Content || cd.ContentType != c.SecretContent.ContentType) {
				t.Fatalf("content changed on the way to the domain")
			}
			_ = rulesToDomain(c.SecretRules)
			_ = c.RotationConfig.domain()
			_ = c.SecretGenerationContext.domain()
			_ = c.ReplicationConfig.domain()
		}
		var u updateJSON
		if ociapi.DecodeJSON(body, &u) == nil && u.SecretRules != nil {
			if got := rulesToDomain(*u.SecretRules); len(got) != len(*u.SecretRules) {
				t.Fatalf("%d rules became %d", len(*u.SecretRules), len(got))
			}
		}
	})
}
