package ociapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/errs"
)

// DecodeJSON decodes a request body into v. Errors are errs.CannotParse or
// errs.Invalid with a message that names the field and never echoes the
// value (a body may carry secret content). A body with freeformTags or
// definedTags has them checked against the tag limits (CheckTags).
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errs.E(errs.CannotParse, "the request body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errs.E(errs.CannotParse, "the request body has data after the JSON object")
	}
	return checkBodyTags(v)
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return errs.E(errs.CannotParse, "the request body must be a JSON object, not a %s", typeErr.Value)
		}
		return errs.E(errs.Invalid, "field %q: expected %s, got a JSON %s", field, jsonTypeName(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return errs.E(errs.CannotParse, "the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errs.E(errs.CannotParse, "the request body is truncated JSON")
	}
	// Errors from custom UnmarshalJSON methods (SDK polymorphic types,
	// SDKTime) do not carry a field; their text names the type, not the
	// value, so it is safe to show.
	msg := err.Error()
	if len(msg) > 200 || strings.ContainsAny(msg, "\"") {
		msg = "a field has a value of the wrong form"
	}
	return errs.E(errs.Invalid, "the request body could not be decoded: %s", msg)
}

func jsonTypeName(goType string) string {
	switch {
	case strings.Contains(goType, "SDKTime"), strings.Contains(goType, "time.Time"):
		return "an RFC 3339 timestamp"
	case strings.HasPrefix(goType, "*"):
		return jsonTypeName(goType[1:])
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string" || strings.HasSuffix(goType, "Enum"):
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "map"):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return fmt.Sprintf("an object (%s)", goType[strings.LastIndexByte(goType, '.')+1:])
}

// AppendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML-safe, invalid UTF-8 replaced), for replies written by hand.
func AppendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
