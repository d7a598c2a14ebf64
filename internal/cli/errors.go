package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/spf13/cobra"
)

// Exit codes of the client commands, as the oci CLI uses them: 0 success,
// 1 a service or configuration error, 2 a usage error (bad or missing
// option) or a --wait-for-state that timed out (the oci CLI exits 2 there
// too, after printing the last known state).
const (
	exitOK      = 0
	exitService = 1
	exitUsage   = 2
)

// usageError is a command-line mistake: exit code 2, no request sent.
// Every error, usage or not, top-level or nested, is printed with the
// same "Error: " prefix (as the oci CLI does); the exit code tells them
// apart.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// stepError names the step of a command that failed, when it is not the
// command's own operation (for example the vault lookup behind --vault-id).
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// hints tailors the advice given for a failed call to what the command
// was doing.
type hints struct {
	// notFound is printed after a 404, in place of the generic advice.
	notFound string
	// target is the `coffer iam explain` options naming what the command
	// acted on (for example "--secret ocid1..."); runE fills it in from
	// the command's own options.
	target string
	// byName, when set, is the secret a command looked up by name; after
	// a 404 the advice says whether the name exists, when the caller may
	// know (see secretByNameAdvice).
	byName func() (vaultID, name string)
}

// reportUsage prints a usage error and returns its exit code.
func reportUsage(w io.Writer, msg string) int {
	fmt.Fprintf(w, "Error: %s\n", msg)
	return exitUsage
}

// secretBundleNotFound is the decision tree for a 404 on a secret bundle,
// where OCI and Coffer answer the same for "missing" and "not allowed".
const secretBundleNotFound = `A 404 on a secret bundle means the secret does not exist, or you may not read it.
Reading a bundle needs both:
  allow group <your-group> to read secret-family in compartment <c>
  allow group <your-group> to use keys in compartment <c>   (the secret's master key; Coffer's default rule)
and the key must be enabled (not disabled or pending deletion).`

// reportError prints err the way a user can act on it and returns the
// exit code. Service errors print the oci CLI's "ServiceError:" JSON with
// the request id, then advice that follows from the status.
func (g *globals) reportError(w io.Writer, err error, h hints) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return reportUsage(w, ue.msg)
	}
	var we *waitError
	if errors.As(err, &we) {
		fmt.Fprintf(w, "Error: %s\n", we.msg)
		return exitUsage
	}
	var ce *configError
	if errors.As(err, &ce) {
		fmt.Fprintf(w, "ConfigError: %v\n", ce.err)
		return exitService
	}
	var step *stepError
	if errors.As(err, &step) {
		fmt.Fprintf(w, "Failed to %s:\n", step.step)
	}
	var se common.ServiceError
	if errors.As(err, &se) {
		body := map[string]any{
			"status":         se.GetHTTPStatusCode(),
			"code":           se.GetCode(),
			"message":        se.GetMessage(),
			"opc-request-id": se.GetOpcRequestID(),
		}
		var rich common.ServiceErrorRichInfo
		if errors.As(err, &rich) {
			body["operation-name"] = rich.GetOperationName()
			body["target-service"] = rich.GetTargetService()
			body["request-endpoint"] = rich.GetRequestTarget()
		}
		if n := g.attempts.Load(); n > 1 {
			body["attempts"] = n
		}
		b, _ := encodeJSON(body, "    ")
		fmt.Fprintf(w, "ServiceError:\n%s", b)
		if se.GetHTTPStatusCode() == http.StatusNotFound && h.byName != nil {
			vaultID, name := h.byName()
			advice, secretID := g.secretByNameAdvice(vaultID, name)
			fmt.Fprintln(w, advice)
			if secretID != "" {
				h.target = "--secret " + secretID
				fmt.Fprintf(w, "An administrator can name the missing policy statement, if that is the cause, with:\n  %s\n", g.explainCommand(err, h))
			}
			return exitService
		}
		if advice := adviceFor(se, h, int(g.attempts.Load())); advice != "" {
			fmt.Fprintln(w, advice)
		}
		if se.GetHTTPStatusCode() == http.StatusNotFound {
			fmt.Fprintf(w, "An administrator can name the missing policy statement, if that is the cause, with:\n  %s\n", g.explainCommand(err, h))
		}
		return exitService
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(w, "Error: interrupted")
		return exitService
	}
	fmt.Fprintf(w, "Error: %v\n", err)
	if cliRetryable(err) {
		fmt.Fprintf(w, "The request failed before the service answered (network); it was tried %d times with backoff. Check the endpoint (--endpoint, %s, region) and that the server is up.\n",
			max(1, int(g.attempts.Load())), envEndpoint)
	}
	return exitService
}

func adviceFor(se common.ServiceError, h hints, attempts int) string {
	switch s := se.GetHTTPStatusCode(); {
	case s == http.StatusUnauthorized:
		return `The service did not accept the request signature (401). Check, in order:
  1. the config file and profile in use (--config-file, --profile, $OCI_CLI_CONFIG_FILE, $OCI_CLI_PROFILE);
  2. that user, tenancy and fingerprint in the profile match the API key uploaded for the user
     (coffer iam user api-key list --user-id <user-ocid>), and key_file is that key's private half;
  3. the clock of this machine: requests more than 5 minutes off are refused.`
	case s == http.StatusNotFound && h.notFound != "":
		return h.notFound
	case s == http.StatusNotFound:
		return "The resource does not exist, or you are not authorized to use it (the service answers the same for both)."
	case s == http.StatusTooManyRequests || s >= 500:
		return fmt.Sprintf("The service is busy or failing; the request was tried %d time(s) with exponential backoff and jitter (--max-retries). Quote the opc-request-id above when reporting it.", max(1, attempts))
	case s == http.StatusPreconditionFailed:
		return "The resource changed since you read it (etag mismatch): get it again and retry with the new --if-match."
	}
	return ""
}

// runE adapts a command body to cobra: it applies the required-option
// check and turns every failure into an exitError after reporting it, so
// the exit code follows the decision above whatever Main does with errors.
func runE(h hints, required []string, fn func(cmd *cobra.Command, g *globals) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		g := globalsFrom(cmd)
		err := checkRequired(cmd, required)
		if err == nil {
			err = fn(cmd, g)
		}
		var ee exitError
		if err == nil || errors.As(err, &ee) {
			return err // nothing to report, or reported already
		}
		h.target = explainTarget(cmd)
		return exitError{g.reportError(cmd.ErrOrStderr(), err, h)}
	}
}

// checkRequired fails with a usage error naming every missing option.
// cobra's MarkFlagRequired would return an error Main cannot tell from a
// service failure.
func checkRequired(cmd *cobra.Command, names []string) error {
	var missing []string
	for _, n := range names {
		alts := strings.Split(n, "|")
		set := false
		for _, a := range alts {
			if cmd.Flags().Changed(a) {
				set = true
			}
		}
		if !set {
			missing = append(missing, "--"+strings.Join(alts, " or --"))
		}
	}
	if len(missing) > 0 {
		return usageErrorf("missing option(s) %s (see %s --help)", strings.Join(missing, ", "), cmd.CommandPath())
	}
	return nil
}

// explainTargets map a command's options to the `coffer iam explain`
// options that name the same target, most specific first: a secret
// brings its key and vault along, a key its vault.
var explainTargets = []struct{ flag, explain string }{
	{"secret-id", "--secret"},
	{"key-id", "--key"},
	{"vault-id", "--vault"},
}

// explainTarget is the explain options naming what cmd acted on: its
// most specific target and, when given, its compartment.
func explainTarget(cmd *cobra.Command) string {
	var parts []string
	for _, t := range explainTargets {
		if f := cmd.Flags().Lookup(t.flag); f != nil && f.Changed {
			parts = append(parts, t.explain+" "+f.Value.String())
			break
		}
	}
	if f := cmd.Flags().Lookup("compartment-id"); f != nil && f.Changed {
		parts = append(parts, "--compartment-id "+f.Value.String())
	}
	return strings.Join(parts, " ")
}

// explainCommand is the exact `coffer iam explain` command line for a
// failed call: the caller's user from the configuration when it names
// one, the operation the service reports, and the command's target.
func (g *globals) explainCommand(err error, h hints) string {
	user := "<your-user-ocid>"
	if p, perr := g.configProvider(); perr == nil {
		if u, uerr := p.UserOCID(); uerr == nil && u != "" {
			user = u
		}
	}
	op := "<Operation>"
	var rich common.ServiceErrorRichInfo
	if errors.As(err, &rich) && rich.GetOperationName() != "" {
		op = rich.GetOperationName()
	}
	return strings.TrimSpace(fmt.Sprintf("coffer iam explain --user %s --operation %s %s", user, op, h.target))
}
