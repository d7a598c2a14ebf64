package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/buildinfo"
)

// setVersion gives the root `--version` (one line) and adds `coffer
// version` (every field, or JSON for scripts and bug reports).
func setVersion(root *cobra.Command) *cobra.Command {
	info := buildinfo.Get()
	root.Version = info.String()
	root.SetVersionTemplate("{{.Version}}\n")
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, source revision and Go version of this binary",
		Example: `  coffer version
  coffer version --json
  coffer --version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if asJSON {
				b, err := encodeJSON(map[string]any{
					"version": info.Version, "revision": info.Revision, "time": info.Time,
					"modified": info.Modified, "go-version": info.GoVersion,
				}, "  ")
				if err != nil {
					return err
				}
				_, err = out.Write(b)
				return err
			}
			fmt.Fprintf(out, "coffer %s\n", info.Version)
			fmt.Fprintf(out, "revision:   %s\n", orUnknown(info.Revision))
			fmt.Fprintf(out, "time:       %s\n", orUnknown(info.Time))
			fmt.Fprintf(out, "modified:   %t\n", info.Modified)
			fmt.Fprintf(out, "go version: %s\n", info.GoVersion)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the fields as a JSON object")
	return cmd
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
