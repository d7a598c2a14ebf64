package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The oci CLI's own settings file, ~/.oci/oci_cli_rc (or $OCI_CLI_RC_FILE,
// or --cli-rc-file): the default profile, canned queries and default values
// of options per profile, so that `-c` need not be typed on every command.
const (
	envRCFile        = "OCI_CLI_RC_FILE"
	rcSettings       = "OCI_CLI_SETTINGS"
	rcCannedQueries  = "OCI_CLI_CANNED_QUERIES"
	rcDefaultProfile = "default_profile"
	cannedPrefix     = "query://"
)

// rcFile is a parsed oci_cli_rc: sections of key = value.
type rcFile map[string]map[string]string

// maxRCFile bounds the settings file read.
const maxRCFile = 1 << 20

// parseRC reads the INI form the oci CLI writes (Python configparser):
// [SECTION] headers, key = value or key: value lines, # and ; comments.
// A key before any section, or a line that is neither, is an error with
// its line number; values are not echoed, as they may be OCIDs of
// another tenancy the user would rather not see in a log.
func parseRC(data string) (rcFile, error) {
	rc := rcFile{}
	var section map[string]string
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxRCFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			name, ok := strings.CutSuffix(line[1:], "]")
			name = strings.TrimSpace(name)
			if !ok || name == "" {
				return nil, fmt.Errorf("line %d: malformed section header", n)
			}
			if rc[name] == nil {
				rc[name] = map[string]string{}
			}
			section = rc[name]
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("line %d: want key = value", n)
		}
		if section == nil {
			return nil, fmt.Errorf("line %d: key outside a [section]", n)
		}
		section[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return rc, nil
}

// loadRC reads the settings file. The default file may be absent; one
// named by --cli-rc-file or $OCI_CLI_RC_FILE must exist.
func (g *globals) loadRC() error {
	path, named := g.rcFile, true
	if path == "" {
		path = g.getenv(envRCFile)
	}
	if path == "" {
		named = false
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		path = filepath.Join(home, ".oci", "oci_cli_rc")
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !named {
		return nil
	}
	if err != nil {
		return usageErrorf("cli rc file: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRCFile+1))
	if err == nil && len(data) > maxRCFile {
		err = fmt.Errorf("larger than %d bytes", maxRCFile)
	}
	if err != nil {
		return usageErrorf("cli rc file %s: %v", path, err)
	}
	rc, err := parseRC(string(data))
	if err != nil {
		return usageErrorf("cli rc file %s: %v", path, err)
	}
	g.rc = rc
	return nil
}

// rcProfile is [OCI_CLI_SETTINGS] default_profile.
func (g *globals) rcProfile() string {
	return g.rc[rcSettings][rcDefaultProfile]
}

// cannedQuery resolves --query query://NAME from
// [OCI_CLI_CANNED_QUERIES].
func (g *globals) cannedQuery() error {
	name, ok := strings.CutPrefix(g.query, cannedPrefix)
	if !ok {
		return nil
	}
	q, ok := g.rc[rcCannedQueries][name]
	if !ok {
		return usageErrorf("--query: no canned query %q in the [%s] section of the cli rc file", name, rcCannedQueries)
	}
	g.query = q
	return nil
}

// notDefaulted are options a profile section cannot give a default for:
// they choose the profile (and so the section) itself.
var notDefaulted = map[string]bool{
	"profile": true, "config-file": true, "cli-rc-file": true, "help": true,
	"from-json": true, "generate-full-command-json-input": true,
}

// applyRCDefaults sets every option the command line left unset that the
// profile's section gives a value for: "kms.management.vault.list.compartment-id"
// for that command alone, else "compartment-id" for every command that
// takes it, as the oci CLI reads them.
func (g *globals) applyRCDefaults(cmd *cobra.Command) error {
	section := g.rc[g.profileName()]
	if len(section) == 0 {
		return nil
	}
	prefix := strings.ReplaceAll(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "), " ", ".") + "."
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || notDefaulted[f.Name] {
			return
		}
		v, ok := section[prefix+f.Name]
		if !ok {
			v, ok = section[f.Name]
		}
		if !ok {
			return
		}
		if serr := cmd.Flags().Set(f.Name, v); serr != nil {
			err = usageErrorf("cli rc file, profile %s: default for --%s: %v", g.profileName(), f.Name, serr)
		}
	})
	return err
}
