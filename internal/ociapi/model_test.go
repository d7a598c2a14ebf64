package ociapi

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/errs"
)

func TestModelHelpers(t *testing.T) {
	s := "x"
	if Deref(&s) != "x" || Deref[string](nil) != "" || Deref[int64](nil) != 0 {
		t.Error("Deref")
	}
	if OptString("") != nil || *OptString("a") != "a" {
		t.Error("OptString")
	}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if OptTime(nil) != nil || !OptTime(&now).Time.Equal(now) {
		t.Error("OptTime")
	}
	if TimeOf(nil) != nil || !TimeOf(&common.SDKTime{Time: now}).Equal(now) {
		t.Error("TimeOf")
	}
	type stage string
	got := Enums[vault.SecretVersionStagesEnum]([]stage{"CURRENT", "PREVIOUS"})
	if !slices.Equal(got, []vault.SecretVersionStagesEnum{vault.SecretVersionStagesCurrent, vault.SecretVersionStagesPrevious}) {
		t.Errorf("Enums = %v", got)
	}
	if got := Enums[vault.SecretVersionStagesEnum]([]stage(nil)); got == nil || len(got) != 0 {
		t.Errorf("Enums(nil) = %#v, want an empty list (the reply shows [])", got)
	}
	ff, def := Tags(nil, nil)
	if ff == nil || def == nil {
		t.Error("Tags: absent tags must be empty objects")
	}
	ff, def = Tags(map[string]string{"a": "b"}, map[string]map[string]any{"ns": {"k": "v"}})
	if ff["a"] != "b" || def["ns"]["k"] != "v" {
		t.Error("Tags: present tags must be kept")
	}
}

type compartments map[string]bool

func (c compartments) CompartmentExists(_ context.Context, id string) (bool, error) {
	if id == "broken" {
		return false, errors.New("store down")
	}
	return c[id], nil
}

func TestRequireCompartment(t *testing.T) {
	ctx := context.Background()
	cc := compartments{"ocid1.compartment.oc1..a": true}
	if err := RequireCompartment(ctx, cc, "ocid1.compartment.oc1..a", errs.NotFound); err != nil {
		t.Errorf("existing: %v", err)
	}
	for _, kind := range []errs.Kind{errs.NotFound, errs.RelatedNotFound} {
		if err := RequireCompartment(ctx, cc, "ocid1.compartment.oc1..b", kind); !errs.Is(err, kind) {
			t.Errorf("missing with %v: %v", kind, err)
		}
	}
	if err := RequireCompartment(ctx, cc, "broken", errs.NotFound); err == nil || errs.Is(err, errs.NotFound) {
		t.Errorf("a failing lookup must not read as a missing compartment: %v", err)
	}
}
