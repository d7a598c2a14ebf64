package cli

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/jmespath/go-jmespath"
)

// legacyLiterals rewrites the backtick literals of a JMESPath expression
// that are not JSON into JSON string literals, as jmespath.py (and so the
// oci CLI) reads them: `x` is the string "x" when x is not a JSON value.
// Older oci CLI documentation and scripts are full of
// data[?name==`payments`], which go-jmespath rejects. Literals that are
// JSON, quoted identifiers and raw strings are left exactly as written, so
// an expression go-jmespath accepts is returned unchanged.
func legacyLiterals(q string) string {
	var b strings.Builder
	i := 0
	for i < len(q) {
		switch q[i] {
		case '\'':
			end := rawStringEnd(q, i)
			b.WriteString(q[i:end])
			i = end
		case '"':
			end := delimitedEnd(q, i, '"')
			b.WriteString(q[i:end])
			i = end
		case '`':
			end := delimitedEnd(q, i, '`')
			if end > len(q) || q[end-1] != '`' || end-i < 2 {
				// Unclosed: leave it for the library's error.
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(rewriteLiteral(q[i+1 : end-1]))
			i = end
		default:
			b.WriteByte(q[i])
			i++
		}
	}
	return b.String()
}

// delimitedEnd returns the index just past the closing delim of the token
// opened at q[start], skipping backslash escapes as go-jmespath's lexer
// does; len(q) when it is not closed.
func delimitedEnd(q string, start int, delim byte) int {
	for i := start + 1; i < len(q); i++ {
		switch q[i] {
		case '\\':
			i++
		case delim:
			return i + 1
		}
	}
	return len(q)
}

// rawStringEnd returns the index just past a raw string literal
// ('...', where \' is a quote) opened at q[start].
func rawStringEnd(q string, start int) int {
	for i := start + 1; i < len(q); i++ {
		switch {
		case q[i] == '\\' && i+1 < len(q) && q[i+1] == '\'':
			i++
		case q[i] == '\'':
			return i + 1
		}
	}
	return len(q)
}

// rewriteLiteral returns the backtick literal for raw, the text between
// the backticks as written.
func rewriteLiteral(raw string) string {
	value := strings.ReplaceAll(raw, "\\`", "`")
	if json.Valid([]byte(value)) {
		return "`" + raw + "`"
	}
	// jmespath.py: json.loads('"%s"' % lexeme.lstrip()).
	var s string
	if err := json.Unmarshal([]byte(`"`+strings.TrimLeft(value, " \t\n\r")+`"`), &s); err != nil {
		return "`" + raw + "`"
	}
	return "`" + strings.ReplaceAll(jsonText(s), "`", "\\`") + "`"
}

// compileQuery checks a --query expression.
func compileQuery(q string) error {
	_, err := jmespath.Compile(legacyLiterals(q))
	return err
}

// search applies a --query expression.
func search(q string, v any) (any, error) {
	return jmespath.Search(legacyLiterals(q), v)
}

// jsonText is v as compact JSON without HTML escaping: what the user
// wrote (<, >, &) is printed as written.
func jsonText(v any) string {
	b, err := encodeJSON(v, "")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// encodeJSON is json.Marshal (indented when indent is not empty) without
// HTML escaping: a terminal is no web page, and `<`, `>`, `&` must print as
// they are stored.
func encodeJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
