// Package audit records who asked to do what to which resource, and what
// the authorizer decided and why. Every authorization decision becomes one
// Event, written to every configured Sink before the request goes on: if an
// event cannot be recorded, the request fails (as HashiCorp Vault's audit
// devices do), so nothing happens unaudited.
//
// An Event has no field for request or response bodies, so secret content,
// key material, signatures and tokens cannot reach it; its strings are ids,
// operation names and the authorizer's reasons.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Event is one audit record.
type Event struct {
	Time          time.Time `json:"time"`
	RequestID     string    `json:"requestId"`
	Operation     string    `json:"operation"`
	Principal     string    `json:"principal"`
	PrincipalType string    `json:"principalType"`
	Compartment   string    `json:"compartmentId,omitempty"`
	Targets       Targets   `json:"targets,omitzero"`
	Allowed       bool      `json:"allowed"`
	Reason        string    `json:"reason,omitempty"`
	Missing       []string  `json:"missing,omitempty"`
	Suggestion    string    `json:"suggestion,omitempty"`
}

// Targets are the OCIDs of the resources an operation acts on.
type Targets struct {
	Vault  string `json:"vault,omitempty"`
	Key    string `json:"key,omitempty"`
	Secret string `json:"secret,omitempty"`
}

// Sink stores events.
type Sink interface {
	Record(ctx context.Context, e Event) error
}

// Multi records to every sink; it fails if any sink fails.
type Multi []Sink

// Record implements Sink.
func (m Multi) Record(ctx context.Context, e Event) error {
	var errList []error
	for _, s := range m {
		if err := s.Record(ctx, e); err != nil {
			errList = append(errList, err)
		}
	}
	return errors.Join(errList...)
}

// LogSink writes events as structured log records (message "audit").
type LogSink struct{ Log *slog.Logger }

// Record implements Sink.
func (s LogSink) Record(ctx context.Context, e Event) error {
	if !s.Log.Enabled(ctx, slog.LevelInfo) {
		return nil
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("log", "audit"), slog.String("request_id", e.RequestID), slog.String("operation", e.Operation),
		slog.String("principal", e.Principal), slog.String("compartment", e.Compartment), slog.Bool("allowed", e.Allowed))
	for _, t := range [...]struct{ kind, id string }{{"vault", e.Targets.Vault}, {"key", e.Targets.Key}, {"secret", e.Targets.Secret}} {
		if t.id != "" {
			attrs = append(attrs, slog.String(t.kind, t.id))
		}
	}
	if !e.Allowed {
		attrs = append(attrs, slog.String("reason", e.Reason))
		if len(e.Missing) > 0 {
			attrs = append(attrs, slog.Any("missing", e.Missing))
		}
		if e.Suggestion != "" {
			attrs = append(attrs, slog.String("suggestion", e.Suggestion))
		}
	}
	s.Log.LogAttrs(ctx, slog.LevelInfo, "authorization", attrs...)
	return nil
}

// FileSink appends events as JSON lines to a file created with mode 0600.
// Each event is one write(2) on an O_APPEND descriptor, so lines never
// interleave; Close syncs the file.
type FileSink struct {
	mu sync.Mutex
	f  *os.File
}

// OpenFile opens (or creates, mode 0600) an audit log for appending.
func OpenFile(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err) // "open PATH: ..."
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		f.Close()
		return nil, fmt.Errorf("audit: %s has mode %v; it must not be readable by group or others", path, info.Mode().Perm())
	}
	return &FileSink{f: f}, nil
}

// Record implements Sink.
func (s *FileSink) Record(_ context.Context, e Event) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: encode: %w", err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("audit: sink closed")
	}
	if _, err := s.f.Write(line); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	return nil
}

// Close syncs and closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := errors.Join(s.f.Sync(), s.f.Close())
	s.f = nil
	return err
}
