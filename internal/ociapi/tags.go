package ociapi

import (
	"reflect"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/errs"
)

// Tag limits. OCI documents keys of at most 100 characters, values of at
// most 256 and a bound on tags per resource; Coffer counts freeform and
// defined tags together against MaxTags. Every resource's tags are held in
// its record and copied to every response, so these also bound what one
// request can make the server store and send.
const (
	MaxTags         = 64
	MaxTagKeyLen    = 100
	MaxTagValueLen  = 256
	tagFieldsLength = 2
)

// CheckTags checks a resource's freeform and defined tags against the tag
// limits: at most MaxTags in all, keys and namespaces of 1 to MaxTagKeyLen
// characters without control characters, values (strings, numbers or
// booleans; defined tag values may not be objects or arrays) of at most
// MaxTagValueLen characters, all valid UTF-8.
func CheckTags(freeform map[string]string, defined map[string]map[string]any) error {
	n := len(freeform)
	for _, keys := range defined {
		n += len(keys)
	}
	if n > MaxTags {
		return errs.E(errs.Invalid, "a resource has at most %d tags (freeformTags and definedTags together); this request has %d", MaxTags, n)
	}
	for k, v := range freeform {
		if err := checkTagKey("freeformTags", k); err != nil {
			return err
		}
		if err := checkTagValue("freeformTags", v); err != nil {
			return err
		}
	}
	for ns, keys := range defined {
		if err := checkTagKey("definedTags namespace", ns); err != nil {
			return err
		}
		for k, v := range keys {
			if err := checkTagKey("definedTags", k); err != nil {
				return err
			}
			switch v := v.(type) {
			case string:
				if err := checkTagValue("definedTags", v); err != nil {
					return err
				}
			case float64, bool, nil:
			default:
				return errs.E(errs.Invalid, "definedTags values must be strings, numbers or booleans")
			}
		}
	}
	return nil
}

func checkTagKey(what, k string) error {
	if k == "" {
		return errs.E(errs.Invalid, "%s has an empty key", what)
	}
	if utf8.RuneCountInString(k) > MaxTagKeyLen {
		return errs.E(errs.Invalid, "%s keys are at most %d characters", what, MaxTagKeyLen)
	}
	if !printable(k) {
		return errs.E(errs.Invalid, "%s keys must be valid UTF-8 without control characters", what)
	}
	return nil
}

func checkTagValue(what, v string) error {
	if utf8.RuneCountInString(v) > MaxTagValueLen {
		return errs.E(errs.Invalid, "%s values are at most %d characters", what, MaxTagValueLen)
	}
	if !printable(v) {
		return errs.E(errs.Invalid, "%s values must be valid UTF-8 without control characters", what)
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters
// (NUL, newlines, escape sequences, ...).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// CheckText checks a name or description given as name: valid UTF-8,
// no control characters, at most max characters. OCI documents the
// character rules for few of its free-text fields; no NUL, newline or
// escape sequence has a place in a display name, and a bound keeps records
// small.
func CheckText(name, s string, max int) error {
	if utf8.RuneCountInString(s) > max {
		return errs.E(errs.Invalid, "%s is longer than %d characters", name, max)
	}
	if !printable(s) {
		return errs.E(errs.Invalid, "%s must be valid UTF-8 without control characters", name)
	}
	return nil
}

// tagFields finds, once per request model type, the FreeformTags and
// DefinedTags fields (promoted ones included), so that Decode checks the
// tags of every body that has them and no handler can forget to.
var tagFields sync.Map // reflect.Type -> [tagFieldsLength][]int (nil: none)

var (
	freeformType = reflect.TypeFor[map[string]string]()
	definedType  = reflect.TypeFor[map[string]map[string]any]()
)

func tagIndexes(t reflect.Type) *[tagFieldsLength][]int {
	if v, ok := tagFields.Load(t); ok {
		return v.(*[tagFieldsLength][]int)
	}
	var idx *[tagFieldsLength][]int
	if f, ok := t.FieldByName("FreeformTags"); ok && f.Type == freeformType {
		idx = &[tagFieldsLength][]int{f.Index}
	}
	if f, ok := t.FieldByName("DefinedTags"); ok && f.Type == definedType {
		if idx == nil {
			idx = &[tagFieldsLength][]int{}
		}
		idx[1] = f.Index
	}
	tagFields.Store(t, idx)
	return idx
}

// checkBodyTags checks the tags of a decoded body v (a pointer to a
// struct), if its type has any.
func checkBodyTags(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	rv = rv.Elem()
	idx := tagIndexes(rv.Type())
	if idx == nil {
		return nil
	}
	var ff map[string]string
	var def map[string]map[string]any
	if idx[0] != nil {
		if f, err := rv.FieldByIndexErr(idx[0]); err == nil {
			ff = f.Interface().(map[string]string)
		}
	}
	if idx[1] != nil {
		if f, err := rv.FieldByIndexErr(idx[1]); err == nil {
			def = f.Interface().(map[string]map[string]any)
		}
	}
	return CheckTags(ff, def)
}
