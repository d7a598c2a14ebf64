package ociapi

import (
	"context"
	"crypto/rsa"
	"time"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
)

// DecodeInTenancy decodes the body of a tenancy-wide administrator call
// (instance certificates, resource principal session tokens) into v and
// authorizes the call in the tenancy, whose OCID tenancyID gives and
// DecodeInTenancy returns. Both APIs are authorized as creating a dynamic
// group is: whoever may do that may already give any workload rights.
func DecodeInTenancy(c *Call, v any, tenancyID func(context.Context) (string, error)) (string, error) {
	if err := c.Decode(v); err != nil {
		return "", err
	}
	tenancy, err := tenancyID(c.Context())
	if err != nil {
		return "", err
	}
	if err := c.Authorize(authz.Request{CompartmentID: tenancy}); err != nil {
		return "", err
	}
	return tenancy, nil
}

// WorkloadBinding is the part of a request that the administrator APIs
// binding a credential to a workload's key (instance certificates,
// resource principal session tokens) validate alike, once the caller is
// authorized and the API's own required fields are present.
type WorkloadBinding struct {
	// CompartmentID is the workload's compartment (compartmentId); it
	// must exist and be active.
	CompartmentID string
	// PublicKey is the workload's key (publicKey): one PEM PUBLIC KEY
	// block, RSA of at least 2048 bits, since the SDK signs with RSA only.
	PublicKey string
	// LifetimeField names the lifetime in errors (ttlInSeconds,
	// validityInSeconds); Lifetime is its value in whole seconds, 0 for
	// the API's default, at most MaxLifetime.
	LifetimeField string
	Lifetime      int64
	MaxLifetime   time.Duration
}

// Check validates b, in the order the APIs answered before they shared
// it: the compartment (compartmentExists; errs.RelatedNotFound), the key
// and the lifetime (errs.Invalid naming the field). It returns the key and
// the lifetime, 0 meaning the default.
func (b WorkloadBinding) Check(ctx context.Context, compartmentExists func(context.Context, string) (bool, error)) (*rsa.PublicKey, time.Duration, error) {
	ok, err := compartmentExists(ctx, b.CompartmentID)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, errs.E(errs.RelatedNotFound, "compartment %s not found or not active", b.CompartmentID)
	}
	pub, err := workloadKey("publicKey", b.PublicKey)
	if err != nil {
		return nil, 0, err
	}
	d, err := lifetime(b.LifetimeField, b.Lifetime, b.MaxLifetime)
	if err != nil {
		return nil, 0, err
	}
	return pub, d, nil
}

// workloadKey parses a request field holding a workload's public key. A
// bad key is errs.Invalid naming the field.
func workloadKey(field, value string) (*rsa.PublicKey, error) {
	pub, err := authn.ParseRSAPublicKeyPEM(value)
	if err != nil {
		return nil, errs.E(errs.Invalid, "%s: %v", field, err)
	}
	return pub, nil
}

// lifetime converts a request field holding a lifetime in whole seconds
// to a duration; a negative value or one beyond max is errs.Invalid naming
// the field. Bounding before converting also keeps the conversion from
// overflowing into an accepted value.
func lifetime(field string, seconds int64, max time.Duration) (time.Duration, error) {
	limit := int64(max / time.Second)
	if seconds < 0 || seconds > limit {
		return 0, errs.E(errs.Invalid, "%s must be between 0 and %d", field, limit)
	}
	return time.Duration(seconds) * time.Second, nil
}
