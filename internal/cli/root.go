// Package cli builds the coffer command tree: the server, the oci-style
// client commands built on the official OCI Go SDK, and the agent.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// exitError carries a process exit code through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// NewRoot returns the root command.
func NewRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "coffer",
		Short:         "A self-hosted vault that speaks the OCI Vault, Key Management, Secrets and IAM APIs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	bindGlobals(root)
	usage := localUsage(root)
	for _, c := range []*cobra.Command{newServerCommand(), newAgentCommand(), newRunCommand(), completionCommand(), setVersion(root), healthcheckCommand()} {
		c.SetUsageTemplate(usage)
		root.AddCommand(c)
	}
	root.AddCommand(kmsCommand(), vaultCommand(), secretsCommand())
	root.AddCommand(withIAMResources(iamCommand()))
	root.AddCommand(operatorCommand())
	root.AddCommand(clientGroup(usageCommand()))
	addResourcePrincipalToken(root)
	addInstancePrincipal(root)
	usageArgs(root)
	return root
}

// usageArgs makes a wrong number or kind of positional arguments a usage
// error (exit 2) on every command, as a bad option is; cobra's own
// validators return plain errors.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			var ee exitError
			if err == nil || errors.As(err, &ee) {
				return err
			}
			return exitError{reportUsage(cmd.ErrOrStderr(), err.Error())}
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// unknownCommand reports name, given where a subcommand of group was
// expected, with the nearest subcommands' names.
func unknownCommand(group *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, group.CommandPath())
	if group.SuggestionsMinimumDistance <= 0 {
		group.SuggestionsMinimumDistance = 2
	}
	if s := group.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(quoteAll(s), " or ") + "?"
	}
	w := group.ErrOrStderr()
	code := reportUsage(w, msg)
	fmt.Fprintf(w, "Run '%s --help' for the commands.\n", group.CommandPath())
	return exitError{code}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

// findUnknownCommand catches an unknown subcommand before cobra parses
// the options: cobra would parse them against the parent group, so that
// `coffer kms managment --x` reports "unknown flag" and `coffer kms
// managment --help` prints the parent's help as if all were well.
func findUnknownCommand(root *cobra.Command, args []string) error {
	if len(args) > 0 && strings.HasPrefix(args[0], "__complete") {
		return nil // the shell completion's own hidden commands
	}
	root.InitDefaultHelpCmd()
	if len(args) > 1 && args[0] == "help" {
		// cobra's help command answers an unknown topic with exit 0.
		return findUnknownCommand(root, args[1:])
	}
	cmd, rest, err := root.Find(args)
	if err != nil {
		cmd, rest = root, args
	}
	if !isGroup(cmd) || !cmd.HasSubCommands() {
		return nil
	}
	name := firstPositional(cmd, rest)
	if name == "" {
		return nil
	}
	return unknownCommand(cmd, name)
}

// isGroup reports whether cmd only holds subcommands (see group), or is
// the root.
func isGroup(cmd *cobra.Command) bool {
	return !cmd.HasParent() || cmd.Annotations[groupAnnotation] != ""
}

// firstPositional is the first argument that is neither an option nor an
// option's value; "" when there is none before "--".
func firstPositional(cmd *cobra.Command, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			if !hasValue && takesValue(cmd, name, "") {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if len(a) == 2 && takesValue(cmd, "", a[1:]) {
				i++
			}
		default:
			return a
		}
	}
	return ""
}

// takesValue reports whether the option (by name or shorthand) known to
// cmd takes a separate value.
func takesValue(cmd *cobra.Command, name, short string) bool {
	for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags(), cmd.PersistentFlags()} {
		var f *pflag.Flag
		if name != "" {
			f = fs.Lookup(name)
		} else {
			f = fs.ShorthandLookup(short)
		}
		if f != nil {
			return f.NoOptDefVal == ""
		}
	}
	return false
}

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot(stdin, stdout, stderr)
	args = expandAliases(root, args, os.Getenv)
	root.SetArgs(args)
	err := findUnknownCommand(root, args)
	if err == nil {
		err = root.Execute()
	}
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// A usage error a command returned as is (coffer server's flags) is
	// reported and exits as the others do.
	var ue *usageError
	if errors.As(err, &ue) {
		return reportUsage(stderr, ue.msg)
	}
	fmt.Fprintln(stderr, "Error:", err)
	return exitService
}
