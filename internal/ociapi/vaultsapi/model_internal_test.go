package vaultsapi

import (
	"testing"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// The fields CreateSecret and UpdateSecret share sit in an embedded
// struct; decoding must still fill them and check their tags.
func TestSharedSecretFieldsDecoded(t *testing.T) {
	var c createJSON
	if err := ociapi.DecodeJSON([]byte(`{"secretName":"n","description":"d","freeformTags":{"a":"b"},"secretRules":[]}`), &c); err != nil {
		t.Fatal(err)
	}
	if ociapi.Deref(c.SecretName) != "n" || ociapi.Deref(c.Description) != "d" || c.FreeformTags["a"] != "b" || c.SecretRules == nil {
		t.Fatalf("decoded %+v", c)
	}
	var u updateJSON
	if err := ociapi.DecodeJSON([]byte(`{"currentVersionNumber":2,"definedTags":{"ns":{"k":"v"}}}`), &u); err != nil {
		t.Fatal(err)
	}
	if ociapi.Deref(u.CurrentVersionNumber) != 2 || u.DefinedTags["ns"]["k"] != "v" || u.SecretRules != nil {
		t.Fatalf("decoded %+v", u)
	}
	for _, body := range []string{`{"freeformTags":{"":"x"}}`, `{"definedTags":{"ns":{"k":{"nested":1}}}}`} {
		if err := ociapi.DecodeJSON([]byte(body), &updateJSON{}); !errs.Is(err, errs.Invalid) {
			t.Errorf("update %s: %v, want Invalid (tags checked)", body, err)
		}
		if err := ociapi.DecodeJSON([]byte(body), &createJSON{}); !errs.Is(err, errs.Invalid) {
			t.Errorf("create %s: %v, want Invalid (tags checked)", body, err)
		}
	}
}
