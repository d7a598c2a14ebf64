// Package errs is Coffer's one error type. Domain code says what kind of
// failure happened and writes a message that is safe to show to the caller;
// the wire layer maps the kind to an OCI status and code in one table
// (internal/ociapi). The cause, which may name internal details, is kept for
// logs and errors.Is but never sent to clients.
//
// Messages must never contain secret content, key material, signatures or
// tokens.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the caller.
type Kind int

// Kinds of failure. The comment gives the OCI status and code each maps to.
const (
	Internal           Kind = iota // 500 InternalServerError
	Invalid                        // 400 InvalidParameter
	Missing                        // 400 MissingParameter
	CannotParse                    // 400 CannotParseRequest
	LimitExceeded                  // 400 LimitExceeded
	RelatedNotFound                // 400 RelatedResourceNotAuthorizedOrNotFound
	Disabled                       // 400 ResourceDisabled
	Unauthenticated                // 401 NotAuthenticated
	NotFound                       // 404 NotAuthorizedOrNotFound (also: denied)
	NoRoute                        // 404 NotFound
	MethodNotAllowed               // 405 MethodNotAllowed
	Conflict                       // 409 Conflict
	IncorrectState                 // 409 IncorrectState
	AlreadyExists                  // 409 NotAuthorizedOrResourceAlreadyExists
	InvalidatedRetry               // 409 InvalidatedRetryToken
	PreconditionFailed             // 412 NoEtagMatch
	TooLarge                       // 413 RequestEntityTooLarge
	TooManyRequests                // 429 TooManyRequests
	NotImplemented                 // 501 MethodNotImplemented
	Unavailable                    // 503 ServiceUnavailable
)

// Error is a classified error.
type Error struct {
	Kind Kind
	// Msg is shown to the caller as the OCI error message.
	Msg string
	// Err is the underlying cause; it is logged, never shown to the caller.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// E returns an error of the given kind with a caller-safe message.
func E(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the given kind with a caller-safe message and a
// cause that only the operator sees.
func Wrap(kind Kind, cause error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err's kind is k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
