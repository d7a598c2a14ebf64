package ociapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/errs"
)

// TestClassifyShowsOnlyCallerSafeText: whatever operations and causes a
// chain carries, the caller sees the status of its kind and a message
// from an *errs.Error, never an operation or a cause.
func TestClassifyShowsOnlyCallerSafeText(t *testing.T) {
	const op errs.Op = "secrets.GetSecretBundle"
	cause := errors.New("sql: row 42 of table secret_versions") // internal detail
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"message", errs.Wrap(errs.NotFound, cause, "secret not found"), 404, "NotAuthorizedOrNotFound", "secret not found"},
		{"operation with message", op.Wrap(errs.Invalid, cause, "bad stage"), 400, "InvalidParameter", "bad stage"},
		{"operation added above", op.Err(errs.Wrap(errs.Conflict, cause, "busy")), 409, "Conflict", "busy"},
		{"operation added above a wrapper", op.Err(fmt.Errorf("read: %w", errs.E(errs.Disabled, "key disabled"))), 400, "ResourceDisabled", "key disabled"},
		{"kind only", op.Wrap(errs.NotFound, cause, ""), 404, "NotAuthorizedOrNotFound", "not found"},
		{"internal", op.Err(cause), 500, "InternalServerError", "Internal error; the request id identifies it in the server log."},
		{"unclassified", fmt.Errorf("%s: %w", op, cause), 500, "InternalServerError", "Internal error; the request id identifies it in the server log."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := classify(tt.err)
			if status != tt.status || body.Code != tt.code || body.Message != tt.msg {
				t.Errorf("classify = %d %s %q, want %d %s %q", status, body.Code, body.Message, tt.status, tt.code, tt.msg)
			}
			if strings.Contains(body.Message, "sql") || strings.Contains(body.Message, string(op)) {
				t.Errorf("message %q shows the cause or the operation", body.Message)
			}
			if http.StatusText(status) == "" {
				t.Errorf("status %d unknown", status)
			}
		})
	}
}
