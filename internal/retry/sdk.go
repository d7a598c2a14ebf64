package retry

import (
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
)

// SDK returns a common.RetryPolicy with the same classification, backoff
// and budgets as p, for SDK clients (client.SetCustomClientConfiguration or
// a request's RequestMetadata.RetryPolicy). The SDK passes the HTTP
// response of a failed attempt to the policy, so Retry-After is honoured
// from its header. The SDK does its own sleeping with the real clock; the
// total time is bounded by refusing a retry whose wait would end past
// MaxElapsed, measured from the SDK's InitialAttemptTime. Eventual
// consistency handling is off: these settings are for reads.
func (p Policy) SDK() common.RetryPolicy {
	p = p.withDefaults()
	return common.NewRetryPolicyWithOptions(
		common.ReplaceWithValuesFromRetryPolicy(common.DefaultRetryPolicyWithoutEventualConsistency()),
		common.WithMaximumNumberAttempts(uint(p.MaxAttempts)),
		common.WithShouldRetryOperation(p.sdkShouldRetry),
		common.WithNextDuration(p.sdkNextDuration),
	)
}

func (p Policy) sdkShouldRetry(r common.OCIOperationResponse) bool {
	if r.Error == nil {
		return false
	}
	if !p.Retryable(r.Error) {
		return false
	}
	if r.AttemptNumber >= uint(p.MaxAttempts) {
		return false
	}
	if p.MaxElapsed > 0 && !r.InitialAttemptTime.IsZero() {
		// The wait is drawn later, in NextDuration; a known Retry-After is
		// its floor, so refuse now when even that cannot fit.
		floor, _ := p.sdkRetryAfter(r)
		if p.Now().Add(floor).Sub(r.InitialAttemptTime) > p.MaxElapsed {
			return false
		}
	}
	return true
}

func (p Policy) sdkNextDuration(r common.OCIOperationResponse) time.Duration {
	d, ok := p.sdkRetryAfter(r)
	if !ok {
		d = p.Jitter(p.ceiling(int(r.AttemptNumber)))
	}
	if p.MaxElapsed > 0 && !r.InitialAttemptTime.IsZero() {
		left := p.MaxElapsed - p.Now().Sub(r.InitialAttemptTime)
		d = max(0, min(d, left))
	}
	return d
}

func (p Policy) sdkRetryAfter(r common.OCIOperationResponse) (time.Duration, bool) {
	if d, ok := RetryAfter(r.Error); ok {
		return d, true
	}
	if r.Response != nil {
		if hr := r.Response.HTTPResponse(); hr != nil {
			if d, ok := ParseRetryAfter(hr.Header.Get("Retry-After"), p.Now()); ok {
				return d, true
			}
		}
	}
	if p.RetryAfter != nil {
		if d, ok := p.RetryAfter(r.Error); ok && d >= 0 {
			return d, true
		}
	}
	return 0, false
}
