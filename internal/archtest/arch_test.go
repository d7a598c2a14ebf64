// Package archtest guards the layering in docs/architecture.md: domain
// packages know nothing of HTTP or SQL, the wire layer knows nothing of SQL,
// wire packages do not import each other, and authorization targets are
// built by the domain. It also keeps comments citing only documents in the
// repository and the package table naming every package.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "github.com/coffer-vault/coffer/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

const module = "github.com/coffer-vault/coffer/"

// domain packages: no HTTP (direct import) and no SQL (at any depth).
var domain = []string{"internal/kms", "internal/secrets", "internal/iam", "internal/barrier", "internal/identity", "internal/keyprotect", "internal/seal", "internal/usage"}

// wire packages: no SQL at any depth.
var wire = []string{"internal/ociapi", "internal/authn", "internal/console"}

func isSQL(path string) bool {
	return path == "database/sql" || strings.HasPrefix(path, "modernc.org/sqlite") ||
		strings.HasPrefix(path, "github.com/jackc/pgx") || strings.HasPrefix(path, "github.com/lib/pq") ||
		strings.HasPrefix(path, "github.com/mattn/go-sqlite3")
}

func under(path string, roots []string) bool {
	for _, r := range roots {
		if path == module+r || strings.HasPrefix(path, module+r+"/") {
			return true
		}
	}
	return false
}

func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	checked := 0
	for _, p := range pkgs {
		if isTestSupport(p.ImportPath) {
			continue
		}
		if under(p.ImportPath, domain) {
			checked++
			for _, imp := range p.Imports {
				if imp == "net/http" || strings.HasPrefix(imp, module+"internal/ociapi") || strings.HasPrefix(imp, module+"internal/server") {
					t.Errorf("domain package %s imports %s", p.ImportPath, imp)
				}
			}
		}
		if under(p.ImportPath, domain) || under(p.ImportPath, wire) {
			for _, dep := range p.Deps {
				if isSQL(dep) || strings.HasPrefix(dep, module+"internal/store/sqlite") || strings.HasPrefix(dep, module+"internal/store/postgres") {
					t.Errorf("%s depends on the SQL layer (%s)", p.ImportPath, dep)
				}
			}
		}
	}
	if checked < 4 {
		t.Fatalf("only %d domain packages found; the guard is not looking at the right tree", checked)
	}
}

// isTestSupport reports packages that exist only for tests (conformance
// suites, fixtures that start a real server); they may reach any layer.
func isTestSupport(path string) bool {
	return strings.HasSuffix(path[strings.LastIndexByte(path, '/')+1:], "test")
}

// TestGuardDetects makes sure the checks above would fire.
func TestGuardDetects(t *testing.T) {
	if !isSQL("modernc.org/sqlite/lib") || !isSQL("database/sql") || isSQL("net/http") {
		t.Fatal("isSQL misclassifies")
	}
	if !isTestSupport(module+"internal/ociapi/kmsmgmt/keystest") || isTestSupport(module+"internal/ociapi/kmsmgmt") {
		t.Fatal("isTestSupport misclassifies")
	}
	if !under(module+"internal/kms/x", domain) || under(module+"internal/kmsx", domain) {
		t.Fatal("under misclassifies")
	}
}
