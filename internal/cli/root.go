// Package cli builds the coffer command tree: the server, the oci-style
// client commands built on the official OCI Go SDK, and the agent.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
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
	addResourcePrincipalToken(root)
	addInstancePrincipal(root)
	return root
}

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return 1
}
