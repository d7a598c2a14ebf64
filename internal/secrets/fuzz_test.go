package secrets

import (
	"encoding/json"
	"fmt"
	"testing"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func FuzzParseDays(f *testing.F) {
	for _, s := range []string{"P1D", "P90D", "P0D", "P91D", "PT1H", "P1W", "P-1D", "P01D", "p1d", "P", "PD", "P99999999999D", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseDays(s, 1, 90)
		if err != nil {
			return
		}
		if n < 1 || n > 90 {
			t.Fatalf("%q -> %d out of range", s, n)
		}
		if fmt.Sprintf("P%dD", n) != s && fmt.Sprintf("P0%dD", n) != s && fmt.Sprintf("P00%dD", n) != s {
			// Leading zeros are the only other accepted spelling.
			trimmed := s[1 : len(s)-1]
			for trimmed != "" && trimmed[0] == '0' {
				trimmed = trimmed[1:]
			}
			if fmt.Sprintf("P%sD", trimmed) != fmt.Sprintf("P%dD", n) {
				t.Fatalf("%q accepted as %d", s, n)
			}
		}
	})
}

func FuzzPageToken(f *testing.F) {
	f.Add(encodeToken(secretTokenPrefix, secretCursor{SortBy: SortByName, Order: SortAsc, Key: "a", ID: "ocid1.vaultsecret.oc1.x.y"}))
	f.Add(encodeToken(versionTokenPrefix, versionCursor{Order: SortDesc, Number: 5}))
	f.Add("s1.")
	f.Add("s1.e30")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, tok string) {
		if c, err := decodeSecretCursor(tok, SortByName, SortAsc); err == nil && c != nil {
			again := encodeToken(secretTokenPrefix, *c)
			c2, err := decodeSecretCursor(again, SortByName, SortAsc)
			if err != nil || *c2 != *c {
				t.Fatalf("round trip of %q failed: %v", tok, err)
			}
		}
		if c, err := decodeVersionCursor(tok, SortDesc); err == nil && c != nil && c.Number < 0 {
			t.Fatalf("negative cursor from %q", tok)
		}
	})
}
