// Command coffer is the Coffer server, its command-line client and its
// agent, in one binary.
package main

import (
	"os"

	"github.com/coffer-vault/coffer/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
