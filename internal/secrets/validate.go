package secrets

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// Limits and windows.
const (
	// MaxContentBytes is the 25 KB secret bundle limit, counted on the
	// decoded content (the reference leaves open which one OCI counts; the
	// decoded size is what the caller controls).
	MaxContentBytes = 25 * 1024
	// MaxNameLen bounds secret and version names (OCI documents no maximum).
	MaxNameLen = 255
	// MaxDescriptionLen bounds descriptions.
	MaxDescriptionLen = 400
	// MaxMetadataBytes bounds a secret's metadata, counted as its JSON
	// encoding. OCI documents no bound; the metadata is copied into every
	// GetSecret and every bundle, so it is kept to a size that is still
	// ample for rotation and administration context.
	MaxMetadataBytes = 8 * 1024
	day              = 24 * time.Hour
	// MinDeletionWindow .. MaxDeletionWindow bound timeOfDeletion of secrets
	// and versions; DefaultDeletionWindow applies when it is omitted.
	MinDeletionWindow     = 1 * day
	MaxDeletionWindow     = 30 * day
	DefaultDeletionWindow = 30 * day
	// clockSkew is tolerated at the edges of every "N days from now" range,
	// so a client that computes now+1d and sends it a moment later is not
	// refused.
	clockSkew = 5 * time.Minute
)

func validName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validVersionName reports whether a version name (secretContent.name) is
// usable: OCI documents no character rules for it, but a name the caller
// selects bundles by (secretVersionName) has no room for NUL, newlines or
// other control characters, invalid UTF-8 or invisible leading and
// trailing spaces.
func validVersionName(s string) bool {
	if s != strings.TrimSpace(s) || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// validText reports whether a description is valid UTF-8 whose only
// control characters are newlines and tabs.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// checkMetadata bounds a secret's metadata (MaxMetadataBytes of JSON).
func checkMetadata(m map[string]any) error {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "metadata must be a JSON object")
	}
	if len(b) > MaxMetadataBytes {
		return errs.E(errs.Invalid, "metadata is %d bytes as JSON; at most %d bytes (8 KiB) are allowed", len(b), MaxMetadataBytes)
	}
	return nil
}

func checkName(s string) error {
	if s == "" {
		return errs.E(errs.Missing, "secretName is required")
	}
	if !validName(s) {
		return errs.E(errs.Invalid, "secretName must be 1 to %d characters of letters, digits, '-', '_' and '.'", MaxNameLen)
	}
	return nil
}

func checkOCID(field, id string, types ...string) error {
	if id == "" {
		return errs.E(errs.Missing, "%s is required", field)
	}
	if !ocid.Valid(id) {
		return errs.E(errs.Invalid, "%s is not a valid OCID", field)
	}
	t := ocid.TypeOf(id)
	for _, want := range types {
		if t == want {
			return nil
		}
	}
	return errs.E(errs.Invalid, "%s is not the OCID of a %s", field, strings.Join(types, " or "))
}

// ParseDays parses an ISO 8601 duration of whole days, "P<n>D", the only
// form OCI accepts for expiry and rotation intervals, and checks it lies in
// [min, max] days.
func ParseDays(s string, min, max int) (int, error) {
	if len(s) < 3 || len(s) > 8 || s[0] != 'P' || s[len(s)-1] != 'D' {
		return 0, errs.E(errs.Invalid, "interval %q must be an ISO 8601 duration in days, such as P30D", truncate(s, 20))
	}
	n := 0
	for _, c := range s[1 : len(s)-1] {
		if c < '0' || c > '9' {
			return 0, errs.E(errs.Invalid, "interval %q must be an ISO 8601 duration in days, such as P30D", truncate(s, 20))
		}
		n = n*10 + int(c-'0')
	}
	if n < min || n > max {
		return 0, errs.E(errs.Invalid, "interval %s must be between P%dD and P%dD", s, min, max)
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// decodeContent checks a content detail and returns the decoded plaintext.
func decodeContent(d *ContentDetails, creating bool) ([]byte, error) {
	switch d.ContentType {
	case ContentTypeBase64:
	case "":
		return nil, errs.E(errs.Missing, "secretContent.contentType is required; use BASE64")
	case "PLAIN", "plain", "Plain":
		return nil, errs.E(errs.Invalid, "contentType PLAIN is not supported; send the content base64-encoded with contentType BASE64")
	default:
		return nil, errs.E(errs.Invalid, "secretContent.contentType %q is not supported; use BASE64", truncate(d.ContentType, 20))
	}
	if err := checkStage(d.Stage, creating); err != nil {
		return nil, err
	}
	if len(d.Name) > MaxNameLen {
		return nil, errs.E(errs.Invalid, "secretContent.name is longer than %d characters", MaxNameLen)
	}
	if !validVersionName(d.Name) {
		return nil, errs.E(errs.Invalid, "secretContent.name must be valid UTF-8 without control characters or spaces at either end")
	}
	if d.Content == "" {
		return nil, errs.E(errs.Missing, "secretContent.content is required")
	}
	if len(d.Content) > base64.StdEncoding.EncodedLen(MaxContentBytes) {
		return nil, errs.E(errs.Invalid, "secret content exceeds the limit of %d bytes (25 KB) after base64 decoding", MaxContentBytes)
	}
	b, err := base64.StdEncoding.DecodeString(d.Content)
	if err != nil {
		return nil, errs.E(errs.Invalid, "secretContent.content is not valid base64")
	}
	if len(b) > MaxContentBytes {
		clear(b)
		return nil, errs.E(errs.Invalid, "secret content exceeds the limit of %d bytes (25 KB) after base64 decoding", MaxContentBytes)
	}
	if len(b) == 0 {
		return nil, errs.E(errs.Invalid, "secretContent.content must not be empty")
	}
	return b, nil
}

func checkStage(s Stage, creating bool) error {
	switch s {
	case "", StageCurrent:
		return nil
	case StagePending:
		if creating {
			return errs.E(errs.Invalid, "secretContent.stage must be CURRENT when creating a secret")
		}
		return nil
	}
	return errs.E(errs.Invalid, "secretContent.stage must be CURRENT or PENDING")
}

func checkRules(rules []Rule, now time.Time) error {
	seen := map[RuleType]bool{}
	for _, r := range rules {
		if seen[r.Type] {
			return errs.E(errs.Invalid, "secretRules has more than one %s", r.Type)
		}
		seen[r.Type] = true
		switch r.Type {
		case RuleExpiry:
			if r.IsEnforcedOnDeletedSecretVersions {
				return errs.E(errs.Invalid, "isEnforcedOnDeletedSecretVersions belongs to SECRET_REUSE_RULE")
			}
			if r.SecretVersionExpiryInterval == "" && r.TimeOfAbsoluteExpiry == nil {
				return errs.E(errs.Invalid, "SECRET_EXPIRY_RULE needs secretVersionExpiryInterval or timeOfAbsoluteExpiry")
			}
			if r.SecretVersionExpiryInterval != "" {
				if _, err := ParseDays(r.SecretVersionExpiryInterval, 1, 90); err != nil {
					return err
				}
			}
			if t := r.TimeOfAbsoluteExpiry; t != nil {
				if t.Before(now.Add(day-clockSkew)) || t.After(now.Add(365*day+clockSkew)) {
					return errs.E(errs.Invalid, "timeOfAbsoluteExpiry must be between 1 and 365 days from now")
				}
			}
		case RuleReuse:
			if r.SecretVersionExpiryInterval != "" || r.TimeOfAbsoluteExpiry != nil || r.IsSecretContentRetrievalBlockedOnExpiry {
				return errs.E(errs.Invalid, "SECRET_REUSE_RULE has only isEnforcedOnDeletedSecretVersions")
			}
		case "":
			return errs.E(errs.Missing, "secretRules[].ruleType is required")
		default:
			return errs.E(errs.Invalid, "secretRules[].ruleType %q is not valid; use SECRET_EXPIRY_RULE or SECRET_REUSE_RULE", truncate(string(r.Type), 40))
		}
	}
	return nil
}

func checkRotation(rc *RotationConfig) error {
	if rc == nil {
		return nil
	}
	switch rc.TargetSystemType {
	case TargetADB, TargetFunction:
		if rc.TargetID == "" {
			return errs.E(errs.Missing, "rotationConfig.targetSystemDetails needs the %s id", rc.TargetSystemType)
		}
		if !ocid.Valid(rc.TargetID) {
			return errs.E(errs.Invalid, "rotationConfig.targetSystemDetails id is not a valid OCID")
		}
	case "":
		if rc.TargetID != "" {
			return errs.E(errs.Invalid, "rotationConfig.targetSystemDetails.targetSystemType is required")
		}
	default:
		return errs.E(errs.Invalid, "rotationConfig.targetSystemDetails.targetSystemType must be ADB or FUNCTION")
	}
	if rc.RotationInterval != "" {
		if _, err := ParseDays(rc.RotationInterval, 1, 360); err != nil {
			return err
		}
	}
	if rc.IsScheduledRotationEnabled && rc.RotationInterval == "" {
		return errs.E(errs.Invalid, "rotationConfig.rotationInterval is required when isScheduledRotationEnabled is true")
	}
	return nil
}

// deletionTime resolves an optional timeOfDeletion against the window.
func deletionTime(t *time.Time, now time.Time) (time.Time, error) {
	if t == nil {
		return now.Add(DefaultDeletionWindow), nil
	}
	if t.Before(now.Add(MinDeletionWindow-clockSkew)) || t.After(now.Add(MaxDeletionWindow+clockSkew)) {
		return time.Time{}, errs.E(errs.Invalid, "timeOfDeletion must be between 1 and 30 days from now")
	}
	return t.UTC(), nil
}

func checkLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPageSize, nil
	case limit < 0 || limit > MaxPageSize:
		return 0, errs.E(errs.Invalid, "limit must be between 1 and %d", MaxPageSize)
	}
	return limit, nil
}

// Page sizes of the list operations.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)
