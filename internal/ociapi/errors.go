package ociapi

import (
	"errors"
	"net/http"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/errs"
)

type statusCode struct {
	status int
	code   string
}

// errorTable is the one place where error kinds become OCI statuses and
// codes. The codes are the ones the OCI SDK reacts to
// (docs/oci-behaviours.md#errors): for
// example 409 IncorrectState is retried by the SDK, 409 Conflict is not.
var errorTable = map[errs.Kind]statusCode{
	errs.Internal:           {http.StatusInternalServerError, "InternalServerError"},
	errs.Invalid:            {http.StatusBadRequest, "InvalidParameter"},
	errs.Missing:            {http.StatusBadRequest, "MissingParameter"},
	errs.CannotParse:        {http.StatusBadRequest, "CannotParseRequest"},
	errs.LimitExceeded:      {http.StatusBadRequest, "LimitExceeded"},
	errs.RelatedNotFound:    {http.StatusBadRequest, "RelatedResourceNotAuthorizedOrNotFound"},
	errs.Disabled:           {http.StatusBadRequest, "ResourceDisabled"},
	errs.Unauthenticated:    {http.StatusUnauthorized, "NotAuthenticated"},
	errs.Forbidden:          {http.StatusForbidden, "NotAllowed"},
	errs.NotFound:           {http.StatusNotFound, "NotAuthorizedOrNotFound"},
	errs.NoRoute:            {http.StatusNotFound, "NotFound"},
	errs.MethodNotAllowed:   {http.StatusMethodNotAllowed, "MethodNotAllowed"},
	errs.Conflict:           {http.StatusConflict, "Conflict"},
	errs.IncorrectState:     {http.StatusConflict, "IncorrectState"},
	errs.AlreadyExists:      {http.StatusConflict, "NotAuthorizedOrResourceAlreadyExists"},
	errs.InvalidatedRetry:   {http.StatusConflict, "InvalidatedRetryToken"},
	errs.PreconditionFailed: {http.StatusPreconditionFailed, "NoEtagMatch"},
	errs.TooLarge:           {http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
	errs.TooManyRequests:    {http.StatusTooManyRequests, "TooManyRequests"},
	errs.NotImplemented:     {http.StatusNotImplemented, "MethodNotImplemented"},
	errs.Unavailable:        {http.StatusServiceUnavailable, "ServiceUnavailable"},
}

// notAuthenticatedMessage is the one body every authentication failure gets,
// so a caller cannot tell which check failed.
const notAuthenticatedMessage = "The required information to complete authentication was not provided or was incorrect."

// ErrorBody is the JSON body of every OCI error.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// classify turns any error into the status and body the caller sees. Only
// messages of *errs.Error reach the caller (errs.Message), never a cause
// or an operation; anything else is a 500 with a generic message, so
// internal details never leak.
func classify(err error) (int, ErrorBody) {
	if errors.Is(err, ErrReplayed) {
		return http.StatusUnauthorized, ErrorBody{Code: "NotAuthenticated", Message: replayedMessage}
	}
	if errors.Is(err, authn.ErrNotAuthenticated) {
		return http.StatusUnauthorized, ErrorBody{Code: "NotAuthenticated", Message: notAuthenticatedMessage}
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, ErrorBody{Code: "InternalServerError", Message: "Internal error; the request id identifies it in the server log."}
	}
	sc, ok := errorTable[e.Kind]
	if !ok {
		sc = errorTable[errs.Internal]
	}
	msg := errs.Message(err)
	if e.Kind == errs.Internal {
		msg = "Internal error; the request id identifies it in the server log."
	}
	if e.Kind == errs.Unauthenticated {
		msg = notAuthenticatedMessage
	}
	return sc.status, ErrorBody{Code: sc.code, Message: msg}
}

// Classify is the status and OCI error body a caller is shown for err, for
// the few handlers outside the request pipeline (the peer routes).
func Classify(err error) (int, ErrorBody) { return classify(err) }
