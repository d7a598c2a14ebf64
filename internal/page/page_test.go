package page

import (
	"fmt"
	"slices"
	"testing"
)

type item struct{ key, id string }

func TestSliceWalksEveryItemOnce(t *testing.T) {
	var items []item
	for i := 0; i < 23; i++ {
		items = append(items, item{fmt.Sprintf("k%02d", i/2), fmt.Sprintf("id%02d", i)})
	}
	keyOf := func(it item) (string, string) { return it.key, it.id }
	for _, desc := range []bool{false, true} {
		sorted := slices.Clone(items)
		if desc {
			slices.Reverse(sorted)
		}
		var got []item
		token := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			p, next, err := Slice(sorted, keyOf, desc, token, 5)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p...)
			if next == "" {
				break
			}
			token = next
		}
		if !slices.Equal(got, sorted) {
			t.Fatalf("desc=%v: got %v, want %v", desc, got, sorted)
		}
	}
}

func TestBadTokenAndLimit(t *testing.T) {
	if _, _, err := Slice([]item{}, func(it item) (string, string) { return it.key, it.id }, false, "!!", 5); err == nil {
		t.Error("bad token accepted")
	}
	if _, err := Limit(-1); err == nil {
		t.Error("negative limit accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Token("a", "b"))
	f.Add("")
	f.Add("eyJrIjoxfQ")
	f.Fuzz(func(t *testing.T, s string) {
		k, id, ok, err := Parse(s)
		if err == nil && ok && Token(k, id) == "" {
			t.Fatal("round trip failed")
		}
	})
}

func TestSortByKeyThenID(t *testing.T) {
	items := []item{{"b", "2"}, {"a", "9"}, {"b", "1"}, {"", "5"}, {"a", "10"}}
	keyOf := func(it item) (string, string) { return it.key, it.id }
	for _, c := range []struct {
		desc bool
		want []item
	}{
		{false, []item{{"", "5"}, {"a", "10"}, {"a", "9"}, {"b", "1"}, {"b", "2"}}},
		{true, []item{{"b", "2"}, {"b", "1"}, {"a", "9"}, {"a", "10"}, {"", "5"}}},
	} {
		got := slices.Clone(items)
		Sort(got, keyOf, c.desc)
		if !slices.Equal(got, c.want) {
			t.Errorf("Sort(desc=%v) = %v, want %v", c.desc, got, c.want)
		}
	}
}
