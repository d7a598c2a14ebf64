package generate

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/coffer-vault/coffer/internal/errs"
)

// checkTemplate validates a secretTemplate: bounded length, every
// %GENERATED_...% placeholder known for the type, and every allowed
// placeholder present (a template that leaves out a generated value would
// store a secret without it).
func checkTemplate(t string, allowed []string) error {
	if len(t) > MaxTemplateLen {
		return errs.E(errs.Invalid, "secretGenerationContext.secretTemplate is longer than %d bytes", MaxTemplateLen)
	}
	for _, p := range allowed {
		if !strings.Contains(t, p) {
			return errs.E(errs.Invalid, "secretGenerationContext.secretTemplate must contain the placeholder %s", p)
		}
	}
	rest := t
	for {
		i := strings.Index(rest, "%GENERATED_")
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
		j := strings.IndexByte(rest, '%')
		if j < 0 {
			return errs.E(errs.Invalid, "secretGenerationContext.secretTemplate has an unterminated placeholder")
		}
		name := "%" + rest[:j+1]
		known := false
		for _, p := range allowed {
			if p == name {
				known = true
			}
		}
		if !known {
			return errs.E(errs.Invalid, "secretGenerationContext.secretTemplate has placeholder %q, which this generation type does not fill; allowed: %s", truncate(name, 40), strings.Join(allowed, ", "))
		}
		rest = rest[j+1:]
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Render fills the placeholders of template with values in one pass. When
// the template is valid JSON each value is JSON-string-escaped, so a PEM key
// with newlines inside a JSON string keeps the result valid JSON; otherwise
// values are inserted verbatim. Render does not validate the template: call
// Context.Validate first.
func Render(template string, values map[string][]byte) ([]byte, error) {
	return render(template, values)
}

func render(template string, values map[string][]byte) ([]byte, error) {
	isJSON := json.Valid([]byte(template))
	var out bytes.Buffer
	rest := template
	for len(rest) > 0 {
		i := strings.Index(rest, "%GENERATED_")
		if i < 0 {
			out.WriteString(rest)
			break
		}
		out.WriteString(rest[:i])
		rest = rest[i:]
		j := strings.IndexByte(rest[1:], '%')
		if j < 0 {
			out.WriteString(rest)
			break
		}
		name := rest[:j+2]
		v, ok := values[name]
		if !ok {
			out.WriteString(name)
		} else if isJSON {
			writeJSONEscaped(&out, v)
		} else {
			out.Write(v)
		}
		rest = rest[len(name):]
	}
	return out.Bytes(), nil
}

// writeJSONEscaped writes v as the inside of a JSON string.
func writeJSONEscaped(w *bytes.Buffer, v []byte) {
	const hex = "0123456789abcdef"
	for _, c := range v {
		switch {
		case c == '"' || c == '\\':
			w.WriteByte('\\')
			w.WriteByte(c)
		case c == '\n':
			w.WriteString(`\n`)
		case c == '\r':
			w.WriteString(`\r`)
		case c == '\t':
			w.WriteString(`\t`)
		case c < 0x20:
			w.WriteString(`\u00`)
			w.WriteByte(hex[c>>4])
			w.WriteByte(hex[c&0xf])
		default:
			w.WriteByte(c)
		}
	}
}
