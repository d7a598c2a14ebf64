package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/oracle/oci-go-sdk/v65/common"
)

// Retryable reports whether a later attempt may succeed where err failed.
// It inspects the chain with errors.As and errors.Is, never the message.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	// Cancellation first: context.DeadlineExceeded also satisfies net.Error.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se common.ServiceError
	if errors.As(err, &se) {
		return RetryableStatus(se.GetHTTPStatusCode(), se.GetCode())
	}
	var se2 StatusError
	if errors.As(err, &se2) {
		return RetryableStatus(se2.HTTPStatusCode(), "")
	}
	if certificateError(err) {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		// A name that does not exist will not appear within a retry budget.
		return !dnsErr.IsNotFound
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		// url.Error wraps every transport failure and itself satisfies
		// net.Error, so only its timeout is taken as a network condition.
		return netErr.Timeout()
	}
	return false
}

// StatusError is satisfied by errors that carry an HTTP status but are not
// an SDK ServiceError (for example from a plain HTTP client in the agent).
type StatusError interface {
	error
	HTTPStatusCode() int
}

// RetryableStatus reports whether an HTTP status (with OCI's error code,
// when known) is worth retrying: 429, every 5xx but 501, and the 409 codes
// that OCI documents as transient.
func RetryableStatus(status int, code string) bool {
	switch {
	case status == http.StatusTooManyRequests:
		return true
	case status == http.StatusConflict:
		return code == "IncorrectState" || code == "LockConflict"
	case status == http.StatusNotImplemented:
		return false
	case status >= 500 && status <= 599:
		return true
	}
	return false
}

func certificateError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}
