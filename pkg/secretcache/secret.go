package secretcache

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"time"
)

// Secret is one secret version as read from the service, with its content
// decoded from base64. It is a small value: copying it copies no content.
//
// The content is shared by every caller that reads the same cache entry,
// so [Secret.Bytes] returns memory that callers must not modify. Nothing
// prints the content: fmt verbs and slog show it as REDACTED.
type Secret struct {
	// SecretID is the secret's OCID (also when it was read by name).
	SecretID string
	// VersionNumber and VersionName identify the version that was read.
	VersionNumber int64
	VersionName   string
	// Stages are the version's stages at read time (shared; do not modify).
	Stages []Stage
	// TimeCreated is when the version was created; zero if not reported.
	TimeCreated time.Time
	// TimeOfExpiry is when the version stops being valid (an expiry rule);
	// zero when it does not expire. The cache never serves a version past
	// its expiry.
	TimeOfExpiry time.Time
	// Metadata is the secret's free-form metadata (shared; do not modify).
	Metadata map[string]any

	content []byte
}

// Bytes returns the decoded content. The slice is shared with the cache and
// other callers: it must not be modified. Copy it first if you need to.
func (s Secret) Bytes() []byte { return s.content }

// Len returns the content's length in bytes.
func (s Secret) Len() int { return len(s.content) }

// Equal reports whether s and o hold the same content, in constant time
// for equal lengths.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare(s.content, o.content) == 1
}

// LogValue implements slog.LogValuer: the version is logged, the content
// never.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("secret_id", s.SecretID),
		slog.Int64("version", s.VersionNumber),
		slog.String("content", "REDACTED"),
	)
}

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s,
// %x...) prints the identity and hides the content.
func (s Secret) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "secretcache.Secret{SecretID:%q VersionNumber:%d content:REDACTED}", s.SecretID, s.VersionNumber)
}
