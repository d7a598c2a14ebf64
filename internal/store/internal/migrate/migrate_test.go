package migrate

import (
	"errors"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	ok := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("B")},
		"m/0001_a.sql": {Data: []byte("A")},
		"m/README":     {Data: []byte("ignored")},
	}
	ms, err := Load(ok, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[0].SQL != "A" || ms[1].Name != "0002_b.sql" {
		t.Fatalf("Load = %+v", ms)
	}

	bad := map[string]fstest.MapFS{
		"gap":       {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"duplicate": {"m/0001_a.sql": {}, "m/001_b.sql": {}},
		"bad name":  {"m/first.sql": {}},
		"zero":      {"m/0000_a.sql": {}},
		"empty":     {"m/x.txt": {}},
	}
	for name, fsys := range bad {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("%s: Load succeeded, want error", name)
		}
	}
}

func TestPending(t *testing.T) {
	all := []Migration{{Version: 1}, {Version: 2}, {Version: 3}}
	for cur, want := range map[int]int{0: 3, 1: 2, 3: 0} {
		p, err := Pending(all, cur)
		if err != nil || len(p) != want {
			t.Errorf("Pending(%d) = %d, %v; want %d", cur, len(p), err, want)
		}
		if len(p) > 0 && p[0].Version != cur+1 {
			t.Errorf("Pending(%d) starts at %d", cur, p[0].Version)
		}
	}
	if _, err := Pending(all, 4); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Pending(4) = %v, want ErrSchemaTooNew", err)
	}
}
