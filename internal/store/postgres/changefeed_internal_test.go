package postgres

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/internal/keyspace"
)

func TestEscapeKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{"secret/ocid1.vaultsecret.oc1..aaa/bundle", "secret/ocid1.vaultsecret.oc1..aaa/bundle"},
		{"a b*k", "a b*k"},
		{"100%", "100%25"},
		{"a\nb", "a%0Ab"},
		{"\x01\x7f", "%01%7F"},
		{"é", "%C3%A9"},
	}
	for _, tt := range tests {
		if got := escapeKey(tt.key); got != tt.want {
			t.Errorf("escapeKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
		if got, ok := unescapeKey(tt.want); !ok || got != tt.key {
			t.Errorf("unescapeKey(%q) = %q, %v; want %q", tt.want, got, ok, tt.key)
		}
	}
}

func TestDecodePayloadRefuses(t *testing.T) {
	for _, p := range []string{
		"", payloadAll, "k", "k\n", "x\na", "k\na\n\nb", "k\na\n", "k\n%", "k\n%4", "k\n%zz",
		"k\n%00", "k\n%FF", "k\na\tb", "k\n\xc3\xa9", "k\n" + strings.Repeat("k", store.MaxKeyLen+1),
	} {
		if keys, ok := decodePayload(p); ok {
			t.Errorf("decodePayload(%q) = %q, true; want false", p, keys)
		}
	}
}

func TestPayloads(t *testing.T) {
	var none changes
	if p := none.payloads(); p != nil {
		t.Fatalf("no writes: payloads %q, want none", p)
	}

	var c changes
	for _, k := range []string{"b", "a\nx", "b", "a\nx", "c"} {
		c.add(k)
	}
	if p := c.payloads(); !slices.Equal(p, []string{"k\nb\na%0Ax\nc"}) {
		t.Fatalf("payloads = %q", p)
	}

	// Many keys: several payloads, each short enough and readable alone,
	// naming every key once; past maxNotifications, payloadAll.
	for _, n := range []int{17, 100, 300, 600, 1000, 5000} {
		var c changes
		var want []string
		for i := range n {
			k := fmt.Sprintf("secret/ocid1.vaultsecret.oc1.iad.%032d/version/%d", i, i%7)
			want = append(want, k)
			c.add(k)
			c.add(want[i/2]) // a duplicate
		}
		ps := c.payloads()
		var got []string
		for _, p := range ps {
			if len(p) >= 8000 {
				t.Fatalf("%d keys: a payload of %d bytes", n, len(p))
			}
			keys, ok := decodePayload(p)
			if !ok {
				if p != payloadAll || len(ps) != 1 {
					t.Fatalf("%d keys: unreadable payload %.40q among %d", n, p, len(ps))
				}
				continue
			}
			got = append(got, keys...)
		}
		size := 0
		for _, k := range want {
			size += 1 + len(k)
		}
		tooMany := size > maxNotifications*(maxPayload-len(payloadKeys))
		switch {
		case tooMany && !slices.Equal(ps, []string{payloadAll}):
			t.Errorf("%d keys (%d bytes): %d payloads, want payloadAll", n, size, len(ps))
		case !tooMany && !slices.Equal(got, want):
			t.Errorf("%d keys (%d bytes): payloads name %d keys, want %d", n, size, len(got), len(want))
		case !tooMany && len(ps) > maxNotifications:
			t.Errorf("%d keys: %d payloads", n, len(ps))
		}
	}

	// Keys that fit the bound in bytes but not in maxNotifications payloads:
	// two 3000-byte keys per payload, 20 keys.
	var loose changes
	for i := range 20 {
		loose.add(fmt.Sprintf("%02d", i) + strings.Repeat("\x01", 999))
	}
	if ps := loose.payloads(); !slices.Equal(ps, []string{payloadAll}) {
		t.Errorf("20 keys of 3000 escaped bytes: %d payloads, want payloadAll", len(ps))
	}

	// The longest key, escaped to three times its length, still fits.
	var long changes
	k := strings.Repeat("\x01", store.MaxKeyLen)
	long.add("a")
	long.add(k)
	long.add(k + "")
	ps := long.payloads()
	if len(ps) != 1 || len(ps[0]) >= 8000 {
		t.Fatalf("longest key: %d payloads", len(ps))
	}
	if keys, ok := decodePayload(ps[0]); !ok || !slices.Equal(keys, []string{"a", k}) {
		t.Fatalf("longest key: decoded %v", ok)
	}
}

func TestChannelFor(t *testing.T) {
	if got := channelFor("public"); got != "coffer:public" {
		t.Errorf("channelFor(public) = %q", got)
	}
	long1, long2 := strings.Repeat("s", 63), strings.Repeat("s", 62)+"t"
	c1, c2 := channelFor(long1), channelFor(long2)
	if len(c1) > 63 || len(c2) > 63 || c1 == c2 || !strings.HasPrefix(c1, "coffer#") {
		t.Errorf("channelFor of long schemas = %q, %q", c1, c2)
	}
}

func FuzzPayload(f *testing.F) {
	f.Add("k\nsecret/a\nb%25", "a/b\n%c")
	f.Add(payloadAll, "\x01é")
	f.Fuzz(func(t *testing.T, payload, keys string) {
		// Any payload: no panic, and only valid keys come out.
		if got, ok := decodePayload(payload); ok {
			for _, k := range got {
				if keyspace.CheckKey(k) != nil {
					t.Fatalf("decodePayload(%q) gave invalid key %q", payload, k)
				}
			}
		}
		// Valid keys survive the round trip, in order, deduplicated.
		var c changes
		var want []string
		for k := range strings.SplitSeq(keys, "\x00") {
			if keyspace.CheckKey(k) != nil {
				continue
			}
			c.add(k)
			if !slices.Contains(want, k) {
				want = append(want, k)
			}
		}
		var got []string
		for _, p := range c.payloads() {
			ks, ok := decodePayload(p)
			if !ok {
				t.Fatalf("payload %q of keys %q unreadable", p, want)
			}
			got = append(got, ks...)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("keys %q came back as %q", want, got)
		}
	})
}
