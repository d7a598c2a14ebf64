package cli

import (
	"testing"

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
