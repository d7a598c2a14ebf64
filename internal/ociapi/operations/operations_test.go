package operations

import (
	"strings"
	"testing"
)

func names(ops []Operation) string {
	var s []string
	for _, o := range ops {
		s = append(s, o.Method+" "+o.Name)
	}
	return strings.Join(s, ", ")
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		path string
		want string // the operations at the path, "" for none
	}{
		{"/20180608/vaults/ocid1.vault.oc1..a/actions/backup", "POST BackupVault"},
		// A literal segment wins over a parameter, as in net/http.
		{"/20180608/vaults/actions/restoreFromFile", "POST RestoreVaultFromFile"},
		{"/20180608/vaults/ocid1.vault.oc1..a", "GET GetVault, PUT UpdateVault"},
		{"/20180608/keys/k/keyVersions/v/actions/cancelDeletion", "POST CancelKeyVersionDeletion"},
		{"/20160918/compartments/c/actions/moveCompartment", "POST MoveCompartment"},
		{"/20160918/tagNamespaces", "GET ListTagNamespaces, POST CreateTagNamespace"},
		{"/20160918/regions", "GET ListRegions"},
		{"/20190301/secretbundles/s", "GET GetSecretBundle"},
		// Escapes are decoded before literals are compared; %2F stays in
		// its segment.
		{"/20180608/vaults/%61ctions/restoreFromFile", "POST RestoreVaultFromFile"},
		{"/20180608/vaults/a%2Fb", "GET GetVault, PUT UpdateVault"},
		{"/20180608/vaults/a%2Fb/actions/backup", "POST BackupVault"},
		// Not operations.
		{"", ""},
		{"/", ""},
		{"20180608/vaults", ""},
		{"/20180608/nothing", ""},
		{"/20180608/vaults/", ""},
		{"/20180608/vaults//actions/backup", ""},
		{"/20180608/vaults/v/actions/backup/more", ""},
		{"/20180608/vaults/%zz/actions/backup", "POST BackupVault"},
		{"/20180608/%zz", ""},
		{"/20170101/vaults", ""},
		{"/coffer/v1/sys/seal-status", ""},
	} {
		if got := names(Match(tc.path)); got != tc.want {
			t.Errorf("Match(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestTableUnambiguous: at any path, one endpoint defines each method at
// most once, so a request names one operation.
func TestTableUnambiguous(t *testing.T) {
	seen := map[string]string{}
	for _, op := range All() {
		shape := op.Endpoint.String() + " " + op.Method + " " + wildcards(op.Path)
		if prev, dup := seen[shape]; dup {
			t.Errorf("%s and %s share %s", prev, op.Name, shape)
		}
		seen[shape] = op.Name
		if got := Match(op.Path); !contains(got, op) {
			t.Errorf("Match(%q) misses %s: %s", op.Path, op.Name, names(got))
		}
	}
	if len(seen) < 200 {
		t.Fatalf("table has %d operations; the four families have more", len(seen))
	}
}

// wildcards writes a template with its parameters unnamed.
func wildcards(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

func contains(ops []Operation, op Operation) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func TestEndpoints(t *testing.T) {
	for _, op := range All() {
		want := Main
		switch op.Client {
		case "KmsManagement":
			want = Management
		case "KmsCrypto":
			want = Crypto
		}
		if op.Endpoint != want {
			t.Errorf("%s (%s): endpoint %s, want %s", op.Name, op.Client, op.Endpoint, want)
		}
		if !strings.HasPrefix(op.Path, "/"+op.Version+"/") {
			t.Errorf("%s: path %s does not start with its version %s", op.Name, op.Path, op.Version)
		}
	}
	for _, e := range []Endpoint{Main, Management, Crypto} {
		if got, ok := ParseEndpoint(e.String()); !ok || got != e {
			t.Errorf("ParseEndpoint(%q) = %v, %v", e.String(), got, ok)
		}
	}
	if _, ok := ParseEndpoint("elsewhere"); ok {
		t.Error("ParseEndpoint accepted an unknown endpoint")
	}
}

// FuzzMatch: any path gets an answer without panicking, and every
// operation returned has a template that matches the path segment by
// segment.
func FuzzMatch(f *testing.F) {
	for _, op := range All() {
		f.Add(strings.ReplaceAll(op.Path, "{", "x{"))
	}
	f.Add("/20180608/vaults/actions/restoreFromFile")
	f.Add("/20180608/vaults/%2F/actions/backup")
	f.Add("//")
	f.Fuzz(func(t *testing.T, path string) {
		for _, op := range Match(path) {
			segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
			tmpl := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
			if len(segs) != len(tmpl) {
				t.Fatalf("Match(%q) returned %s (%s): %d segments, want %d", path, op.Name, op.Path, len(segs), len(tmpl))
			}
			for i, s := range tmpl {
				switch {
				case strings.HasPrefix(s, "{"):
					if segs[i] == "" {
						t.Fatalf("Match(%q) returned %s: empty parameter %s", path, op.Name, s)
					}
				case unescape(segs[i]) != s:
					t.Fatalf("Match(%q) returned %s: segment %q is not %q", path, op.Name, segs[i], s)
				}
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	paths := []string{
		"/20180608/vaults/ocid1.vault.oc1.local.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/actions/backup",
		"/20160918/tagNamespaces/ocid1.tagnamespace.oc1..aaaa/tags/name",
		"/20180608/nothing/at/all",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Match(paths[i%len(paths)])
	}
}
