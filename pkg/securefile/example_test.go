//go:build unix

package securefile_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/coffer-vault/coffer/pkg/securefile"
)

// Render a secret to a file, then render it again: the second write finds
// the same content, mode and owner and leaves the file alone.
func ExampleWrite() {
	dir, err := os.MkdirTemp("", "securefile-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "db-password")

	changed, err := securefile.Write(path, []byte("hunter2"), securefile.Options{Mode: 0o400})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("first write changed:", changed)

	changed, err = securefile.Write(path, []byte("hunter2"), securefile.Options{Mode: 0o400})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("second write changed:", changed)

	fi, _ := os.Stat(path)
	fmt.Println(fi.Mode())
	// Output:
	// first write changed: true
	// second write changed: false
	// -r--------
}
