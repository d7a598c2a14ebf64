package blindindex

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func testKey(b byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// TestKnownAnswer pins the encoding: the vector was computed with Python's
// hmac module over the same length-prefixed parts, so a change of encoding
// (which would orphan every stored index key) fails here.
func TestKnownAnswer(t *testing.T) {
	ix, err := New(testKey(0))
	if err != nil {
		t.Fatal(err)
	}
	got := ix.Of("secrets/name", "ocid1.vault.oc1.x.a", "db-alpha")
	if want := "HPWC04hmGvVAkUmpUyd6sb6DQwIbhF0lI2P_xPjetP8"; got != want {
		t.Fatalf("Of = %s, want %s", got, want)
	}
}

func TestEntries(t *testing.T) {
	ix, _ := New(testKey(0))
	other, _ := New(testKey(1))
	a := ix.Of("k", "a/b", "c")
	for _, tc := range []struct {
		name string
		got  string
	}{
		{"shifted boundary", ix.Of("k", "a", "b/c")},
		{"joined parts", ix.Of("k", "a/bc")},
		{"other purpose", ix.Of("j", "a/b", "c")},
		{"extra empty part", ix.Of("k", "a/b", "c", "")},
		{"other key", other.Of("k", "a/b", "c")},
	} {
		if tc.got == a {
			t.Errorf("%s: same entry as the original", tc.name)
		}
	}
	if again := ix.Of("k", "a/b", "c"); again != a {
		t.Errorf("not deterministic: %s then %s", a, again)
	}
	if len(a) != 43 || strings.ContainsAny(a, "/=+") {
		t.Errorf("entry %q: want 43 base64url characters", a)
	}
}

func TestNewRefusesWrongSize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte key", n)
		}
	}
}

func TestNewCopiesKey(t *testing.T) {
	k := testKey(0)
	ix, _ := New(k)
	before := ix.Of("x")
	clear(k)
	if ix.Of("x") != before {
		t.Fatal("Index shares the caller's key slice")
	}
}

func TestRedacted(t *testing.T) {
	k := testKey(0x41) // printable bytes, so a leak would show
	ix, _ := New(k)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "ix", ix)
	for _, s := range []string{fmt.Sprint(ix), fmt.Sprintf("%v %+v %#v %s", ix, ix, ix, ix), buf.String()} {
		if strings.Contains(s, string(k[:8])) {
			t.Errorf("key material printed: %q", s)
		}
	}
}

// FuzzOfSeparatesParts: entries of different part lists differ, whatever
// separators, lengths or bytes the outside-chosen parts hold (a collision
// would make two names share one unique-name entry).
func FuzzOfSeparatesParts(f *testing.F) {
	f.Add("a/b", "c", "a", "b/c")
	f.Add("", "x", "x", "")
	f.Add("\x01a", "", "", "\x01a")
	f.Add("ab", "", "a", "b")
	f.Add("\x00\x00", "\x00", "\x00", "\x00\x00")
	f.Add("../../etc", "%2F", "..", "/../etc%2F")
	ix, _ := New(testKey(0))
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		same := a == c && b == d
		if (ix.Of(a, b) == ix.Of(c, d)) != same {
			t.Fatalf("Of(%q, %q) vs Of(%q, %q): equal=%v, parts equal=%v", a, b, c, d, !same, same)
		}
		if e := ix.Of(a, b); len(e) != 43 || strings.ContainsAny(e, "/=+\x00") {
			t.Fatalf("entry %q is not 43 base64url characters", e)
		}
	})
}
