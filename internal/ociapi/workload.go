package ociapi

import (
	"crypto/rsa"
	"time"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/errs"
)

// WorkloadKey parses a request field holding a workload's public key, as
// the administrator APIs that bind a credential to a workload's key take
// it (instance certificates, resource principal session tokens): one PEM
// PUBLIC KEY block (SubjectPublicKeyInfo), RSA of at least 2048 bits,
// since the SDK signs with RSA only. A bad key is errs.Invalid naming the
// field.
func WorkloadKey(field, value string) (*rsa.PublicKey, error) {
	pub, err := authn.ParseRSAPublicKeyPEM(value)
	if err != nil {
		return nil, errs.E(errs.Invalid, "%s: %v", field, err)
	}
	return pub, nil
}

// Lifetime converts a request field holding a lifetime in whole seconds
// (ttlInSeconds, validityInSeconds) to a duration. 0, "the default",
// stays 0 for the domain to fill in; a negative value or one beyond max is
// errs.Invalid naming the field. Bounding before converting also keeps
// the conversion from overflowing into an accepted value.
func Lifetime(field string, seconds int64, max time.Duration) (time.Duration, error) {
	limit := int64(max / time.Second)
	if seconds < 0 || seconds > limit {
		return 0, errs.E(errs.Invalid, "%s must be between 0 and %d", field, limit)
	}
	return time.Duration(seconds) * time.Second, nil
}
