package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jmespath/go-jmespath"
)

// Legacy backtick literals that are not JSON are strings, as jmespath.py
// and the oci CLI read them; JSON literals keep their JSON meaning.
func TestLegacyLiterals(t *testing.T) {
	doc := map[string]any{"data": []any{
		map[string]any{"name": "payments", "n": float64(1), "ok": true},
		map[string]any{"name": "a`b", "n": float64(2), "ok": false},
		map[string]any{"name": "<&>", "n": float64(3), "ok": false},
		map[string]any{"name": "true", "n": float64(4), "ok": false},
	}}
	for _, tc := range []struct {
		query string
		want  string
	}{
		{"data[?name==`payments`].n", "[1]"},
		{"data[?name==` payments`].n", "[1]"}, // jmespath.py strips leading space
		{"data[?name==`\"payments\"`].n", "[1]"},
		{"data[?name=='payments'].n", "[1]"},
		{"data[?name==`a\\`b`].n", "[2]"},
		{"data[?name==`<&>`].n", "[3]"},
		{"data[?n==`2`].name", `["a` + "`" + `b"]`},
		{"data[?ok==`true`].n", "[1]"},   // JSON true, not the string
		{"data[?name==`true`].n", "[]"},  // JSON true is not "true"
		{"data[?name=='`x`'].n", "[]"},   // a backtick in a raw string is text
		{"data[?name==\"`x`\"].n", "[]"}, // ... and in a quoted identifier
	} {
		if err := compileQuery(tc.query); err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		v, err := search(tc.query, doc)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if got := jsonText(v); got != tc.want {
			t.Errorf("%s = %s; want %s", tc.query, got, tc.want)
		}
	}
	// Neither JSON nor a JSON string body: still an error.
	for _, q := range []string{"data[?name==`a\"b`]", "data[?name==`x", "data[?name==`a\\qb`]"} {
		if err := compileQuery(q); err == nil {
			t.Errorf("%s compiled", q)
		}
	}
}

// FuzzLegacyLiterals: the rewrite never changes an expression go-jmespath
// already accepts (its tokenizer agrees with the library's), and what it
// returns never panics the library.
func FuzzLegacyLiterals(f *testing.F) {
	for _, s := range []string{
		"data[?name==`x`]", "`\"x\"`", "'a\\'b`'", "\"a\\\"`\"", "`a\\`b`", "`", "``", "` `",
		"data[?a==`{\"k\":1}`]", "'unclosed", "\"unclosed", "`\\", "a.'`'.`1`", "`\u00e9`", "`\\u0041`",
		"data[?name==`</script>`]", "`\x00`", "foo[`1`:`2`]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out := legacyLiterals(q)
		if _, err := jmespath.Compile(q); err == nil && out != q {
			t.Fatalf("valid %q rewritten to %q", q, out)
		}
		_, _ = jmespath.Compile(out)
	})
}

// JSON cells in tables and --query results keep <, > and & as written.
func TestJSONTextKeepsHTML(t *testing.T) {
	if got := jsonText(map[string]any{"k": "<a&b>"}); got != `{"k":"<a&b>"}` {
		t.Fatalf("jsonText = %s", got)
	}
	if got := cell(map[string]any{"k": "<a&b>"}); got != `{"k":"<a&b>"}` {
		t.Fatalf("cell = %s", got)
	}
}

// A table is fitted to the width: names and descriptions are cut first
// (ending in "…"), OCIDs stay whole while anything else can give; with no
// limit everything is printed.
func TestTableFitsWidth(t *testing.T) {
	id := "ocid1.vault.oc1..aaaaaaaaqpbvm3kd5nyx3olzsqoyz2"
	rows := []any{map[string]any{
		"id": id, "compartment-id": "ocid1.tenancy.coffer..xyz",
		"description":  strings.Repeat("long words ", 20),
		"display-name": "payments-" + strings.Repeat("x", 40),
	}}
	for _, limit := range []int{110, 150} {
		out := table(rows, limit)
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if n := utf8.RuneCountInString(line); n > limit {
				t.Fatalf("limit %d: line of %d runes:\n%s", limit, n, out)
			}
		}
		if !strings.Contains(out, id) || !strings.Contains(out, "…") {
			t.Fatalf("limit %d: want the whole id and a cut value:\n%s", limit, out)
		}
	}
	full := table(rows, 0)
	if strings.Contains(full, "…") || !strings.Contains(full, strings.Repeat("long words ", 19)) {
		t.Fatalf("unlimited table cut:\n%s", full)
	}
	// Too narrow for everything: ids are cut too, down to the minimum.
	narrow := table(rows, 20)
	if strings.Contains(narrow, id) || !strings.Contains(narrow, "ocid1.v…") {
		t.Fatalf("narrow table:\n%s", narrow)
	}
}

// --wait-for-state keeps one line on a terminal up to date (state and
// elapsed time, every second) and erases it at the end; off a terminal it
// writes nothing.
func TestWaitProgress(t *testing.T) {
	for _, tty := range []bool{true, false} {
		now := time.Unix(0, 0)
		g := newGlobals()
		g.now = func() time.Time { return now }
		var sleeps []time.Duration
		g.sleep = func(_ context.Context, d time.Duration) error {
			sleeps = append(sleeps, d)
			now = now.Add(d)
			return nil
		}
		var errb bytes.Buffer
		g.stderr, g.stderrTTY = &errb, tty
		w := &waitFlags{states: []string{"active"}, maxWait: 60, intervalMx: 30}
		states := []string{"UPDATING", "ACTIVE"}
		got, err := wait(context.Background(), g, w, "CREATING", func(s string) string { return s },
			func(context.Context) (string, error) { s := states[0]; states = states[1:]; return s, nil })
		if err != nil || got != "ACTIVE" {
			t.Fatalf("tty %v: wait = %q, %v", tty, got, err)
		}
		if !tty {
			if errb.Len() != 0 || len(sleeps) != 2 {
				t.Fatalf("piped: stderr %q, sleeps %v", errb.String(), sleeps)
			}
			continue
		}
		out := errb.String()
		for _, want := range []string{
			"\r\x1b[KWaiting for ACTIVE: CREATING, 0s elapsed",
			"\r\x1b[KWaiting for ACTIVE: CREATING, 1s elapsed",
			"\r\x1b[KWaiting for ACTIVE: UPDATING, 2s elapsed",
			"\r\x1b[KWaiting for ACTIVE: UPDATING, 3s elapsed",
		} {
			if !strings.Contains(out, want) {
				t.Fatalf("progress %q lacks %q", out, want)
			}
		}
		if !strings.HasSuffix(out, "ACTIVE: UPDATING, 3s elapsed\r\x1b[K") || strings.Contains(out, "\n") {
			t.Fatalf("progress does not end by erasing its line: %q", out)
		}
	}
}
