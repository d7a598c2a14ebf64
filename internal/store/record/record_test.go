package record_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/faulty"
	"github.com/coffer-vault/coffer/internal/store/memstore"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// thing has the field shapes domain records use: omitempty, omitzero, a
// pointer time, bytes and a map.
type thing struct {
	ID      string            `json:"id"`
	N       int64             `json:"n,omitempty"`
	When    time.Time         `json:"when"`
	Until   time.Time         `json:"until,omitzero"`
	Deleted *time.Time        `json:"deleted,omitempty"`
	Blob    []byte            `json:"blob,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

var when = time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)

// raw stores values as they are, bypassing the codec.
func raw(t *testing.T, st store.Store, kv map[string]string) {
	t.Helper()
	for k, v := range kv {
		put := func(tx store.Tx) error { return tx.Put(k, []byte(v)) }
		if err := st.Update(context.Background(), put); err != nil {
			t.Fatal(err)
		}
	}
}

func view(st store.Store, fn func(store.Reader) error) error {
	return st.View(context.Background(), fn)
}

// TestPutFormat pins the stored bytes: data directories written before
// this package (by identity's putJSON, kms's putRecord and secrets'
// putJSON, all json.Marshal) must read back, and new writes must be read
// by older code after a downgrade.
func TestPutFormat(t *testing.T) {
	st := memstore.New()
	cases := []struct {
		key  string
		v    any
		want string
	}{
		{"t/1", thing{ID: "a", When: when, Blob: []byte{1, 2}, Tags: map[string]string{"b": "2", "a": "1"}},
			`{"id":"a","when":"2024-05-06T07:08:09.00000001Z","blob":"AQI=","tags":{"a":"1","b":"2"}}`},
		{"t/2", &thing{ID: "b", N: 3, Until: when, Deleted: &when},
			`{"id":"b","n":3,"when":"0001-01-01T00:00:00Z","until":"2024-05-06T07:08:09.00000001Z","deleted":"2024-05-06T07:08:09.00000001Z"}`},
		{"index/x", "ocid1.secret.oc1..aaaa", `"ocid1.secret.oc1..aaaa"`},
		{"n", uint64(42), `42`},
	}
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, c := range cases {
			if err := record.Put(tx, c.key, c.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		var got []byte
		if err := view(st, func(r store.Reader) (err error) { got, err = r.Get(c.key); return err }); err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s stored as %s, want %s", c.key, got, c.want)
		}
	}
}

func TestGet(t *testing.T) {
	st := memstore.New()
	raw(t, st, map[string]string{
		"t/ok":      `{"id":"a","n":7,"when":"2024-05-06T07:08:09.00000001Z","blob":"AQI="}`,
		"t/legacy":  `{"id":"b","unknownField":true}`, // fields of other versions are ignored
		"t/null":    `null`,
		"t/empty":   ``,
		"t/trunc":   `{"id":"a"`,
		"t/garbage": "\xff\xfe",
		"t/type":    `{"id":1}`,
		"t/array":   `[1,2]`,
		"t/deep":    strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
	})
	cases := []struct {
		key     string
		want    thing
		wantErr error // nil: success
	}{
		{key: "t/ok", want: thing{ID: "a", N: 7, When: when, Blob: []byte{1, 2}}},
		{key: "t/legacy", want: thing{ID: "b"}},
		{key: "t/null", want: thing{}},
		{key: "t/missing", wantErr: store.ErrNotFound},
		{key: "", wantErr: store.ErrNotFound},
		{key: "t/\x00", wantErr: store.ErrNotFound},
		{key: "t/\xff", wantErr: store.ErrNotFound},
		{key: strings.Repeat("k", store.MaxKeyLen+1), wantErr: store.ErrNotFound},
		{key: "t/empty", wantErr: record.ErrCorrupt},
		{key: "t/trunc", wantErr: record.ErrCorrupt},
		{key: "t/garbage", wantErr: record.ErrCorrupt},
		{key: "t/type", wantErr: record.ErrCorrupt},
		{key: "t/array", wantErr: record.ErrCorrupt},
		{key: "t/deep", wantErr: record.ErrCorrupt},
	}
	for _, c := range cases {
		name := c.key
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			var got thing
			err := view(st, func(r store.Reader) (err error) { got, err = record.Get[thing](r, c.key); return err })
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("Get = %v", err)
				}
				if !got.When.Equal(c.want.When) || got.ID != c.want.ID || got.N != c.want.N || !slices.Equal(got.Blob, c.want.Blob) {
					t.Fatalf("Get = %+v, want %+v", got, c.want)
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Get = %v, want %v", err, c.wantErr)
			}
			if got.ID != "" {
				t.Errorf("Get returned %+v with its error, want the zero record", got)
			}
			if c.wantErr == record.ErrCorrupt {
				if errors.Is(err, store.ErrNotFound) {
					t.Errorf("corrupt value reads as not found: %v", err)
				}
				var syn *json.SyntaxError
				var typ *json.UnmarshalTypeError
				if !errors.As(err, &syn) && !errors.As(err, &typ) && !strings.Contains(err.Error(), "exceeded max depth") {
					t.Errorf("error %v does not wrap the decoder's error", err)
				}
				if !strings.Contains(err.Error(), c.key) {
					t.Errorf("error %q does not name key %q", err, c.key)
				}
			}
		})
	}
}

// TestInvalidKeyIsNotFoundButStillSays checks the not-found rule keeps the
// store's reason for callers that care.
func TestInvalidKeyIsNotFoundButStillSays(t *testing.T) {
	st := memstore.New()
	err := view(st, func(r store.Reader) error { _, err := record.Get[thing](r, "a\x00b"); return err })
	if !errors.Is(err, store.ErrNotFound) || !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("Get(invalid key) = %v, want both ErrNotFound and ErrInvalidKey", err)
	}
}

func TestExists(t *testing.T) {
	st := memstore.New()
	raw(t, st, map[string]string{"idx/a": `"id-a"`, "idx/corrupt": "\xff"})
	for key, want := range map[string]bool{
		"idx/a":       true,
		"idx/corrupt": true, // not decoded
		"idx/b":       false,
		"":            false,
		"idx/\xff":    false,
	} {
		var got bool
		if err := view(st, func(r store.Reader) (err error) { got, err = record.Exists(r, key); return err }); err != nil {
			t.Errorf("Exists(%q) = %v", key, err)
		}
		if got != want {
			t.Errorf("Exists(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestPutRefuses(t *testing.T) {
	st := memstore.New()
	cases := []struct {
		name    string
		key     string
		v       any
		wantErr error // nil: any error naming the key
	}{
		{"invalid key", "a\x00", thing{}, store.ErrInvalidKey},
		{"empty key", "", thing{}, store.ErrInvalidKey},
		{"unencodable", "t/inf", math.Inf(1), nil},
		{"channel", "t/chan", make(chan int), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := st.Update(context.Background(), func(tx store.Tx) error { return record.Put(tx, c.key, c.v) })
			if err == nil {
				t.Fatal("Put succeeded")
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("Put = %v, want %v", err, c.wantErr)
			}
			if errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Put = %v: a refused write is not a missing record", err)
			}
			if c.wantErr == nil && !strings.Contains(err.Error(), c.key) {
				t.Errorf("Put = %q, want the key %q named", err, c.key)
			}
		})
	}
	var n int
	_ = view(st, func(r store.Reader) error { e, err := r.List("", "", 0); n = len(e); return err })
	if n != 0 {
		t.Fatalf("refused Puts stored %d values", n)
	}
}

func TestList(t *testing.T) {
	st := memstore.New()
	raw(t, st, map[string]string{
		"t/b":   `{"id":"b"}`,
		"t/a":   `{"id":"a"}`,
		"t/a/x": `{"id":"ax"}`,
		"t0":    `{"id":"not under t/"}`,
		"u/bad": `{`,
	})
	cases := []struct {
		prefix  string
		want    []string
		wantErr error
	}{
		{prefix: "t/", want: []string{"a", "ax", "b"}},
		{prefix: "t/a", want: []string{"a", "ax"}},
		{prefix: "none/", want: []string{}},
		{prefix: "t/\x00", want: []string{}},
		{prefix: "\xff", want: []string{}},
		{prefix: "u/", wantErr: record.ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.prefix, func(t *testing.T) {
			var got []thing
			err := view(st, func(r store.Reader) (err error) { got, err = record.List[thing](r, c.prefix); return err })
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), "u/bad") {
					t.Fatalf("List = %v, want %v naming u/bad", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, g := range got {
				ids = append(ids, g.ID)
			}
			if !slices.Equal(ids, c.want) {
				t.Fatalf("List(%q) = %q, want %q", c.prefix, ids, c.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	st := memstore.New()
	raw(t, st, map[string]string{"idx/v1/k2": `""`, "idx/v1/k1": "not json", "idx/v2/k3": `""`})
	for prefix, want := range map[string][]string{
		"idx/v1/":  {"k1", "k2"},
		"idx/":     {"v1/k1", "v1/k2", "v2/k3"},
		"idx/v3/":  {},
		"idx/\x00": {},
	} {
		var got []string
		if err := view(st, func(r store.Reader) (err error) { got, err = record.Names(r, prefix); return err }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Names(%q) = %q, want %q", prefix, got, want)
		}
	}
}

// TestStoreErrorsPassThrough checks that a failure of the store is neither
// hidden as "not found" nor reworded: callers branch on it (a conflict is
// retried, the record cache's miss goes to the store).
func TestStoreErrorsPassThrough(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, c := range []struct {
		op   faulty.Op
		read func(store.Reader) error
	}{
		{faulty.Get, func(r store.Reader) error { _, err := record.Get[thing](r, "t/a"); return err }},
		{faulty.Get, func(r store.Reader) error { _, err := record.Exists(r, "t/a"); return err }},
		{faulty.List, func(r store.Reader) error { _, err := record.List[thing](r, "t/"); return err }},
		{faulty.List, func(r store.Reader) error { _, err := record.Names(r, "t/"); return err }},
	} {
		st := faulty.New(memstore.New())
		raw(t, st, map[string]string{"t/a": `{"id":"a"}`})
		st.FailOn(c.op, 1, boom)
		err := view(st, c.read)
		if !errors.Is(err, boom) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%v fault: read = %v, want %v and not ErrNotFound", c.op, err, boom)
		}
	}
	st := faulty.New(memstore.New())
	st.FailOn(faulty.Put, 1, store.ErrConflict)
	err := st.Update(context.Background(), func(tx store.Tx) error { return record.Put(tx, "t/a", thing{}) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("Put = %v, want ErrConflict", err)
	}
}
