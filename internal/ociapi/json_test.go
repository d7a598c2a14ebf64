package ociapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/errs"
)

func TestDecodeJSONErrorsNameTheField(t *testing.T) {
	var d keymanagement.CreateVaultDetails
	err := DecodeJSON([]byte(`{"displayName": 12}`), &d)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), `"displayName"`) {
		t.Fatalf("got %v", err)
	}
	err = DecodeJSON([]byte(`{"freeformTags": {"a": 1}}`), &d)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "freeformTags") {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeJSONNeverEchoesValues(t *testing.T) {
	const canary = "CANARY-s3cr3t-value"
	var d vault.CreateSecretDetails
	for _, body := range []string{
		`{"secretContent": {"contentType": "BASE64", "content": 5, "name": "` + canary + `"}}`,
		`{"secretContent": {"contentType": "` + canary + `"}}`,
		`{"secretName": "` + canary + `", "vaultId": 5}`,
		`{"secretName": "` + canary + `"`,
		`{"timeOfDeletion": "` + canary + `"}`,
	} {
		err := DecodeJSON([]byte(body), &d)
		if err == nil {
			continue
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("error for %s echoes the value: %v", body, err)
		}
		var e *errs.Error
		if !errors.As(err, &e) {
			t.Errorf("error for %s is not classified: %v", body, err)
		}
	}
}

// FuzzDecodeJSON feeds arbitrary bodies to the decoder with the SDK's
// request models, polymorphic ones included: it must never panic, and every
// error must be a classified 400.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"compartmentId":"ocid1.tenancy.oc1..x","displayName":"v","vaultType":"DEFAULT"}`,
		`{"secretContent":{"contentType":"BASE64","content":"aGk="},"secretRules":[{"ruleType":"SECRET_EXPIRY_RULE"}]}`,
		`{"timeOfDeletion":"2030-01-01T00:00:00Z"}`,
		`[]`, `null`, `{"a":`, `{"secretGenerationContext":{"generationType":"PASSPHRASE"}}`,
		// The malicious classes of the edge matrix.
		`{"compartmentId":"ocid1.tenancy.oc1..a\u0000","name":"\u001b[31m"}`, "{\"name\":\"\xff\xfe\"}",
		`{"compartmentId":5,"displayName":[],"freeformTags":"x","definedTags":[1],"keyShape":"AES","plaintext":7}`,
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000), `{"metadata":` + strings.Repeat(`{"a":`, 500) + `1` + strings.Repeat("}", 500) + `}`,
		`{"name":"a","name":"b"}`, `{"freeformTags":{"":"v"}}`, `{"definedTags":{"ns":{"k":{"deep":1}}}}`,
		`{"freeformTags":{"k":"` + strings.Repeat("v", 300) + `"}}`, `{"keyId":"k","plaintext":"","associatedData":{"a":"b"}}`,
		`{"statements":["allow group a to manage all-resources in tenancy"],"versionDate":"2020-13-45"}`,
		`{"keyShape":{"algorithm":"AES","length":99999999999999999999}}`, `{} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{
			&keymanagement.CreateVaultDetails{}, &keymanagement.UpdateVaultDetails{}, &keymanagement.ScheduleVaultDeletionDetails{},
			&keymanagement.ChangeVaultCompartmentDetails{},
			&keymanagement.CreateKeyDetails{}, &keymanagement.UpdateKeyDetails{}, &keymanagement.ImportKeyDetails{},
			&keymanagement.ImportKeyVersionDetails{}, &keymanagement.ScheduleKeyDeletionDetails{},
			&keymanagement.EncryptDataDetails{}, &keymanagement.DecryptDataDetails{}, &keymanagement.GenerateKeyDetails{},
			&keymanagement.SignDataDetails{}, &keymanagement.VerifyDataDetails{}, &keymanagement.ExportKeyDetails{},
			&vault.CreateSecretDetails{}, &vault.UpdateSecretDetails{}, &vault.ChangeSecretCompartmentDetails{},
			&identity.CreateCompartmentDetails{}, &identity.UpdateCompartmentDetails{},
			&identity.CreateUserDetails{}, &identity.UpdateUserDetails{}, &identity.UpdateStateDetails{}, &identity.CreateApiKeyDetails{},
			&identity.CreateGroupDetails{}, &identity.UpdateGroupDetails{}, &identity.AddUserToGroupDetails{},
			&identity.CreateDynamicGroupDetails{}, &identity.UpdateDynamicGroupDetails{},
			&identity.CreatePolicyDetails{}, &identity.UpdatePolicyDetails{},
		}
		for _, v := range targets {
			err := DecodeJSON(body, v)
			if err == nil {
				// What decodes has tags within the limits.
				if err := checkBodyTags(v); err != nil {
					t.Fatalf("decode %T accepted tags CheckTags refuses: %v", v, err)
				}
				continue
			}
			switch errs.KindOf(err) {
			case errs.Invalid, errs.CannotParse:
			default:
				t.Fatalf("decode %T: unclassified error %v", v, err)
			}
		}
	})
}

// FuzzAppendJSONString: the hand encoder of replies produces JSON that
// decodes to what encoding/json's encoding of the same string decodes to.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\back`, "<a&b>", "\x00\x1f\n\r\t", "\u2028\u2029", "\xff\xfe", "é漢字🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendJSONString([]byte("x"), s)[1:]
		var mine, theirs string
		if err := json.Unmarshal(got, &mine); err != nil {
			t.Fatalf("AppendJSONString(%q) = %s: not JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		_ = json.Unmarshal(want, &theirs)
		if mine != theirs {
			t.Fatalf("AppendJSONString(%q) decodes to %q, encoding/json's to %q", s, mine, theirs)
		}
		if bytes.ContainsAny(got, "<>&") {
			t.Fatalf("AppendJSONString(%q) = %s is not HTML-safe", s, got)
		}
	})
}
