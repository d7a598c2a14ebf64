// Package errs is Coffer's one error type. Domain code says which operation
// failed, what kind of failure happened and writes a message that is safe
// to show to the caller; the wire layer maps the kind to an OCI status and
// code in one table (internal/ociapi). The cause, which may name internal
// details, is kept for logs and errors.Is but never sent to clients; nor is
// the operation.
//
// # Saying each thing once
//
// An error passes through several layers, and each may add what it knows:
// its operation, a kind, a message. [Error.Error] joins the chain so that
// each is said once: an operation or a message already said by an error
// further down the chain is left out, and a kind is spelled out only when
// no message or deeper error says it. So a layer adds its own operation
// with [Op.Err] and never prefixes its package name to a cause that
// carries one already.
//
// Messages must never contain secret content, key material, signatures or
// tokens.
package errs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
	Forbidden                      // 403 NotAllowed
)

var kindText = [...]string{
	Internal:           "internal error",
	Invalid:            "invalid parameter",
	Missing:            "missing parameter",
	CannotParse:        "cannot parse request",
	LimitExceeded:      "limit exceeded",
	RelatedNotFound:    "related resource not found",
	Disabled:           "resource disabled",
	Unauthenticated:    "not authenticated",
	NotFound:           "not found",
	NoRoute:            "no such route",
	MethodNotAllowed:   "method not allowed",
	Conflict:           "conflict",
	IncorrectState:     "incorrect state",
	AlreadyExists:      "already exists",
	InvalidatedRetry:   "retry token invalidated",
	PreconditionFailed: "precondition failed",
	TooLarge:           "request too large",
	TooManyRequests:    "too many requests",
	NotImplemented:     "not implemented",
	Unavailable:        "unavailable",
	Forbidden:          "not allowed",
}

// String is the kind in a few words; it is safe to show to a caller, and
// is the caller's message when no error in the chain has one.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindText) {
		return kindText[k]
	}
	return fmt.Sprintf("errs.Kind(%d)", int(k))
}

// Op names the operation that failed: service.Operation for an API
// operation ("secrets.GetSecretBundle"), package.Function for an internal
// step ("agent.Refresh"). It is for operators and logs; clients never see
// it. Declare one per function (const op errs.Op = "agent.Refresh") and
// build the function's errors from it.
type Op string

// Error is a classified error.
type Error struct {
	// Op is the operation that failed; empty when the error was made
	// without one (E, Wrap).
	Op Op
	// Kind is what the caller may branch on.
	Kind Kind
	// Msg is shown to the caller as the OCI error message. Empty: the
	// caller sees the message of the error it wraps (see Message).
	Msg string
	// Err is the underlying cause; it is logged, never shown to the caller.
	Err error
}

// Error joins the chain from this error down, saying each operation,
// message and kind once (see the package documentation).
func (e *Error) Error() string {
	// Direct causes that are *Error are written here, in order; the rest
	// of the chain (the tail) writes itself, and what it says is not said
	// again here.
	chain := []*Error{e}
	for {
		next, ok := chain[len(chain)-1].Err.(*Error)
		if !ok {
			break
		}
		chain = append(chain, next)
	}
	tail := chain[len(chain)-1].Err
	var parts []string
	var said []Op
	for _, cur := range chain {
		if cur.Op != "" && !slices.Contains(said, cur.Op) && !carries(tail, func(c *Error) bool { return c.Op == cur.Op }) {
			parts = append(parts, string(cur.Op))
			said = append(said, cur.Op)
		}
		switch {
		case cur.Msg != "":
			if !carries(cur.Err, func(c *Error) bool { return c.Msg == cur.Msg }) {
				parts = append(parts, cur.Msg)
			}
		case cur.Kind != Internal:
			if !carries(cur.Err, func(c *Error) bool { return c.Kind == cur.Kind }) {
				parts = append(parts, cur.Kind.String())
			}
		}
	}
	if tail != nil {
		if s := tail.Error(); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return Internal.String()
	}
	return strings.Join(parts, ": ")
}

// carries reports whether an *Error in err's tree (err included, joined
// errors too) satisfies f: then that error says what f looks for, and the
// caller need not.
func carries(err error, f func(*Error) bool) bool {
	switch x := err.(type) {
	case nil:
		return false
	case *Error:
		if f(x) {
			return true
		}
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			if carries(e, f) {
				return true
			}
		}
		return false
	}
	return carries(errors.Unwrap(err), f)
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

// E is [E] for operation op.
func (op Op) E(kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap is [Wrap] for operation op.
func (op Op) Wrap(kind Kind, cause error, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// Err returns err as a failure of op: the kind and the caller's message
// stay err's (Internal when err is not classified). It returns nil for a
// nil err, and err itself when err already names op.
func (op Op) Err(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok && e.Op == op {
		return err
	}
	return &Error{Op: op, Kind: KindOf(err), Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Message returns the message a caller may see for err: the first
// non-empty Msg of an *Error in its chain, else the kind in words. It is
// empty when err is not classified: nothing in it is known to be safe.
// Causes below the last *Error are never looked at.
func Message(err error) string {
	var first *Error
	for ; err != nil; err = errors.Unwrap(err) {
		e, ok := err.(*Error)
		if !ok {
			continue
		}
		if first == nil {
			first = e
		}
		if e.Msg != "" {
			return e.Msg
		}
	}
	if first == nil {
		return ""
	}
	return first.Kind.String()
}

// Is reports whether err's kind is k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
