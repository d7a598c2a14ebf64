package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The wire layer has two more boundaries:
//
//   - every service's wire package (internal/ociapi/<service>) stands on
//     its own: it may import internal/ociapi, never another service's
//     package, so what they share lives in internal/ociapi;
//   - the authorization targets of vaults, keys, secrets and identity
//     records are what the domain types say they are (kms.Vault.Resource,
//     secrets.Secret.Resource, identity.User.Vars, ...), so the server's
//     wiring and the wire packages build no authz.Resource of their own.

const ociapiRoot = module + "internal/ociapi"

// wireService returns the service a package under internal/ociapi belongs
// to (its first path element below internal/ociapi), or "" for
// internal/ociapi itself and for packages outside it.
func wireService(path string) string {
	rest, ok := strings.CutPrefix(path, ociapiRoot+"/")
	if !ok {
		return ""
	}
	svc, _, _ := strings.Cut(rest, "/")
	return svc
}

// siblingImports returns the imports of package path that belong to
// another service's wire package.
func siblingImports(path string, imports []string) []string {
	svc := wireService(path)
	if svc == "" {
		return nil
	}
	var bad []string
	for _, imp := range imports {
		if other := wireService(imp); other != "" && other != svc {
			bad = append(bad, imp)
		}
	}
	return bad
}

// TestWirePackagesIndependent fails when a service's wire package imports
// another's. Test-support packages (keystest, vaultstest) may, as they
// start whole servers.
func TestWirePackagesIndependent(t *testing.T) {
	checked := 0
	for _, p := range listPackages(t) {
		if wireService(p.ImportPath) == "" || isTestSupport(p.ImportPath) {
			continue
		}
		checked++
		for _, imp := range siblingImports(p.ImportPath, p.Imports) {
			t.Errorf("wire package %s imports %s: move what they share to internal/ociapi", p.ImportPath, imp)
		}
	}
	if checked < 5 {
		t.Fatalf("only %d wire service packages found; the guard is not looking at the right tree", checked)
	}
}

// resourceLiteralRoots are where authz.Resource literals are refused
// (non-test files of non-test-support packages below them).
var resourceLiteralRoots = []string{"internal/server", "internal/ociapi"}

// resourceLiteralExceptions are the functions (file, then function; a
// method by its name alone) that build an authz.Resource from request
// input rather than from a domain record, with how many literals each may
// have. A listed function that no longer has them fails the test too, so
// the list stays true.
var resourceLiteralExceptions = map[string]int{
	// The explain API's hypothetical targets: the secret an explained
	// CreateSecret would create, named by the request (there is no record
	// yet), and the key assumed to sit with that secret when the keys
	// domain is not served.
	"internal/ociapi/identityapi/explain.go:targets": 2,
}

// resourceLiterals returns, for one parsed file, the authz.Resource
// composite literals it holds, by enclosing function ("" outside any),
// with their positions.
func resourceLiterals(fset *token.FileSet, f *ast.File) map[string][]token.Position {
	authzName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == module+"internal/authz" {
			authzName = "authz"
			if imp.Name != nil {
				authzName = imp.Name.Name
			}
		}
	}
	if authzName == "" {
		return nil
	}
	isResource := func(e ast.Expr) bool {
		if st, ok := e.(*ast.StarExpr); ok {
			e = st.X
		}
		sel, ok := e.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Resource" {
			return false
		}
		x, ok := sel.X.(*ast.Ident)
		return ok && x.Name == authzName
	}
	found := map[string][]token.Position{}
	for _, decl := range f.Decls {
		name := ""
		if fn, ok := decl.(*ast.FuncDecl); ok {
			name = fn.Name.Name
		}
		ast.Inspect(decl, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if isResource(lit.Type) {
				found[name] = append(found[name], fset.Position(lit.Pos()))
				return true
			}
			// Elements of a []authz.Resource or map[...]authz.Resource
			// literal may leave their type out.
			var elt ast.Expr
			switch t := lit.Type.(type) {
			case *ast.ArrayType:
				elt = t.Elt
			case *ast.MapType:
				elt = t.Value
			}
			if elt == nil || !isResource(elt) {
				return true
			}
			for _, e := range lit.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					e = kv.Value
				}
				if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
					e = u.X
				}
				if c, ok := e.(*ast.CompositeLit); ok && c.Type == nil {
					found[name] = append(found[name], fset.Position(c.Pos()))
				}
			}
			return true
		})
	}
	return found
}

// checkResourceLiterals holds the found literals of one file (path
// relative to the module root) against the exceptions, marking the ones
// it used in seen.
func checkResourceLiterals(rel string, found map[string][]token.Position, seen map[string]bool) []string {
	var bad []string
	for fn, pos := range found {
		key := rel + ":" + fn
		if allowed, ok := resourceLiteralExceptions[key]; ok {
			seen[key] = true
			if len(pos) == allowed {
				continue
			}
			bad = append(bad, fmt.Sprintf("%s: %s has %d authz.Resource literals, its exception allows %d", pos[0], fn, len(pos), allowed))
			continue
		}
		for _, p := range pos {
			bad = append(bad, fmt.Sprintf("%s: authz.Resource literal in %s; use the domain type's Resource() (or list a request-built target in resourceLiteralExceptions)", p, fn))
		}
	}
	return bad
}

// TestNoResourceLiteralsOutsideDomain fails when the server's wiring or a
// wire package builds an authorization target by hand instead of asking
// the domain type.
func TestNoResourceLiteralsOutsideDomain(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	seen := map[string]bool{}
	files := 0
	for _, r := range resourceLiteralRoots {
		err := filepath.WalkDir(filepath.Join(root, r), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if name := d.Name(); name == "testdata" || isTestSupport(name) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files++
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			for _, bad := range checkResourceLiterals(filepath.ToSlash(rel), resourceLiterals(fset, f), seen) {
				t.Error(bad)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 20 {
		t.Fatalf("only %d files read; the guard is not looking at the right tree", files)
	}
	for key := range resourceLiteralExceptions {
		if !seen[key] {
			t.Errorf("exception %s matches no authz.Resource literal any more: remove it", key)
		}
	}
}

// TestWireGuardsDetect plants violations of both guards and checks that
// they fire, and that what is allowed passes.
func TestWireGuardsDetect(t *testing.T) {
	svc := func(s string) string { return ociapiRoot + "/" + s }
	for _, tc := range []struct {
		path    string
		imports []string
		bad     int
	}{
		{svc("secretsapi"), []string{svc("vaultsapi"), ociapiRoot}, 1},
		{svc("kmsmgmt"), []string{svc("kmsvault"), svc("kmscrypto"), "net/http"}, 2},
		{svc("kmsmgmt"), []string{ociapiRoot, svc("kmsmgmt/keystest")}, 0},
		{ociapiRoot, []string{svc("vaultsapi")}, 0},
		{module + "internal/server", []string{svc("vaultsapi"), svc("kmsvault")}, 0},
	} {
		if got := siblingImports(tc.path, tc.imports); len(got) != tc.bad {
			t.Errorf("siblingImports(%s, %v) = %v, want %d", tc.path, tc.imports, got, tc.bad)
		}
	}

	const src = `package p

import (
	az "github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/kms"
)

func vaultResource(v kms.Vault) *az.Resource {
	return &az.Resource{ID: v.ID, VaultID: v.ID}
}

func both(v kms.Vault) []*az.Resource {
	return []*az.Resource{{ID: v.ID}, v.Resource()}
}

func fine(v kms.Vault) az.Request {
	return az.Request{Vault: v.Resource()}
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "planted.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	found := resourceLiterals(fset, f)
	if len(found["vaultResource"]) != 1 || len(found["both"]) != 1 || len(found["fine"]) != 0 {
		t.Fatalf("resourceLiterals = %v", found)
	}
	if bad := checkResourceLiterals("internal/server/planted.go", found, map[string]bool{}); len(bad) != 2 {
		t.Fatalf("planted literals reported as %q, want 2 violations", bad)
	}
	// An exception allows exactly its count.
	resourceLiteralExceptions["internal/server/planted.go:vaultResource"] = 1
	defer delete(resourceLiteralExceptions, "internal/server/planted.go:vaultResource")
	seen := map[string]bool{}
	if bad := checkResourceLiterals("internal/server/planted.go", found, seen); len(bad) != 1 || !seen["internal/server/planted.go:vaultResource"] {
		t.Fatalf("with an exception: %q (seen %v), want only both's literal", bad, seen)
	}
}
