package etag

import (
	"encoding/hex"
	"testing"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		e := New()
		if len(e) != 32 {
			t.Fatalf("New() = %q: %d characters, want 32", e, len(e))
		}
		if _, err := hex.DecodeString(e); err != nil {
			t.Fatalf("New() = %q: not hex: %v", e, err)
		}
		if seen[e] {
			t.Fatalf("New() repeated %q", e)
		}
		seen[e] = true
	}
}

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		ifMatch, current string
		want             bool
	}{
		{"", "abc", true},
		{"abc", "abc", true},
		{"abd", "abc", false},
		{"abc", "", false},
	} {
		if got := Matches(tc.ifMatch, tc.current); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.ifMatch, tc.current, got, tc.want)
		}
	}
}
