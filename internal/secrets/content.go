package secrets

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
)

// Content is plaintext secret content. It never prints: fmt verbs, slog and
// JSON all see a redacted value. Call Zero when done with it.
type Content struct {
	b []byte
}

// NewContent takes ownership of b.
func NewContent(b []byte) Content { return Content{b: b} }

// Bytes returns the plaintext; the slice is shared, not copied.
func (c Content) Bytes() []byte { return c.b }

// Base64 returns the content base64-encoded, as the BASE64 bundle content
// type carries it on the wire.
func (c Content) Base64() string { return base64.StdEncoding.EncodeToString(c.b) }

// Len is the content length in bytes.
func (c Content) Len() int { return len(c.b) }

// Zero overwrites the plaintext.
func (c *Content) Zero() {
	clear(c.b)
	c.b = nil
}

// LogValue redacts the content in structured logs.
func (Content) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Format redacts the content for every fmt verb.
func (Content) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[REDACTED]")) }

// MarshalJSON refuses, so content never leaks through a record or a log.
func (Content) MarshalJSON() ([]byte, error) {
	return nil, errors.New("secrets: refusing to marshal secret content")
}

// ContentDetails is the secretContent of CreateSecret and UpdateSecret
// (Base64SecretContentDetails). Content is base64 text and is secret.
type ContentDetails struct {
	// ContentType must be BASE64; PLAIN is refused with a message saying so.
	ContentType string
	// Content is the base64-encoded content.
	Content string
	// Name is the optional version name, unique among the secret's versions.
	Name string
	// Stage is CURRENT (default) or PENDING; CreateSecret allows only CURRENT.
	Stage Stage
}

// LogValue redacts the content.
func (d ContentDetails) LogValue() slog.Value {
	return slog.GroupValue(slog.String("contentType", d.ContentType), slog.String("name", d.Name),
		slog.String("stage", string(d.Stage)), slog.String("content", "[REDACTED]"))
}

// Format redacts the content for every fmt verb.
func (d ContentDetails) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{contentType:%s name:%q stage:%s content:[REDACTED]}", d.ContentType, d.Name, d.Stage)
}
