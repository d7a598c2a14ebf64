package examples_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleBlock is a README code block marked as an example: the marker names
// the file, relative to the repository root, whose whole text the block is.
var exampleBlock = regexp.MustCompile("(?s)<!-- example: ([^ ]+) -->\n```[a-z]*\n(.*?)```\n")

// TestREADMEQuotesExamples fails when a README example block differs from
// the file it names, or when an example file is not quoted, so the README's
// code cannot drift from the code the tests run.
func TestREADMEQuotesExamples(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	quoted := map[string]bool{}
	for _, m := range exampleBlock.FindAllStringSubmatch(string(readme), -1) {
		path, block := m[1], m[2]
		quoted[path] = true
		file, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("README quotes %s: %v", path, err)
			continue
		}
		if string(file) != block {
			t.Errorf("README's block for %s differs from the file; copy the file into the README", path)
		}
	}
	if n := strings.Count(string(readme), "<!-- example:"); n != len(exampleBlock.FindAllString(string(readme), -1)) {
		t.Errorf("README has %d example markers but only %d are followed by a code block", n, len(quoted))
	}
	files, err := filepath.Glob("*_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "node/secret.js")
	for _, f := range files {
		if path := "examples/" + f; !quoted[path] {
			t.Errorf("%s is not quoted in the README (<!-- example: %s --> before its code block)", path, path)
		}
	}
}
