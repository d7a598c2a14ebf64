package secretcache

import (
	"errors"
	"strconv"
	"time"
)

// DefaultRotationMetadataKey is the key in a secret's metadata whose value
// gives the secret's rotation interval, when Options.RotationInterval does
// not. A bundle does not carry the secret's rotationConfig (that is on the
// management API, which a reader may not be allowed to call), but it does
// carry the secret's metadata, so whoever configures rotation can publish
// the interval there, for example {"rotationInterval": "P30D"}.
const DefaultRotationMetadataKey = "rotationInterval"

var errDuration = errors.New("secretcache: malformed duration")

// maxRotation bounds a parsed interval; OCI allows at most 360 days.
const maxRotation = 10 * 365 * 24 * time.Hour

// ParseInterval parses a rotation interval as OCI writes it, an ISO 8601
// duration of days, hours, minutes and seconds ("P30D", "PT12H",
// "P1DT2H30M", "PT90S"), or as a Go duration ("720h", "90m"). Years,
// months and weeks are refused: their length is ambiguous. The result is
// positive and at most ten years.
func ParseInterval(s string) (time.Duration, error) {
	if len(s) == 0 || len(s) > 64 {
		return 0, errDuration
	}
	var d time.Duration
	if s[0] == 'P' {
		var err error
		if d, err = parseISO(s[1:]); err != nil {
			return 0, err
		}
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errDuration
		}
	}
	if d <= 0 || d > maxRotation {
		return 0, errDuration
	}
	return d, nil
}

func parseISO(s string) (time.Duration, error) {
	var total time.Duration
	inTime := false
	units := 0
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime {
				return 0, errDuration
			}
			inTime = true
			s = s[1:]
			if len(s) == 0 {
				return 0, errDuration
			}
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || i > 9 {
			return 0, errDuration
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, errDuration
		}
		var unit time.Duration
		switch {
		case !inTime && s[i] == 'D':
			unit = 24 * time.Hour
		case inTime && s[i] == 'H':
			unit = time.Hour
		case inTime && s[i] == 'M':
			unit = time.Minute
		case inTime && s[i] == 'S':
			unit = time.Second
		default:
			return 0, errDuration
		}
		if time.Duration(n) > maxRotation/unit {
			return 0, errDuration
		}
		total += time.Duration(n) * unit
		if total > maxRotation {
			return 0, errDuration
		}
		units++
		s = s[i+1:]
	}
	if units == 0 {
		return 0, errDuration
	}
	return total, nil
}

// rotationFromMetadata reads the interval from a bundle's metadata; a
// missing or malformed value gives zero (unknown).
func rotationFromMetadata(md map[string]any, key string) time.Duration {
	if md == nil || key == "" {
		return 0
	}
	v, ok := md[key].(string)
	if !ok {
		return 0
	}
	d, err := ParseInterval(v)
	if err != nil {
		return 0
	}
	return d
}
