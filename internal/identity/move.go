package identity

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Moving a compartment follows OCI's "Moving a Compartment to a Different
// Parent Compartment" (docs/oci-behaviours.md#moving-a-compartment):
//
//   - the subtree moves with it: its compartments, the policies attached in
//     it and everything the other services keep in it (they name the
//     compartment by OCID, so nothing of theirs is rewritten);
//   - access follows the new path: grants of the old ancestors stop, those
//     of the new ancestors apply, from the next request (the policy engine
//     is recompiled from the moved tree);
//   - a statement that names the compartment by a path ("compartment
//     Test:A") in a policy attached to a shared ancestor of the current and
//     the target parent is rewritten to the new path ("compartment Dev:A"),
//     in the transaction that moves; the same statement in a policy attached
//     elsewhere (below the old parent, say) is left as it is and no longer
//     resolves, so it grants nothing: OCI says it "must be manually
//     removed";
//   - refused: the root compartment; a target that is the compartment, one
//     of its descendants, its current parent, or not an ACTIVE compartment;
//     a target already holding a compartment of the same name, or named as
//     the compartment itself (both OCI rules); a move that would nest the
//     subtree deeper than MaxCompartmentDepth.

const rootNotMoved = "the root compartment (the tenancy) cannot be moved"

// MoveScope returns the compartment a MoveCompartment of id into target is
// authorized on, before anything changes: the lowest shared parent of the
// compartment's current parent and the target, when the target is an
// ACTIVE compartment of the tree (or the tenancy); otherwise the current
// parent, so a caller without rights where the compartment is learns
// nothing about the target. The root compartment, which cannot move, is
// InvalidParameter; a compartment that does not exist is NotFound.
func (s *Service) MoveScope(ctx context.Context, id, target string) (string, error) {
	var scope string
	err := s.st.View(ctx, func(r store.Reader) error {
		t, c, err := nonRootCompartment(r, id, rootNotMoved)
		if err != nil {
			return err
		}
		tr, err := loadTree(r, t)
		if err != nil {
			return err
		}
		scope = c.ParentID
		if lca, ok := tr.sharedParent(c.ParentID, target); ok {
			scope = lca
		}
		return nil
	})
	return scope, err
}

// MoveCompartment moves compartment id, with its subtree, under target,
// and returns the work request that records it. scope is the compartment
// the caller was authorized on (MoveScope): if the tree changed since, so
// that the lowest shared parent is another, the move is refused with
// Conflict and the caller asks again. Everything happens in one
// transaction: the compartment, its name index, the rewritten policies
// and the work request.
func (s *Service) MoveCompartment(ctx context.Context, id, target, scope, ifMatch string) (WorkRequest, error) {
	var w WorkRequest
	err := s.update(ctx, func(tx store.Tx) error {
		t, c, err := changeableCompartment(tx, id, ifMatch, rootNotMoved)
		if err != nil {
			return err
		}
		tr, err := loadTree(tx, t)
		if err != nil {
			return err
		}
		targetDepth, err := activeParent(tx, t, target)
		if err != nil {
			return err
		}
		switch {
		case target == id || tr.isAncestor(id, target):
			return errs.E(errs.Invalid, "compartment %s cannot move into itself or into its own subtree (target %s)", id, target)
		case target == c.ParentID:
			return errs.E(errs.Invalid, "compartment %s is already in compartment %s", id, target)
		}
		lca, _ := tr.sharedParent(c.ParentID, target)
		if lca != scope {
			return errs.E(errs.Conflict, "the compartment tree changed while the move of %s was being authorized; send the request again", id)
		}
		if target != t.ID && strings.EqualFold(tr.byID[target].Name, c.Name) {
			return errs.E(errs.Conflict, "compartment %q cannot move into a compartment of the same name", c.Name)
		}
		if d := targetDepth + 1 + tr.height(id); d > MaxCompartmentDepth {
			return errs.E(errs.LimitExceeded, "the move would nest compartments %d levels below the tenancy; at most %d are allowed", d, MaxCompartmentDepth)
		}
		if err := rewriteMovedPaths(tx, tr, c, target, lca); err != nil {
			return err
		}
		if err := tx.Delete(s.nameKey(nameCompartment, c.ParentID, c.Name)); err != nil {
			return err
		}
		if taken, err := record.Exists(tx, s.nameKey(nameCompartment, target, c.Name)); err != nil {
			return err
		} else if taken {
			return errs.E(errs.Conflict, "the target compartment already holds a compartment named %q", c.Name)
		}
		if err := record.Put(tx, s.nameKey(nameCompartment, target, c.Name), c.ID); err != nil {
			return err
		}
		c.ParentID = target
		c.ETag = etag.New()
		if err := record.Put(tx, prefixCompart+c.ID, c); err != nil {
			return err
		}
		w, err = s.compartmentWork(tx, WorkRequestMoveCompartment, "UPDATED", c)
		return err
	})
	if err != nil {
		return WorkRequest{}, fmt.Errorf("identity: move compartment %s: %w", id, err)
	}
	return w, nil
}

// tree is the compartment tree as a transaction sees it: every compartment
// by OCID (any state) and the tenancy.
type tree struct {
	tenancyID string
	byID      map[string]Compartment
	children  map[string][]string // parent -> ACTIVE children
}

func loadTree(r store.Reader, t Tenancy) (tree, error) {
	all, err := record.List[Compartment](r, prefixCompart)
	if err != nil {
		return tree{}, err
	}
	tr := tree{tenancyID: t.ID, byID: make(map[string]Compartment, len(all)), children: map[string][]string{}}
	for _, c := range all {
		tr.byID[c.ID] = c
		if c.State == StateActive {
			tr.children[c.ParentID] = append(tr.children[c.ParentID], c.ID)
		}
	}
	return tr, nil
}

// path returns id and its ancestors up to the tenancy, nearest first; false
// when id is not the tenancy or an ACTIVE compartment whose ancestors all
// are.
func (tr tree) path(id string) ([]string, bool) {
	var out []string
	for id != tr.tenancyID {
		c, ok := tr.byID[id]
		if !ok || c.State != StateActive || len(out) > MaxCompartmentDepth+1 {
			return nil, false
		}
		out = append(out, id)
		id = c.ParentID
	}
	return append(out, tr.tenancyID), true
}

// sharedParent returns the lowest compartment that is a or an ancestor of
// a and also b or an ancestor of b.
func (tr tree) sharedParent(a, b string) (string, bool) {
	pa, ok := tr.path(a)
	if !ok {
		return "", false
	}
	pb, ok := tr.path(b)
	if !ok {
		return "", false
	}
	for _, id := range pa {
		if slices.Contains(pb, id) {
			return id, true
		}
	}
	return "", false
}

// isAncestor reports whether a is a proper ancestor of b.
func (tr tree) isAncestor(a, b string) bool {
	p, ok := tr.path(b)
	return ok && slices.Contains(p[1:], a)
}

// height is how many levels of ACTIVE compartments lie below id (0 for a
// leaf).
func (tr tree) height(id string) int { return tr.heightBelow(id, 0) }

// heightBelow stops descending past MaxCompartmentDepth+1 levels: a tree
// that deep is refused anyway, and a damaged (cyclic) one cannot recurse
// forever.
func (tr tree) heightBelow(id string, level int) int {
	if level > MaxCompartmentDepth {
		return 0
	}
	h := 0
	for _, ch := range tr.children[id] {
		h = max(h, 1+tr.heightBelow(ch, level+1))
	}
	return h
}

// names returns the names on the way down from ancestor (excluded) to id
// (included); empty when id is ancestor.
func (tr tree) names(ancestor, id string) []string {
	var out []string
	for id != ancestor && id != tr.tenancyID {
		c := tr.byID[id]
		out = append(out, c.Name)
		id = c.ParentID
	}
	slices.Reverse(out)
	return out
}

// rewriteMovedPaths rewrites, in tx, the statements that name compartment c
// by a path in the policies attached to lca (the lowest shared parent of
// c's current parent and target) or above it, so that they name c at its
// new place under target. It runs before c's record changes, so paths
// resolve against the old tree. A rewritten policy gets a new etag.
func rewriteMovedPaths(tx store.Tx, tr tree, c Compartment, target, lca string) error {
	shared, ok := tr.path(lca)
	if !ok {
		return fmt.Errorf("identity: move: shared parent %s is not in the tree", lca)
	}
	policies, err := record.List[Policy](tx, prefixPolicy)
	if err != nil {
		return err
	}
	t := Tenancy{ID: tr.tenancyID}
	comps := make([]Compartment, 0, len(tr.byID))
	for _, v := range tr.byID {
		comps = append(comps, v)
	}
	resolver := newCompartmentTree(t, comps)
	policies = slices.DeleteFunc(policies, func(p Policy) bool { return !slices.Contains(shared, p.CompartmentID) })
	return rewriteStatements(tx, policies, func(p Policy, i int, text string) (string, bool, error) {
		out, ok, err := rewriteMovedStatement(text, p.CompartmentID, c.ID, tr.names(p.CompartmentID, target), func(path []string) []string {
			return resolver.resolve(p.CompartmentID, path)
		})
		if err != nil {
			return "", false, errs.Wrap(errs.Invalid, err, "policy %s statement %d names compartment %s by a path Coffer cannot rewrite for the move: %s", p.Name, i, c.Name, errs.Message(err))
		}
		return out, ok, nil
	})
}

// rewriteMovedStatement returns text with the location path that runs
// through compartment moved rewritten so that, from the policy's
// compartment, it runs through newParent (the names below the policy's
// compartment down to the new parent) instead, and whether it changed.
// attach is the policy's compartment; resolvePath resolves path elements
// from it as the policy engine does. The moved compartment's own name and
// whatever follows it stay as written; a first element naming the policy's
// compartment itself stays too. A statement
// that does not parse, or names no path through moved, is unchanged.
func rewriteMovedStatement(text, attach, moved string, newParent []string, resolvePath func([]string) []string) (string, bool, error) {
	st, err := iam.Parse(text)
	if err != nil || len(st.Location.Path) == 0 {
		return text, false, nil
	}
	resolved := resolvePath(st.Location.Path)
	at := slices.Index(resolved, moved)
	if at < 0 {
		return text, false, nil
	}
	_, spans, err := nameSpans(text, st)
	if err != nil {
		return "", false, err
	}
	// first is the first element that moves: 0, or 1 when the path starts
	// with the policy's own compartment ("compartment B:C" in a policy
	// attached to B), which stays.
	first := 0
	if resolved[0] == attach {
		first = 1
	}
	want := slices.Concat(st.Location.Path[:first], newParent, st.Location.Path[at:])
	start, end := quoted(text, spans[first]).start, quoted(text, spans[at]).start
	for _, q := range []bool{false, true} {
		prefix := ""
		for _, n := range newParent {
			if q {
				n = "'" + n + "'"
			}
			prefix += n + ":"
		}
		out := text[:start] + prefix + text[end:]
		got, err := iam.Parse(out)
		if err == nil && slices.Equal(got.Location.Path, want) && sameBesidesPath(st, got) {
			return out, true, nil
		}
	}
	return "", false, errs.E(errs.Invalid, "the rewritten path %s does not parse back", strings.Join(want, ":"))
}

// quoted widens a name's span to the quotes around it, if any.
func quoted(text string, s span) span {
	if s.start > 0 && text[s.start-1] == '\'' && s.end < len(text) && text[s.end] == '\'' {
		return span{s.start - 1, s.end + 1}
	}
	return s
}

// sameBesidesPath reports whether two parses of a statement differ at most
// in their location path.
func sameBesidesPath(a, b *iam.Statement) bool {
	return a.Effect == b.Effect && a.Subject.Kind == b.Subject.Kind && slices.Equal(a.Subject.Refs, b.Subject.Refs) &&
		slices.Equal(a.Subject.Services, b.Subject.Services) && a.Location.Tenancy == b.Location.Tenancy &&
		a.Location.CompartmentID == b.Location.CompartmentID && a.Verb == b.Verb && a.ResourceType == b.ResourceType &&
		slices.Equal(a.Permissions, b.Permissions) && a.Where == b.Where
}
