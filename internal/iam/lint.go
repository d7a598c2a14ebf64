package iam

import (
	"errors"
	"fmt"
	"strings"
)

// Finding is one lint result: a statement or matching rule that is valid but
// grants more than it probably should.
type Finding struct {
	// Index is the statement's position in the linted list, or the dynamic
	// group's position in LintOptions.DynamicGroups for Code "broad-rule".
	Index int
	// Text is the statement or matching rule.
	Text string
	// Code names the check: "invalid", "broad-subject", "manage-in-tenancy",
	// "unscoped-key-export", "unscoped-secret-access", "broad-rule".
	Code string
	// Reason is one line saying what is too broad.
	Reason string
	// Suggestion is a narrower statement or rule to start from; empty for
	// an invalid one, whose Reason says what the parser expected.
	Suggestion string
	// Pos is the 1-based byte position of a syntax error in Text, 0 when
	// there is none.
	Pos int
}

// Invalid reports whether the finding is a statement or rule that does
// not parse: an error, not a matter of taste.
func (f Finding) Invalid() bool { return f.Code == "invalid" }

// String formats a finding for the CLI. A syntax error is shown with a
// caret under the position the parser stopped at.
func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s\n  %s", f.Code, f.Text, f.Reason)
	if f.Pos > 0 && f.Pos <= len(f.Text)+1 && !strings.ContainsAny(f.Text, "\n\t") {
		s += "\n  " + f.Text + "\n  " + strings.Repeat(" ", f.Pos-1) + "^"
	}
	if f.Suggestion != "" {
		s += "\n  try: " + f.Suggestion
	}
	return s
}

// LintOptions give Lint what it needs beyond the statements.
type LintOptions struct {
	// TenancyID lets Lint recognise rules scoped to the root compartment.
	TenancyID string
	// DynamicGroups are linted for matching rules that match a whole tenancy.
	DynamicGroups []DynamicGroup
}

// Lint flags statements and matching rules that are too broad, as
// `coffer iam policy lint` prints them (docs/security.md#permissions):
// any-user or any-group on secrets or keys; manage on secret-family, keys,
// vaults, key-family or all-resources in the whole tenancy; access to secret
// contents with no where clause; key export (part of `use keys`) with no
// where clause naming the keys; dynamic groups whose rule matches every
// instance or resource of the tenancy. Statements that do not parse are
// reported with Code "invalid".
func Lint(statements []string, opts LintOptions) []Finding {
	var out []Finding
	for i, text := range statements {
		st, err := Parse(text)
		if err != nil {
			out = append(out, Finding{Index: i, Text: text, Code: "invalid", Reason: err.Error(), Pos: syntaxPos(err)})
			continue
		}
		if st.Effect != EffectAllow {
			continue // deny statements only take access away
		}
		out = append(out, lintStatement(i, st)...)
	}
	for i, dg := range opts.DynamicGroups {
		r, err := ParseMatchingRule(dg.MatchingRule)
		if err != nil {
			out = append(out, Finding{Index: i, Text: dg.MatchingRule, Code: "invalid",
				Reason: fmt.Sprintf("dynamic group %q: %v", dg.Name, err), Pos: syntaxPos(err)})
			continue
		}
		if r.broad(opts.TenancyID) {
			out = append(out, Finding{Index: i, Text: dg.MatchingRule, Code: "broad-rule",
				Reason:     fmt.Sprintf("dynamic group %q matches every instance or resource of its kind in the tenancy (nothing narrows it to a compartment below the root, an OCID or a tag value)", dg.Name),
				Suggestion: "ALL {resource.type = 'fnfunc', resource.compartment.id = '<ocid of the application compartment>'}"})
		}
	}
	return out
}

// syntaxPos is the position of a syntax error, 0 for any other error.
func syntaxPos(err error) int {
	var se *SyntaxError
	if errors.As(err, &se) {
		return se.Pos
	}
	return 0
}

func lintStatement(i int, st *Statement) []Finding {
	var out []Finding
	add := func(code, reason, sugg string) {
		out = append(out, Finding{Index: i, Text: st.Text, Code: code, Reason: reason, Suggestion: sugg})
	}
	readsSecrets := st.perms.has(permByName["SECRET_BUNDLE_READ"])
	sensitive := readsSecrets || st.perms.has(permByName["KEY_DECRYPT"]) || st.perms.has(permByName["KEY_ENCRYPT"]) ||
		st.perms.has(permByName["SECRET_UPDATE"]) || st.perms.has(permByName["KEY_CREATE"])
	rt := st.ResourceType
	if rt == "" {
		rt = "{" + strings.Join(st.Permissions, ", ") + "}"
	}

	if (st.Subject.Kind == SubjectAnyUser || st.Subject.Kind == SubjectAnyGroup) && sensitive && !narrowsPrincipal(st.cond) {
		add("broad-subject",
			fmt.Sprintf("%s reaches every user, instance and resource principal in the tenancy, and this grants secret contents or key use", st.Subject.Kind),
			rewrite(st, "dynamic-group <app-dynamic-group>", "", "", "target.secret.name = /<app>-*/"))
	}
	if st.Verb == VerbManage && st.Location.Tenancy && st.cond == nil {
		switch st.ResourceType {
		case familySecret, "keys", "vaults", familyKey, familyAll, "secrets":
			add("manage-in-tenancy",
				fmt.Sprintf("manage %s in tenancy covers every compartment, including ones created later", st.ResourceType),
				rewrite(st, "", "", "compartment <compartment>", "target.vault.id = '<vault ocid>'"))
		}
	}
	if st.Verb != VerbManage && st.perms.has(permByName["KEY_EXPORT"]) && !namesKeys(st.cond) {
		// OCI's table puts KEY_EXPORT under `use keys`: whoever may encrypt
		// with a key may also take its material away, wrapped under a key
		// of their choosing. Manage grants are administrators' and say so.
		add("unscoped-key-export",
			fmt.Sprintf("%s grants KEY_EXPORT (ExportKey: the key material itself) with no where clause naming the keys", rt),
			rewrite(st, "", "", "", "target.key.id = '<key ocid>'"))
	}
	if readsSecrets && st.cond == nil {
		reason := fmt.Sprintf("%s grants SECRET_BUNDLE_READ (secret contents) with no where clause", rt)
		cond := "target.secret.name = /<app>-*/"
		if st.ResourceType == familyAll {
			reason = "read all-resources includes read secret-bundles, i.e. secret contents, with no where clause"
			cond = "request.permission != 'SECRET_BUNDLE_READ'"
		}
		add("unscoped-secret-access", reason, rewrite(st, "", "", "", cond))
	}
	return out
}

// narrows reports whether a condition always implies what leaf finds in
// one of its comparisons: an all{} needs one kid that implies it, an any{}
// needs every kid (and at least one) to.
func narrows(c *cond, leaf func(*cond) bool) bool {
	if c == nil {
		return false
	}
	switch c.op {
	case opAll:
		for _, k := range c.kids {
			if narrows(k, leaf) {
				return true
			}
		}
		return false
	case opAny:
		for _, k := range c.kids {
			if !narrows(k, leaf) {
				return false
			}
		}
		return len(c.kids) > 0
	}
	return leaf(c)
}

// narrowsPrincipal reports whether a condition pins the caller down to named
// principals or compartments (not just a principal type).
func narrowsPrincipal(c *cond) bool {
	return narrows(c, func(c *cond) bool {
		switch c.op {
		case opEq, opIn:
			switch c.v {
			case varUserID, varGroupsID, varPrincipalID, varPrincipalCompartmentID:
				return true
			}
		}
		return false
	})
}

// namesKeys reports whether a condition limits a statement to named keys,
// or takes key export out of it.
func namesKeys(c *cond) bool {
	return narrows(c, func(c *cond) bool {
		switch c.op {
		case opEq, opIn:
			return c.v == varKeyID
		case opNe:
			for _, v := range c.vals {
				if c.v == varPermission && v.s == "key_export" || c.v == varOperation && v.s == "exportkey" {
					return true
				}
			}
		}
		return false
	})
}

// rewrite prints a statement with parts replaced ("" keeps the original);
// cond is added to the where clause.
func rewrite(st *Statement, subject, grant, location, cond string) string {
	var b strings.Builder
	if st.Effect == EffectDeny {
		b.WriteString("Deny ")
	} else {
		b.WriteString("Allow ")
	}
	if subject == "" {
		subject = formatSubject(st.Subject)
	}
	b.WriteString(subject + " to ")
	if grant == "" {
		if st.Verb != VerbNone {
			grant = st.Verb.String() + " " + st.ResourceType
		} else {
			grant = "{" + strings.Join(st.Permissions, ", ") + "}"
		}
	}
	b.WriteString(grant + " in ")
	if location == "" {
		location = formatLocation(st.Location)
	}
	b.WriteString(location)
	switch {
	case st.Where != "" && cond != "":
		b.WriteString(" where all {" + st.Where + ", " + cond + "}")
	case st.Where != "":
		b.WriteString(" where " + st.Where)
	case cond != "":
		b.WriteString(" where " + cond)
	}
	return b.String()
}

func formatSubject(s Subject) string {
	switch s.Kind {
	case SubjectAnyUser, SubjectAnyGroup:
		return s.Kind.String()
	case SubjectService:
		return "service " + strings.Join(s.Services, ", ")
	}
	parts := make([]string, len(s.Refs))
	for i, r := range s.Refs {
		switch {
		case r.ID != "":
			parts[i] = "id " + r.ID
		case r.Domain != "":
			parts[i] = quoteName(r.Domain) + "/" + quoteName(r.Name)
		default:
			parts[i] = quoteName(r.Name)
		}
	}
	return s.Kind.String() + " " + strings.Join(parts, ", ")
}

func formatLocation(l Location) string {
	switch {
	case l.Tenancy:
		return "tenancy"
	case l.CompartmentID != "":
		return "compartment id " + l.CompartmentID
	}
	parts := make([]string, len(l.Path))
	for i, p := range l.Path {
		parts[i] = quoteName(p)
	}
	return "compartment " + strings.Join(parts, ":")
}

// DynamicGroupsNamed returns the dynamic groups the statements' subjects
// name, by lower-cased name and OCID, so a caller can fetch just those
// for LintOptions.DynamicGroups. Statements that do not parse name none.
func DynamicGroupsNamed(statements []string) map[string]bool {
	named := map[string]bool{}
	for _, s := range statements {
		st, err := Parse(s)
		if err != nil || st.Subject.Kind != SubjectDynamicGroup {
			continue
		}
		for _, r := range st.Subject.Refs {
			if r.ID != "" {
				named[strings.ToLower(r.ID)] = true
			}
			if r.Name != "" {
				named[strings.ToLower(r.Name)] = true
			}
		}
	}
	return named
}
