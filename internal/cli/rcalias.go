package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// The oci CLI's aliases from its settings file, applied to the arguments
// before they are parsed (so before --cli-rc-file is, hence its own scan):
//
//	[OCI_CLI_COMMAND_ALIASES]
//	ls = list                      # "ls" for "list" in any command
//	rm = kms.management.key.delete # "rm" for "delete" under kms management key
//
//	[OCI_CLI_PARAM_ALIASES]
//	--cid = --compartment-id
const (
	rcCommandAliases = "OCI_CLI_COMMAND_ALIASES"
	rcParamAliases   = "OCI_CLI_PARAM_ALIASES"
)

// expandAliases returns args with the settings file's aliases replaced by
// what they stand for. A file that cannot be read or parsed changes
// nothing here: the command's own loading of it reports the error.
func expandAliases(root *cobra.Command, args []string, getenv func(string) string) []string {
	rc := aliasRC(args, getenv)
	commands, params := rc[rcCommandAliases], rc[rcParamAliases]
	if len(commands) == 0 && len(params) == 0 {
		return args
	}
	out := make([]string, 0, len(args))
	var path []string // the command words so far
	cmd := root       // the command they name, while they name one
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i:]...)
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a, "=")
			if full, ok := params[name]; ok && strings.HasPrefix(full, "--") {
				name, a = full, full
				if hasValue {
					a += "=" + value
				}
			}
			if !hasValue && i+1 < len(args) && cmd != nil && takesValue(cmd, name[2:], "") {
				out = append(out, a)
				i++
				a = args[i] // the option's value, never an alias
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if len(a) == 2 && i+1 < len(args) && cmd != nil && takesValue(cmd, "", a[1:]) {
				out = append(out, a)
				i++
				a = args[i]
			}
		case cmd != nil:
			a = commandAlias(commands, path, a)
			path = append(path, a)
			cmd = subcommand(cmd, a)
		}
		out = append(out, a)
	}
	return out
}

// subcommand is cmd's subcommand called name, or nil when there is none
// (the words that follow are arguments, not commands).
func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

// commandAlias is what word stands for after the command words in path:
// an alias whose target has no dots applies everywhere; one whose target
// is a dotted command applies under that command's parent only.
func commandAlias(aliases map[string]string, path []string, word string) string {
	target, ok := aliases[word]
	if !ok {
		return word
	}
	parts := strings.Split(target, ".")
	if len(parts) == 1 {
		return target
	}
	if strings.Join(parts[:len(parts)-1], " ") != strings.Join(path, " ") {
		return word
	}
	return parts[len(parts)-1]
}

// aliasRC reads the settings file the command will read: --cli-rc-file,
// else $OCI_CLI_RC_FILE, else ~/.oci/oci_cli_rc.
func aliasRC(args []string, getenv func(string) string) rcFile {
	path := ""
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--cli-rc-file="); ok {
			path = v
		} else if a == "--cli-rc-file" && i+1 < len(args) {
			path = args[i+1]
		}
	}
	if path == "" {
		path = getenv(envRCFile)
	}
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		path = filepath.Join(home, ".oci", "oci_cli_rc")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRCFile))
	if err != nil {
		return nil
	}
	rc, err := parseRC(string(data))
	if err != nil {
		return nil
	}
	return rc
}
