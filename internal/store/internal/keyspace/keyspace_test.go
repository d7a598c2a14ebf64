package keyspace

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/store"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"simple", "a/b", true},
		{"unicode", "ключ/秘密/😀", true},
		{"max length", strings.Repeat("k", store.MaxKeyLen), true},
		{"too long", strings.Repeat("k", store.MaxKeyLen+1), false},
		{"empty", "", false},
		{"invalid utf8", "a\xffb", false},
		{"nul", "a\x00b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKey(tt.key)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v is not ErrInvalidKey", err)
			}
		})
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix string
		want   string
		ok     bool
	}{
		{"", "", false},
		{"a/", "a0", true},
		{"a", "b", true},
		{"a\U0010FFFF", "b", true},
		{"\U0010FFFF\U0010FFFF", "", false},
		{"x\uD7FF", "x\uE000", true},
		{"é", "ê", true},
		{"a\u007f", "a\u0080", true},
	}
	for _, tt := range tests {
		got, ok := PrefixEnd(tt.prefix)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PrefixEnd(%q) = %q, %v; want %q, %v", tt.prefix, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzBounds checks that the Range computed for any (prefix, after) selects
// exactly the keys that a direct reading of List's contract selects.
func FuzzBounds(f *testing.F) {
	f.Add("a/", "", "a0")
	f.Add("a", "a/b", "a/c")
	f.Add("a\U0010FFFF", "", "b")
	f.Add("", "zz", "zzz")
	f.Add("é", "", "ê")
	f.Fuzz(func(t *testing.T, prefix, after, key string) {
		if CheckText(prefix) != nil || CheckText(after) != nil || CheckText(key) != nil {
			return
		}
		r := Bounds(prefix, after)
		want := strings.HasPrefix(key, prefix) && (after == "" || key > after)
		if got := r.Contains(key); got != want {
			t.Fatalf("Bounds(%q, %q) = %+v; Contains(%q) = %v, want %v", prefix, after, r, key, got, want)
		}
		if r.HasHi && !utf8.ValidString(r.Hi) {
			t.Fatalf("upper bound %q is not valid UTF-8", r.Hi)
		}
	})
}

func TestListRange(t *testing.T) {
	for _, tc := range []struct {
		prefix, after string
		want          Range
		wantErr       string
	}{
		{prefix: "a/", want: Range{Lo: "a/", LoInclusive: true, Hi: "a0", HasHi: true}},
		{prefix: "a/", after: "a/x", want: Range{Lo: "a/x", Hi: "a0", HasHi: true}},
		{prefix: "", want: Range{LoInclusive: true}},
		{prefix: "a\x00", wantErr: "prefix: "},
		{prefix: "a/", after: "\xff", wantErr: "after: "},
	} {
		r, err := ListRange(tc.prefix, tc.after)
		if tc.wantErr != "" {
			if !errors.Is(err, ErrInvalidKey) || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("ListRange(%q, %q) error = %v, want ErrInvalidKey with %q", tc.prefix, tc.after, err, tc.wantErr)
			}
			continue
		}
		if err != nil || r != tc.want {
			t.Errorf("ListRange(%q, %q) = %+v, %v; want %+v", tc.prefix, tc.after, r, err, tc.want)
		}
	}
}
