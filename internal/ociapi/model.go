package ociapi

import (
	"context"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/internal/errs"
)

// The helpers below convert between domain values and the SDK's request and
// response models in the way every service's handlers need: optional
// fields, times, enums and tags. They live here, not in one service's
// package, so that the wire packages share them without importing one
// another.

// Deref is *p, or T's zero value when p is nil (a field the request left
// out).
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// OptString is s, or nil (a field left out of the reply) when s is empty.
func OptString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// OptTime converts an optional time to the SDK's, nil when absent.
func OptTime(t *time.Time) *common.SDKTime {
	if t == nil {
		return nil
	}
	return &common.SDKTime{Time: *t}
}

// TimeOf is the time of an optional SDK time from a request, nil when
// absent.
func TimeOf(t *common.SDKTime) *time.Time {
	if t == nil {
		return nil
	}
	return &t.Time
}

// Enums converts string-typed domain values to one of the SDK's enums
// (each model type has its own, even for the same values).
func Enums[E, S ~string](in []S) []E {
	out := make([]E, len(in))
	for i, v := range in {
		out[i] = E(v)
	}
	return out
}

// Tags returns a resource's freeform and defined tags for a reply, with
// absent ones as empty objects: OCI always answers {} rather than null.
func Tags(freeform map[string]string, defined map[string]map[string]any) (map[string]string, map[string]map[string]any) {
	if freeform == nil {
		freeform = map[string]string{}
	}
	if defined == nil {
		defined = map[string]map[string]any{}
	}
	return freeform, defined
}

// CompartmentChecker says whether a compartment exists: the tenancy, or a
// compartment that is ACTIVE.
type CompartmentChecker interface {
	CompartmentExists(ctx context.Context, id string) (bool, error)
}

// RequireCompartment fails with kind unless compartment id exists: NotFound
// where the compartment is where a resource is created, RelatedNotFound
// where a resource is moved to it. Call it after authorizing, so that a
// caller without permission learns nothing about which compartments exist.
func RequireCompartment(ctx context.Context, cc CompartmentChecker, id string, kind errs.Kind) error {
	ok, err := cc.CompartmentExists(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(kind, "compartment %s not found or not authorized", id)
	}
	return nil
}
