package archtest

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Comments may cite documents only where a reader can open them: the
// design under docs/ or a source named by its path. Citations of the
// design notes the project started from, which never were in the
// repository, are refused.
var (
	// the word reference, optionally a reference file's name, then a
	// section number
	outsideReference = regexp.MustCompile(`(?i)\breference\s+(?:oci-api\.md\s+|oci-semantics\.md\s+)?(?:section\s+)?\d+(?:\.\d+)*`)
	// the original design file and the two reference files, by name
	outsideDocument = regexp.MustCompile(`DESIGN\.md|oci-api\.md|oci-semantics\.md|shared/reference`)
	docsCitation    = regexp.MustCompile(`\bdocs/([A-Za-z0-9_.-]+\.md)(?:#([a-z0-9-]+))?`)
)

// badCitations returns what is wrong with the citations in one comment's
// text, given the repository root.
func badCitations(text, root string) []string {
	text = strings.Join(strings.Fields(text), " ")
	var bad []string
	for _, m := range outsideReference.FindAllString(text, -1) {
		bad = append(bad, "cites a document outside the repository: "+m)
	}
	for _, m := range outsideDocument.FindAllString(text, -1) {
		bad = append(bad, "cites a document outside the repository: "+m)
	}
	for _, m := range docsCitation.FindAllStringSubmatch(text, -1) {
		page, anchor := m[1], m[2]
		anchors, err := headingAnchors(filepath.Join(root, "docs", page))
		if err != nil {
			bad = append(bad, "cites docs/"+page+", which does not exist")
			continue
		}
		if anchor != "" && !anchors[anchor] {
			bad = append(bad, "cites docs/"+page+"#"+anchor+", a section that does not exist")
		}
	}
	return bad
}

// headingAnchors returns the anchors GitHub makes of a Markdown file's
// headings.
func headingAnchors(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	anchors := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range title {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		anchors[b.String()] = true
	}
	return anchors, sc.Err()
}

func TestBadCitations(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, tc := range []struct {
		text string
		bad  bool
	}{
		{"the conventional create conflict of reference 2.5;", true},
		{"OCI's table (reference\noci-semantics.md 1.9) says", true},
		{"(Reference 3)", true},
		{"the layering in DESIGN" + ".md", true},
		{"see shared/" + "reference/oci-api.md", true},
		{"see docs/no-such-page.md", true},
		{"see docs/oci-behaviours.md#no-such-section", true},
		{"see docs/oci-behaviours.md#errors and docs/security.md", false},
		{"see docs/decisions.md#a-copy-within-a-second-is-429-not-401", false},
		{"a reference to the key, 2 bytes", false},
		{"SDK common/retry.go", false},
	} {
		if got := badCitations(tc.text, root); (len(got) > 0) != tc.bad {
			t.Errorf("badCitations(%q) = %q, want bad=%v", tc.text, got, tc.bad)
		}
	}
}

// TestCommentsCiteRepositoryDocs fails when a Go comment anywhere in the
// module cites a document that is not in the repository, or a docs/ page or
// section that does not exist.
func TestCommentsCiteRepositoryDocs(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, cg := range f.Comments {
			for _, bad := range badCitations(cg.Text(), root) {
				t.Errorf("%s: comment %s", fset.Position(cg.Pos()), bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
