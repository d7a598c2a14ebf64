package ociapi

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
)

func callWithQuery(rawQuery string) *Call {
	r := httptest.NewRequest("GET", "/x", nil)
	r.URL.RawQuery = rawQuery
	return &Call{R: r}
}

var testSpec = ListSpec{SortBy: []string{"TIMECREATED", "NAME"}, LifecycleStates: []string{"ACTIVE", "DELETED"}}

func TestList(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  ListParams
		kind  errs.Kind // 0 (Internal) means success
		msg   string
	}{
		{"", ListParams{}, 0, ""},
		{"limit=1&page=czEuYWJj&sortBy=name&sortOrder=desc&lifecycleState=active",
			ListParams{Limit: 1, Page: "czEuYWJj", SortBy: "NAME", SortOrder: "DESC", LifecycleState: "ACTIVE"}, 0, ""},
		{"limit=1000", ListParams{Limit: 1000}, 0, ""},
		{"limit=0", ListParams{}, errs.Invalid, "from 1 to 1000"},
		{"limit=-5", ListParams{}, errs.Invalid, "from 1 to 1000"},
		{"limit=1001", ListParams{}, errs.Invalid, "from 1 to 1000"},
		{"limit=99999999999999999999999", ListParams{}, errs.Invalid, "from 1 to 1000"},
		{"limit=ten", ListParams{}, errs.Invalid, "from 1 to 1000"},
		{"page=%00", ListParams{}, errs.Invalid, "page"},
		{"page=" + strings.Repeat("a", MaxPageToken+1), ListParams{}, errs.Invalid, "4096"},
		{"sortBy=BOGUS", ListParams{}, errs.Invalid, "TIMECREATED, NAME"},
		{"sortOrder=UP", ListParams{}, errs.Invalid, "ASC, DESC"},
		{"lifecycleState=BOGUS", ListParams{}, errs.Invalid, "ACTIVE, DELETED"},
	} {
		got, err := callWithQuery(tc.query).List(testSpec)
		if tc.kind == 0 {
			if err != nil || got != tc.want {
				t.Errorf("%s: got %+v, %v; want %+v", tc.query, got, err, tc.want)
			}
			continue
		}
		if err == nil || errs.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want kind %v mentioning %q", tc.query, err, tc.kind, tc.msg)
		}
	}
	// An operation without lifecycleState ignores it, as OCI ignores
	// parameters an operation does not define.
	if _, err := callWithQuery("lifecycleState=BOGUS").List(ListSpec{}); err != nil {
		t.Errorf("lifecycleState on an operation without it: %v", err)
	}
}

func TestCheckID(t *testing.T) {
	user := ocid.New(ocid.User, "")
	for _, tc := range []struct {
		id   string
		kind errs.Kind
	}{
		{user, 0},
		{"", errs.Missing},
		{"ocid1.user.oc1..a\x00", errs.Invalid},
		{strings.Repeat("a", 2000), errs.Invalid},
		{ocid.New(ocid.Vault, "dev"), errs.NotFound},
	} {
		got, err := CheckID("userId", tc.id, ocid.User)
		if tc.kind == 0 {
			if err != nil || got != tc.id {
				t.Errorf("CheckID(%q) = %q, %v", tc.id, got, err)
			}
			continue
		}
		if errs.KindOf(err) != tc.kind {
			t.Errorf("CheckID(%q): %v, want kind %v", tc.id, err, tc.kind)
		}
		if err != nil && tc.id != "" && strings.Contains(err.Error(), tc.id) {
			t.Errorf("CheckID(%q): the message echoes the value: %v", tc.id, err)
		}
	}
}

func TestCheckTags(t *testing.T) {
	many := map[string]string{}
	for i := 0; i < MaxTags+1; i++ {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for _, tc := range []struct {
		name string
		ff   map[string]string
		def  map[string]map[string]any
		ok   bool
	}{
		{"none", nil, nil, true},
		{"at the bounds", map[string]string{strings.Repeat("k", MaxTagKeyLen): strings.Repeat("é", MaxTagValueLen)},
			map[string]map[string]any{"ns": {"k": "v", "n": 1.5, "b": true}}, true},
		{"too many", many, nil, false},
		{"too many together", map[string]string{"a": "b"}, map[string]map[string]any{"ns": func() map[string]any {
			m := map[string]any{}
			for i := 0; i < MaxTags; i++ {
				m[strings.Repeat("x", i+1)] = "v"
			}
			return m
		}()}, false},
		{"long key", map[string]string{strings.Repeat("k", MaxTagKeyLen+1): "v"}, nil, false},
		{"long value", map[string]string{"k": strings.Repeat("v", MaxTagValueLen+1)}, nil, false},
		{"empty key", map[string]string{"": "v"}, nil, false},
		{"NUL in key", map[string]string{"a\x00": "v"}, nil, false},
		{"newline in value", map[string]string{"a": "b\nc"}, nil, false},
		{"invalid UTF-8", map[string]string{"a": "\xff"}, nil, false},
		{"object value", nil, map[string]map[string]any{"ns": {"k": map[string]any{}}}, false},
		{"long namespace", nil, map[string]map[string]any{strings.Repeat("n", MaxTagKeyLen+1): {"k": "v"}}, false},
	} {
		err := CheckTags(tc.ff, tc.def)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: kind %v", tc.name, errs.KindOf(err))
		}
	}
}

// TestDecodeChecksTags: every body with tags has them checked as it is
// decoded, promoted (embedded) fields included.
func TestDecodeChecksTags(t *testing.T) {
	type inner struct {
		FreeformTags map[string]string         `json:"freeformTags"`
		DefinedTags  map[string]map[string]any `json:"definedTags"`
	}
	type outer struct {
		inner
		Name string `json:"name"`
	}
	body := `{"freeformTags":{"k":"` + strings.Repeat("v", MaxTagValueLen+1) + `"}}`
	if err := DecodeJSON([]byte(body), &outer{}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("embedded tags: %v", err)
	}
	if err := DecodeJSON([]byte(`{"definedTags":{"ns":{"k":[1]}}}`), &inner{}); errs.KindOf(err) != errs.Invalid {
		t.Errorf("defined tag array value: %v", err)
	}
	if err := DecodeJSON([]byte(`{"freeformTags":{"k":"v"},"name":"n"}`), &outer{}); err != nil {
		t.Errorf("good tags: %v", err)
	}
}

// FuzzListParams: whatever the query, List never panics, refuses only
// with a 400, and what it accepts is within OCI's bounds and spelled as
// the spec spells it.
func FuzzListParams(f *testing.F) {
	for _, q := range []string{"", "limit=0", "limit=-1", "limit=1001", "limit=99999999999999999999", "limit=+5", "limit=0x10",
		"page=%00", "page=%FF%FE", "page=" + strings.Repeat("A", 5000), "sortBy=name&sortOrder=asc", "lifecycleState=BOGUS",
		"lifecycleState=%00", "sortBy=%E2%80%AE", "limit=1&limit=2", "%zz", ";;&&=="} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		c := callWithQuery(q)
		p, err := c.List(testSpec)
		if err != nil {
			if errs.KindOf(err) != errs.Invalid {
				t.Fatalf("%q: %v is not a 400", q, err)
			}
			return
		}
		if p.Limit < 0 || p.Limit > MaxListLimit || len(p.Page) > MaxPageToken || !utf8.ValidString(p.Page) {
			t.Fatalf("%q: accepted %+v", q, p)
		}
		if p.Limit == 0 && c.Query("limit") != "" {
			t.Fatalf("%q: limit %q accepted as 0", q, c.Query("limit"))
		}
		for v, allowed := range map[string][]string{p.SortBy: testSpec.SortBy, p.SortOrder: SortOrders, p.LifecycleState: testSpec.LifecycleStates} {
			if v != "" && !contains(allowed, v) {
				t.Fatalf("%q: %q is not one of %v", q, v, allowed)
			}
		}
		if strings.Trim(p.Page, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=") != "" {
			t.Fatalf("%q: page %q has characters no token has", q, p.Page)
		}
	})
}

// FuzzCheckID: an id from outside is accepted only as a valid OCID of the
// type asked for; refusals are 400, 404 or (empty) 400 Missing and never
// echo the value.
func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"", "ocid1.user.oc1..aaaa", "ocid1.vault.oc1.dev.aaaa", "ocid1.user.oc1..a\x00", "\xff\xfe",
		strings.Repeat("a", 1100), "..%2F..", "a/b", "-1", "ocid1.user.oc1..a\x1b[31m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := CheckID("userId", s, ocid.User)
		if err == nil {
			if id != s || !ocid.Valid(s) || ocid.TypeOf(s) != ocid.User {
				t.Fatalf("accepted %q as %q", s, id)
			}
			return
		}
		switch errs.KindOf(err) {
		case errs.Invalid, errs.Missing, errs.NotFound:
		default:
			t.Fatalf("%q: %v", s, err)
		}
		if len(s) > 8 && strings.Contains(err.Error(), s) {
			t.Fatalf("%q: message echoes the value: %v", s, err)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
