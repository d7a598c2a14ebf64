package identity

import (
	"fmt"
	"slices"
	"strings"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// A rename of a group, dynamic group or compartment carries into policy
// text in the transaction that renames: every statement whose subject or
// location names the resource by its old name is rewritten to the new name
// (see the package comment). The statement is parsed with the policy
// engine's parser and only the name tokens that resolve to the renamed
// resource are replaced; nothing is found by substring.

// rename is one rename to carry into policy statements.
type rename struct {
	// subject is SubjectGroup or SubjectDynamicGroup for a group rename;
	// zero for a compartment rename.
	subject iam.SubjectKind
	// compartmentID is the renamed compartment, for a compartment rename.
	compartmentID    string
	oldName, newName string
}

// rewritePolicies rewrites, in tx, the statements of every policy that name
// the renamed resource; a rewritten policy gets a new etag. It must run
// before the renamed record is written, so that compartment paths resolve
// against the old names.
func rewritePolicies(tx store.Tx, rn rename) error {
	policies, err := record.List[Policy](tx, prefixPolicy)
	if err != nil {
		return err
	}
	var tree compartmentTree
	if rn.compartmentID != "" {
		t, err := tenancyOf(tx)
		if err != nil {
			return err
		}
		comps, err := record.List[Compartment](tx, prefixCompart)
		if err != nil {
			return err
		}
		tree = newCompartmentTree(t, comps)
	}
	return rewriteStatements(tx, policies, func(p Policy, i int, text string) (string, bool, error) {
		out, ok, err := rewriteStatement(text, rn, func(path []string) []string { return tree.resolve(p.CompartmentID, path) })
		if err != nil {
			return "", false, fmt.Errorf("identity: rename %q to %q in policy %s statement %d: %w", rn.oldName, rn.newName, p.ID, i, err)
		}
		return out, ok, nil
	})
}

// rewriteStatements puts every statement i of every policy p through
// rewrite, which returns its new text and whether it changed, and stores,
// with a new etag, each policy that changed.
func rewriteStatements(tx store.Tx, policies []Policy, rewrite func(p Policy, i int, text string) (string, bool, error)) error {
	for _, p := range policies {
		changed := false
		for i, text := range p.Statements {
			out, ok, err := rewrite(p, i, text)
			if err != nil {
				return err
			}
			if ok {
				p.Statements[i], changed = out, true
			}
		}
		if changed {
			p.ETag = etag.New()
			if err := record.Put(tx, prefixPolicy+p.ID, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// rewriteStatement returns text with the renamed resource's old name
// replaced where the statement refers to it, and whether it changed.
// resolvePath gives the compartment OCID each path element resolves to
// ("" where it does not). A statement that does not parse is left alone.
func rewriteStatement(text string, rn rename, resolvePath func([]string) []string) (string, bool, error) {
	st, err := iam.Parse(text)
	if err != nil {
		return text, false, nil
	}
	refSpans, pathSpans, err := nameSpans(text, st)
	if err != nil {
		return "", false, err
	}
	var edits []span
	wantRefs := slices.Clone(st.Subject.Refs)
	wantPath := slices.Clone(st.Location.Path)
	if rn.subject != 0 && st.Subject.Kind == rn.subject {
		for i, ref := range st.Subject.Refs {
			if ref.ID == "" && (ref.Domain == "" || strings.EqualFold(ref.Domain, "default")) && strings.EqualFold(ref.Name, rn.oldName) {
				edits = append(edits, refSpans[i])
				wantRefs[i].Name = rn.newName
			}
		}
	}
	if rn.compartmentID != "" && len(st.Location.Path) > 0 {
		for i, id := range resolvePath(st.Location.Path) {
			if id == rn.compartmentID {
				edits = append(edits, pathSpans[i])
				wantPath[i] = rn.newName
			}
		}
	}
	if len(edits) == 0 {
		return text, false, nil
	}
	slices.SortFunc(edits, func(a, b span) int { return b.start - a.start })
	out := text
	for _, e := range edits {
		out = out[:e.start] + rn.newName + out[e.end:]
	}
	// The rewritten statement must parse to the same statement with only
	// the names changed. A new name the language cannot hold in that place
	// (a group called "to") is refused.
	got, err := iam.Parse(out)
	if err != nil || got.Effect != st.Effect || got.Subject.Kind != st.Subject.Kind || !slices.Equal(got.Subject.Refs, wantRefs) ||
		!slices.Equal(got.Location.Path, wantPath) || got.Location.Tenancy != st.Location.Tenancy ||
		got.Verb != st.Verb || got.ResourceType != st.ResourceType || !slices.Equal(got.Permissions, st.Permissions) || got.Where != st.Where {
		return "", false, errs.E(errs.Invalid, "the name %q cannot stand in policy statement %q; choose another name", rn.newName, text)
	}
	return out, true, nil
}

// span is a byte range [start, end) of a statement.
type span struct{ start, end int }

// nameSpans finds where a parsed statement's subject names and location
// path elements stand in its text: refs[i] for st.Subject.Refs[i] (zero for
// a reference by OCID), path[i] for st.Location.Path[i]. It walks the text
// with the policy language's word rules, guided by the parse, which has
// already checked the grammar.
func nameSpans(text string, st *iam.Statement) (refs, path []span, err error) {
	c := &cursor{src: text}
	c.word() // Allow / Deny
	c.word() // subject keyword
	switch st.Subject.Kind {
	case iam.SubjectGroup, iam.SubjectDynamicGroup:
		refs = make([]span, len(st.Subject.Refs))
		for i, ref := range st.Subject.Refs {
			if i > 0 && !c.punct(',') {
				return nil, nil, c.lost("a comma between subjects")
			}
			if ref.ID != "" {
				c.word() // id
				c.word() // the OCID
				continue
			}
			s := c.name()
			if ref.Domain != "" {
				if !c.punct('/') {
					return nil, nil, c.lost("a domain separator")
				}
				s = c.name()
			}
			refs[i] = s
		}
	case iam.SubjectService:
		for i := range st.Subject.Services {
			if i > 0 && !c.punct(',') {
				return nil, nil, c.lost("a comma between services")
			}
			c.name()
		}
	}
	if !strings.EqualFold(c.word(), "to") {
		return nil, nil, c.lost(`"to"`)
	}
	if c.punct('{') {
		for !c.punct('}') {
			if c.eof() {
				return nil, nil, c.lost(`"}"`)
			}
			c.pos++
		}
	} else {
		c.word() // verb
		c.word() // resource type
	}
	if !strings.EqualFold(c.word(), "in") || !strings.EqualFold(c.word(), "compartment") {
		return refs, nil, nil // tenancy, or nothing to find
	}
	path = make([]span, len(st.Location.Path))
	for i := range st.Location.Path {
		if i > 0 && !c.punct(':') {
			return nil, nil, c.lost("a path separator")
		}
		path[i] = c.name()
	}
	return refs, path, nil
}

// cursor walks a statement with the policy language's word rules (the same
// spaces and punctuation as internal/iam's scanner).
type cursor struct {
	src string
	pos int
}

func (c *cursor) skipSpace() {
	for c.pos < len(c.src) && strings.IndexByte(" \t\n\r\f\v", c.src[c.pos]) >= 0 {
		c.pos++
	}
}

func (c *cursor) eof() bool { c.skipSpace(); return c.pos >= len(c.src) }

// word consumes a run of bytes that are neither space nor punctuation.
func (c *cursor) word() string {
	c.skipSpace()
	start := c.pos
	for c.pos < len(c.src) && strings.IndexByte(" \t\n\r\f\v{}(),'/:=!\"", c.src[c.pos]) < 0 {
		c.pos++
	}
	return c.src[start:c.pos]
}

// name consumes a bare word or a single-quoted name and returns the span of
// the name itself (inside the quotes).
func (c *cursor) name() span {
	c.skipSpace()
	if c.pos < len(c.src) && c.src[c.pos] == '\'' {
		end := strings.IndexByte(c.src[c.pos+1:], '\'')
		if end < 0 {
			c.pos = len(c.src)
			return span{}
		}
		s := span{c.pos + 1, c.pos + 1 + end}
		c.pos = s.end + 1
		return s
	}
	w := c.word()
	return span{c.pos - len(w), c.pos}
}

func (c *cursor) punct(b byte) bool {
	c.skipSpace()
	if c.pos < len(c.src) && c.src[c.pos] == b {
		c.pos++
		return true
	}
	return false
}

func (c *cursor) lost(expected string) error {
	return errs.E(errs.Internal, "statement walk: expected %s at position %d", expected, c.pos+1)
}

// compartmentTree resolves location paths the way the policy engine does
// (iam: relative to the policy's compartment; a first element naming that
// compartment itself means it), over ACTIVE compartments.
type compartmentTree struct {
	tenancyID string
	byID      map[string]Compartment
	children  map[string]map[string]string // parent -> lower(name) -> id
}

func newCompartmentTree(t Tenancy, comps []Compartment) compartmentTree {
	tr := compartmentTree{tenancyID: t.ID, byID: map[string]Compartment{}, children: map[string]map[string]string{}}
	for _, c := range comps {
		if c.State != StateActive {
			continue
		}
		tr.byID[c.ID] = c
		if tr.children[c.ParentID] == nil {
			tr.children[c.ParentID] = map[string]string{}
		}
		tr.children[c.ParentID][strings.ToLower(c.Name)] = c.ID
	}
	return tr
}

// resolve returns the compartment OCID each element of path names, for a
// policy attached to attach; elements past the first that does not resolve
// are "".
func (tr compartmentTree) resolve(attach string, path []string) []string {
	out := make([]string, len(path))
	cur := attach
	for i, name := range path {
		next, ok := tr.children[cur][strings.ToLower(name)]
		if !ok && i == 0 && attach != tr.tenancyID && strings.EqualFold(tr.byID[attach].Name, name) {
			next, ok = attach, true
		}
		if !ok {
			break
		}
		out[i], cur = next, next
	}
	return out
}
