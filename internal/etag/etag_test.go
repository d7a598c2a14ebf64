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
