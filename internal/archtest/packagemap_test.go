package archtest

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPackageMapNamesEveryPackage keeps the package table of
// docs/architecture.md true to the tree: every package of the module is
// named in it, and every path it names exists.
func TestPackageMapNamesEveryPackage(t *testing.T) {
	b, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	named := packageMap(t, string(b))
	have := map[string]bool{}
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, module)
		have[rel] = true
		if !named[rel] {
			t.Errorf("package %s is not in the package table of docs/architecture.md", rel)
		}
	}
	for p := range named {
		if !have[p] {
			t.Errorf("docs/architecture.md names package %s, which does not exist", p)
		}
	}
}

var (
	codeSpan = regexp.MustCompile("`([^`]+)`")
	braces   = regexp.MustCompile(`^([\w./]*)\{([^}]*)\}$`)
)

// packageMap returns the paths in the first column of the "## Packages"
// table; "dir/{a,b}" names dir/a and dir/b.
func packageMap(t *testing.T, doc string) map[string]bool {
	t.Helper()
	_, section, ok := strings.Cut(doc, "\n## Packages\n")
	if !ok {
		t.Fatal(`docs/architecture.md has no "## Packages" section`)
	}
	named := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "-") {
			continue
		}
		for _, m := range codeSpan.FindAllStringSubmatch(cells[1], -1) {
			if b := braces.FindStringSubmatch(m[1]); b != nil {
				for _, leaf := range strings.Split(b[2], ",") {
					named[b[1]+strings.TrimSpace(leaf)] = true
				}
				continue
			}
			named[m[1]] = true
		}
	}
	if len(named) == 0 {
		t.Fatal("the package table of docs/architecture.md names no package")
	}
	return named
}
