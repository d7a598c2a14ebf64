package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
)

// iamCommand is `coffer iam`: the identity resources of `oci iam` (added by
// withIAMResources) and the tools no cloud gives, explain and lint.
func iamCommand() *cobra.Command {
	c := group("iam", "Identity and access: compartments, users and API keys, groups, dynamic groups, policies; explain a decision, lint policies",
		`  coffer iam explain --user $USER --operation GetSecretBundle --secret $SECRET
  coffer iam policy lint policy.txt --strict`,
		iamExplain(),
		group("policy", "Policy tools", `  coffer iam policy lint --policy-id $POLICY`, iamPolicyLint()),
	)
	return clientGroup(c)
}

// keyValues parses repeated k=v options.
func keyValues(name string, in []string) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range in {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageErrorf("--%s %q must be of the form name=value", name, kv)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

func iamExplain() *cobra.Command {
	var (
		user, grp, dynGroup, operation  string
		secret, key, vault, compartment string
		secretName                      string
		attributes, variables           []string
		self                            bool
	)
	cmd := leaf("explain", "Say why a principal may or may not perform an operation",
		`  coffer iam explain --user ocid1.user... --operation GetSecretBundle --secret ocid1.vaultsecret...
  coffer iam explain --group Developers --operation ListVaults --compartment-id $TENANCY
  coffer iam explain --dynamic-group app-prod --attribute instance.compartment.id=ocid1.compartment... \
      --operation GetSecretBundle --secret ocid1.vaultsecret...
  coffer iam explain --self --operation GetSecretBundle --secret ocid1.vaultsecret...

The server answers allow or deny, the statements that matched, and for a
denial the missing permission and a statement that would grant it, narrowed
to the target. It needs 'manage policies in tenancy'. --user, --group and
--dynamic-group take an OCID or a name.

--self asks about the caller itself (the user, instance or resource
principal the CLI signs as) and needs no policy: the answer names the
missing permissions and the statement to add, not the statements that did
or did not apply, and a target the caller can neither inspect nor use at
all is 404 NotAuthorizedOrNotFound, existing or not. Without --output or --query the
answer is printed for a person; with them, as JSON. Statements are
numbered from 1 within their policy, as lint numbers them (the JSON
"index" counts from 0).

Exit status, as grep's: 0 when the operation is allowed, 1 when it is
denied (the answer is printed either way), 2 for a usage error; a failed
request also exits 1, with the error on stderr.`,
		hints{}, []string{"operation", "user|group|dynamic-group|self"},
		func(cmd *cobra.Command, g *globals) error {
			attrs, err := keyValues("attribute", attributes)
			if err != nil {
				return err
			}
			vars, err := keyValues("variable", variables)
			if err != nil {
				return err
			}
			n := countSet(user, grp, dynGroup)
			if self {
				n++
			}
			if n != 1 {
				return usageErrorf("pass exactly one of --user, --group, --dynamic-group, --self")
			}
			if dynGroup == "" && len(attrs) > 0 {
				return usageErrorf("--attribute describes a dynamic-group principal; pass it with --dynamic-group")
			}
			c, err := g.identityClient()
			if err != nil {
				return err
			}
			req := identityapi.ExplainRequest{Operation: operation, CompartmentID: compartment, VaultID: vault, KeyID: key,
				SecretID: secret, SecretName: secretName, Variables: vars}
			path := identityapi.ExplainOwnPath
			if !self {
				path = identityapi.ExplainPath
				if req.Principal, err = resolvePrincipal(cmd, g, c, user, grp, dynGroup, attrs); err != nil {
					return err
				}
			}
			ans, err := callExplain(cmd, c, path, req)
			if err != nil {
				return err
			}
			if g.query != "" || cmd.Flag("output").Changed {
				if err := g.print(cmd.OutOrStdout(), response{data: ans}); err != nil {
					return err
				}
			} else {
				printExplanation(cmd.OutOrStdout(), ans)
			}
			if !ans.Allowed {
				return exitError{exitService}
			}
			return nil
		})
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "the user (OCID or name); its groups are resolved by the server")
	f.StringVar(&grp, "group", "", "a group (OCID or name): the question is asked for any member")
	f.StringVar(&dynGroup, "dynamic-group", "", "a dynamic group (OCID or name); describe the instance or resource with --attribute")
	f.BoolVar(&self, "self", false, "ask about the caller itself (no policy needed; fewer details)")
	f.StringArrayVar(&attributes, "attribute", nil, "an attribute of the dynamic-group principal, name=value (instance.id, instance.compartment.id, resource.id, resource.compartment.id, resource.type, tag.<ns>.<key>.value); repeatable")
	f.StringVar(&operation, "operation", "", "the OCI operation, e.g. GetSecretBundle, ListVaults, Decrypt")
	f.StringVar(&secret, "secret", "", "the target secret OCID (its key and vault are loaded too)")
	f.StringVar(&key, "key", "", "the target key OCID")
	f.StringVar(&vault, "vault", "", "the target vault OCID")
	f.StringVarP(&compartment, "compartment-id", "c", "", "where a list or create acts; default the target's compartment")
	f.StringVar(&secretName, "secret-name", "", "the name of the secret a CreateSecret would create")
	f.StringArrayVar(&variables, "variable", nil, "a further request or target variable, name=value (e.g. request.region=local); repeatable")
	_ = cmd.RegisterFlagCompletionFunc("operation", cobra.FixedCompletions(iam.Operations(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}

// resolvePrincipal turns the --user, --group or --dynamic-group value into
// an OCID, looking a name up through the identity API.
func resolvePrincipal(cmd *cobra.Command, g *globals, c identity.IdentityClient, user, grp, dyn string, attrs map[string]string) (identityapi.ExplainPrincipal, error) {
	var p identityapi.ExplainPrincipal
	if user != "" && strings.HasPrefix(user, "ocid1.") || grp != "" && strings.HasPrefix(grp, "ocid1.") || dyn != "" && strings.HasPrefix(dyn, "ocid1.") {
		return identityapi.ExplainPrincipal{UserID: user, GroupID: grp, DynamicGroupID: dyn, Attributes: attrs}, nil
	}
	p.Attributes = attrs
	prov, err := g.configProvider()
	if err != nil {
		return p, err
	}
	tenancy, err := prov.TenancyOCID()
	if err != nil {
		return p, &configError{fmt.Errorf("tenancy OCID: %w", err)}
	}
	ctx := cmd.Context()
	var ids []string
	switch {
	case user != "":
		r, err := c.ListUsers(ctx, identity.ListUsersRequest{CompartmentId: &tenancy, Name: &user})
		if err != nil {
			return p, &stepError{step: "look up user " + user, err: err}
		}
		for _, u := range r.Items {
			ids = append(ids, *u.Id)
		}
		p.UserID = first(ids)
	case grp != "":
		r, err := c.ListGroups(ctx, identity.ListGroupsRequest{CompartmentId: &tenancy, Name: &grp})
		if err != nil {
			return p, &stepError{step: "look up group " + grp, err: err}
		}
		for _, x := range r.Items {
			ids = append(ids, *x.Id)
		}
		p.GroupID = first(ids)
	default:
		r, err := c.ListDynamicGroups(ctx, identity.ListDynamicGroupsRequest{CompartmentId: &tenancy, Name: &dyn})
		if err != nil {
			return p, &stepError{step: "look up dynamic group " + dyn, err: err}
		}
		for _, x := range r.Items {
			ids = append(ids, *x.Id)
		}
		p.DynamicGroupID = first(ids)
	}
	if len(ids) == 0 {
		return p, usageErrorf("no user, group or dynamic group is named %q", user+grp+dyn)
	}
	return p, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// callExplain sends the explain request, signed like any SDK call.
func callExplain(cmd *cobra.Command, c identity.IdentityClient, path string, req identityapi.ExplainRequest) (identityapi.ExplainResponse, error) {
	var ans identityapi.ExplainResponse
	body, err := json.Marshal(req)
	if err != nil {
		return ans, err
	}
	hr, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return ans, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.Call(cmd.Context(), hr)
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return ans, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ans, fmt.Errorf("read the explanation: %w", err)
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return ans, fmt.Errorf("the server's explanation is not JSON: %w", err)
	}
	return ans, nil
}

// printExplanation prints an answer for a person.
func printExplanation(w io.Writer, x identityapi.ExplainResponse) {
	verdict := "DENIED"
	if x.Allowed {
		verdict = "ALLOWED"
	}
	fmt.Fprintf(w, "%s: %s by %s\n", verdict, x.Operation, x.Principal)
	if len(x.DynamicGroups) > 0 {
		fmt.Fprintf(w, "  matching dynamic groups: %s\n", strings.Join(x.DynamicGroups, ", "))
	}
	if len(x.Checks) == 0 {
		// Otherwise the checks below say it all, one per line; the reason
		// is their summary for the JSON form and the audit record.
		fmt.Fprintf(w, "  %s\n", x.Reason)
	}
	for _, c := range x.Checks {
		mark := "missing"
		if c.Granted {
			mark = "granted"
		}
		target := c.Target
		if c.TargetID != "" {
			target += " " + c.TargetID
		}
		fmt.Fprintf(w, "\n  [%s] %s on %s\n", mark, c.Permission, target)
		if c.CompartmentID != "" {
			fmt.Fprintf(w, "      in compartment %s\n", c.CompartmentID)
		}
		for _, s := range c.GrantedBy {
			fmt.Fprintf(w, "      granted by policy %q statement %d: %s\n", s.PolicyName, s.Index+1, s.Text)
		}
		for _, s := range c.DeniedBy {
			fmt.Fprintf(w, "      blocked by policy %q statement %d: %s\n", s.PolicyName, s.Index+1, s.Text)
		}
		for _, s := range c.ConditionFalse {
			fmt.Fprintf(w, "      where clause false in policy %q statement %d: %s\n", s.PolicyName, s.Index+1, s.Text)
		}
		if c.Note != "" {
			fmt.Fprintf(w, "      note: %s\n", c.Note)
		}
	}
	for _, n := range x.Notes {
		fmt.Fprintf(w, "\n  note: %s\n", n)
	}
	if !x.Allowed && x.Suggestion != "" {
		fmt.Fprintf(w, "\nA statement that would grant it:\n")
		for _, line := range strings.Split(x.Suggestion, "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

func iamPolicyLint() *cobra.Command {
	var policyID string
	var strict bool
	cmd := &cobra.Command{
		Use:   "lint [FILE | --policy-id OCID]",
		Short: "Flag policy statements that grant too much, each with a narrower suggestion",
		Example: `  coffer iam policy lint policy.txt            # one statement per line; # comments
  coffer iam policy lint statements.json        # a JSON array, or a policy as 'get' prints it
  coffer iam policy lint --policy-id ocid1.policy... --strict

Lint runs locally on a file (- is stdin); with --policy-id it fetches the
policy, and the dynamic groups it names, through the identity API.

Exit status: 1 when a statement or matching rule does not parse (always:
the policy would be refused), 1 with --strict when there are other
findings, 2 for a usage error, 0 otherwise.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g := globalsFrom(cmd)
			findings, err := runLint(cmd, g, args, policyID)
			if err != nil {
				return exitError{g.reportError(cmd.ErrOrStderr(), err, hints{})}
			}
			for _, f := range findings {
				if strict || f.Invalid() {
					return exitError{exitService}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&policyID, "policy-id", "", "lint this policy, fetched through the identity API")
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 when there are findings")
	return cmd
}

// runLint prints the findings and returns them.
func runLint(cmd *cobra.Command, g *globals, args []string, policyID string) ([]iam.Finding, error) {
	var (
		stmts []string
		opts  iam.LintOptions
		what  string
	)
	switch {
	case len(args) == 1 && policyID != "":
		return nil, usageErrorf("pass a FILE or --policy-id, not both")
	case len(args) == 1:
		b, err := readLintInput(cmd, args[0])
		if err != nil {
			return nil, err
		}
		if stmts, err = parseStatements(b); err != nil {
			return nil, usageErrorf("%s: %v", args[0], err)
		}
		what = args[0]
	case policyID != "":
		c, err := g.identityClient()
		if err != nil {
			return nil, err
		}
		p, err := c.GetPolicy(cmd.Context(), identity.GetPolicyRequest{PolicyId: &policyID})
		if err != nil {
			return nil, err
		}
		stmts, what = p.Statements, "policy "+policyLabel(p.Policy, policyID)
		if opts.TenancyID, opts.DynamicGroups, err = lintContext(cmd, g, c, stmts); err != nil {
			return nil, err
		}
	default:
		return nil, usageErrorf("pass a FILE of statements (- for stdin) or --policy-id OCID")
	}
	findings := iam.Lint(stmts, opts)
	out := cmd.OutOrStdout()
	for _, f := range findings {
		label := fmt.Sprintf("statement %d", f.Index+1)
		if f.Code == "broad-rule" {
			label = "dynamic group rule"
		}
		fmt.Fprintf(out, "%s: %s\n\n", label, f.String())
	}
	invalid := 0
	for _, f := range findings {
		if f.Invalid() {
			invalid++
		}
	}
	summary := fmt.Sprintf("%s: %s, ", what, plural(len(stmts), "statement"))
	switch {
	case len(findings) == 0:
		summary += "no findings"
	case invalid > 0:
		summary += fmt.Sprintf("%s (%s)", plural(len(findings), "finding"), plural(invalid, "syntax error"))
	default:
		summary += plural(len(findings), "finding")
	}
	fmt.Fprintln(out, summary)
	return findings, nil
}

// plural is "1 statement", "2 statements".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func readLintInput(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("read %s: %v", path, err)
	}
	return b, nil
}

// parseStatements reads statements from a JSON array of strings, a JSON
// policy (with "statements", possibly under "data" as `get` prints it), or
// text with one statement per line, where blank lines and lines starting
// with # are skipped.
func parseStatements(b []byte) ([]string, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{') {
		var arr []string
		if json.Unmarshal(trimmed, &arr) == nil {
			return arr, nil
		}
		var doc struct {
			Statements []string `json:"statements"`
			Data       struct {
				Statements []string `json:"statements"`
			} `json:"data"`
		}
		if err := json.Unmarshal(trimmed, &doc); err != nil {
			return nil, fmt.Errorf("not a JSON array of statements or a policy: %v", err)
		}
		if doc.Statements != nil {
			return doc.Statements, nil
		}
		return doc.Data.Statements, nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, nil
}

// lintContext fetches the tenancy OCID and the dynamic groups the
// statements name, so lint can flag rules that match a whole tenancy.
func lintContext(cmd *cobra.Command, g *globals, c identity.IdentityClient, stmts []string) (string, []iam.DynamicGroup, error) {
	prov, err := g.configProvider()
	if err != nil {
		return "", nil, err
	}
	tenancy, err := prov.TenancyOCID()
	if err != nil {
		return "", nil, &configError{fmt.Errorf("tenancy OCID: %w", err)}
	}
	named := iam.DynamicGroupsNamed(stmts)
	if len(named) == 0 {
		return tenancy, nil, nil
	}
	var dgs []iam.DynamicGroup
	var page *string
	for {
		r, err := c.ListDynamicGroups(cmd.Context(), identity.ListDynamicGroupsRequest{CompartmentId: common.String(tenancy), Page: page})
		if err != nil {
			return "", nil, &stepError{step: "list dynamic groups", err: err}
		}
		for _, d := range r.Items {
			if named[strings.ToLower(*d.Id)] || named[strings.ToLower(*d.Name)] {
				dgs = append(dgs, iam.DynamicGroup{ID: *d.Id, Name: *d.Name, MatchingRule: *d.MatchingRule})
			}
		}
		if r.OpcNextPage == nil {
			break
		}
		page = r.OpcNextPage
	}
	sort.Slice(dgs, func(i, j int) bool { return dgs[i].Name < dgs[j].Name })
	return tenancy, dgs, nil
}

// policyLabel names a policy for lint's summary: its name, or its OCID when
// the server's answer carries no name.
func policyLabel(p identity.Policy, id string) string {
	if p.Name == nil || *p.Name == "" {
		return id
	}
	return *p.Name
}
