package iam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

// Snapshot is the identity data a policy engine is compiled from: the
// compartment tree, groups, dynamic groups and policies of one tenancy, as
// the store holds them at one moment. Users' group memberships are not here:
// authentication resolves them into authz.Principal.GroupIDs.
type Snapshot struct {
	TenancyID   string
	TenancyName string
	// Compartments below the root; ParentID "" or the tenancy OCID means the root.
	Compartments  []Compartment
	Groups        []Group
	DynamicGroups []DynamicGroup
	Policies      []Policy
	// AdministratorsGroupID is OCI's default Administrators group: its
	// members are exempt from Deny statements. Empty: nobody is exempt.
	AdministratorsGroupID string
}

// Compartment is one node of the compartment tree.
type Compartment struct {
	ID, ParentID, Name string
}

// Group is an IAM group.
type Group struct {
	ID, Name string
}

// DynamicGroup is a dynamic group and its matching rule.
type DynamicGroup struct {
	ID, Name, MatchingRule string
}

// Policy is a named list of statements attached to a compartment (the
// tenancy OCID for the root).
type Policy struct {
	ID, Name, CompartmentID string
	Statements              []string
}

// Options change how the engine decides.
type Options struct {
	// MirrorOCITable turns off Coffer's secret-key rule
	// (docs/decisions.md#reading-a-secret-needs-use-keys):
	// by default GetSecretBundle and GetSecretBundleByName also need
	// KEY_DECRYPT on the secret's key, and CreateSecret and UpdateSecret with
	// new content also need KEY_ENCRYPT on it. Set it to decide exactly by
	// OCI's permission table (docs/oci-behaviours.md#reading-a-secret-bundle),
	// for teams that mirror a
	// tenancy.
	MirrorOCITable bool
	// Now is the clock for time conditions; nil means time.Now.
	Now func() time.Time
}

// Problem is a statement or matching rule that did not compile. It grants
// nothing; the rest of the snapshot still applies.
type Problem struct {
	PolicyID   string // or the dynamic group's OCID
	PolicyName string // or the dynamic group's name
	Index      int    // statement index in the policy; -1 for a matching rule
	Text       string
	Err        error
}

// Error describes the problem.
func (p Problem) Error() string {
	if p.Index < 0 {
		return fmt.Sprintf("dynamic group %q: matching rule: %v", p.PolicyName, p.Err)
	}
	return fmt.Sprintf("policy %q statement %d: %v", p.PolicyName, p.Index+1, p.Err)
}

// Unwrap returns the cause.
func (p Problem) Unwrap() error { return p.Err }

// ErrSnapshot marks a snapshot that cannot be compiled at all (a compartment
// whose parent is missing, a cycle, duplicate OCIDs).
var ErrSnapshot = errors.New("invalid identity snapshot")

// ErrUnresolved marks a statement naming a group, dynamic group or
// compartment that does not exist, or a location outside the policy's
// compartment subtree.
var ErrUnresolved = errors.New("unresolved name in statement")

type compNode struct {
	id, name string
	parent   int32
	pre, end int32 // pre-order interval: a descendant d has pre <= d.pre <= end
}

// grant is one compiled statement as seen from one subject and permission.
type grant struct {
	lo, hi int32 // compartment pre-order interval of the location
	cond   *cond
	stmt   int32
}

type subjIndex struct {
	allow [][]grant // by perm
	deny  [][]grant
}

func (s *subjIndex) add(p perm, g grant, deny bool) {
	list := &s.allow
	if deny {
		list = &s.deny
	}
	if *list == nil {
		*list = make([][]grant, len(permNames))
	}
	(*list)[p] = append((*list)[p], g)
}

type compiledStmt struct {
	st         *Statement
	policyID   string
	policyName string
	index      int
	loc        int32
	reason     string // "allowed by policy "P": <text>"
}

type dynGroup struct {
	id, name string
	rule     *MatchingRule
}

// Engine is a compiled policy snapshot. It is immutable and safe for
// concurrent use; a policy change means compiling a new Engine (see Holder).
type Engine struct {
	opts      Options
	now       func() time.Time
	tenancyID string
	admin     string

	comps   []compNode
	compIdx map[string]int32

	stmts      []compiledStmt
	bySubject  map[string]*subjIndex // group and dynamic-group OCIDs
	byService  map[string]*subjIndex
	anyUser    subjIndex
	anyGroup   subjIndex
	hasDeny    bool
	dgs        []dynGroup
	groupNames map[string]string // OCID -> name
	groupByNm  map[string]string // lower name -> OCID
	dgByNm     map[string]string
	childByNm  map[string]int32 // parent index + "/" + lower name -> child
	problems   []Problem
}

// Compile builds an engine from a snapshot. Statements and rules that do not
// compile are reported by Problems and grant nothing; only a snapshot whose
// compartment tree is broken is an error.
func Compile(snap *Snapshot, opts Options) (*Engine, error) {
	if snap == nil || snap.TenancyID == "" {
		return nil, fmt.Errorf("compile policies: %w: no tenancy", ErrSnapshot)
	}
	e := &Engine{
		opts:       opts,
		now:        opts.Now,
		tenancyID:  snap.TenancyID,
		admin:      snap.AdministratorsGroupID,
		compIdx:    map[string]int32{},
		bySubject:  map[string]*subjIndex{},
		byService:  map[string]*subjIndex{},
		groupNames: map[string]string{},
		groupByNm:  map[string]string{},
		dgByNm:     map[string]string{},
		childByNm:  map[string]int32{},
	}
	if e.now == nil {
		e.now = time.Now
	}
	if err := e.buildTree(snap); err != nil {
		return nil, fmt.Errorf("compile policies: %w", err)
	}
	for _, g := range snap.Groups {
		e.groupNames[g.ID] = g.Name
		e.groupByNm[strings.ToLower(g.Name)] = g.ID
	}
	for _, dg := range snap.DynamicGroups {
		e.groupNames[dg.ID] = dg.Name
		e.dgByNm[strings.ToLower(dg.Name)] = dg.ID
		r, err := ParseMatchingRule(dg.MatchingRule)
		if err != nil {
			e.problems = append(e.problems, Problem{PolicyID: dg.ID, PolicyName: dg.Name, Index: -1, Text: dg.MatchingRule, Err: err})
			continue
		}
		e.dgs = append(e.dgs, dynGroup{id: dg.ID, name: dg.Name, rule: r})
	}
	for _, pol := range snap.Policies {
		attach, ok := e.compIdx[pol.CompartmentID]
		if !ok {
			for i, text := range pol.Statements {
				e.problems = append(e.problems, Problem{PolicyID: pol.ID, PolicyName: pol.Name, Index: i, Text: text,
					Err: fmt.Errorf("%w: policy attached to unknown compartment %s", ErrUnresolved, pol.CompartmentID)})
			}
			continue
		}
		for i, text := range pol.Statements {
			if err := e.addStatement(pol, i, text, attach); err != nil {
				e.problems = append(e.problems, Problem{PolicyID: pol.ID, PolicyName: pol.Name, Index: i, Text: text, Err: err})
			}
		}
	}
	return e, nil
}

func (e *Engine) buildTree(snap *Snapshot) error {
	e.comps = append(e.comps, compNode{id: snap.TenancyID, name: snap.TenancyName, parent: -1})
	e.compIdx[snap.TenancyID] = 0
	for _, c := range snap.Compartments {
		if _, dup := e.compIdx[c.ID]; dup || c.ID == "" {
			return fmt.Errorf("%w: duplicate or empty compartment OCID %q", ErrSnapshot, c.ID)
		}
		e.compIdx[c.ID] = int32(len(e.comps))
		e.comps = append(e.comps, compNode{id: c.ID, name: c.Name})
	}
	children := make([][]int32, len(e.comps))
	for i, c := range snap.Compartments {
		idx := int32(i + 1)
		parent := int32(0)
		if c.ParentID != "" {
			p, ok := e.compIdx[c.ParentID]
			if !ok {
				return fmt.Errorf("%w: compartment %s has unknown parent %s", ErrSnapshot, c.ID, c.ParentID)
			}
			parent = p
		}
		e.comps[idx].parent = parent
		children[parent] = append(children[parent], idx)
		e.childByNm[fmt.Sprintf("%d/%s", parent, strings.ToLower(c.Name))] = idx
	}
	// Pre-order numbering, iteratively (trees may be deep).
	var counter int32
	seen := make([]bool, len(e.comps))
	type frame struct {
		n    int32
		next int
	}
	stack := []frame{{n: 0}}
	seen[0] = true
	e.comps[0].pre = counter
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next < len(children[top.n]) {
			ch := children[top.n][top.next]
			top.next++
			if seen[ch] {
				return fmt.Errorf("%w: compartment cycle at %s", ErrSnapshot, e.comps[ch].id)
			}
			seen[ch] = true
			counter++
			e.comps[ch].pre = counter
			stack = append(stack, frame{n: ch})
			continue
		}
		e.comps[top.n].end = counter
		stack = stack[:len(stack)-1]
	}
	for i, s := range seen {
		if !s {
			return fmt.Errorf("%w: compartment %s is not reachable from the tenancy (cycle)", ErrSnapshot, e.comps[i].id)
		}
	}
	return nil
}

// within reports whether compartment c is a or below a.
func (e *Engine) within(c, a int32) bool {
	return e.comps[a].pre <= e.comps[c].pre && e.comps[c].pre <= e.comps[a].end
}

// resolveLocation maps a statement's location to a compartment index,
// relative to the compartment the policy is attached to
// (docs/oci-behaviours.md#policy-language).
func (e *Engine) resolveLocation(loc Location, attach int32) (int32, error) {
	switch {
	case loc.Tenancy:
		if attach != 0 {
			return 0, fmt.Errorf("%w: \"in tenancy\" in a policy attached to compartment %q; a policy grants only within its compartment's subtree", ErrUnresolved, e.comps[attach].name)
		}
		return 0, nil
	case loc.CompartmentID != "":
		c, ok := e.compIdx[loc.CompartmentID]
		if !ok {
			return 0, fmt.Errorf("%w: compartment %s does not exist", ErrUnresolved, loc.CompartmentID)
		}
		if !e.within(c, attach) {
			return 0, fmt.Errorf("%w: compartment %s does not exist or is not part of the policy compartment subtree", ErrUnresolved, loc.CompartmentID)
		}
		return c, nil
	}
	cur := attach
	for i, name := range loc.Path {
		next, ok := e.childByNm[fmt.Sprintf("%d/%s", cur, strings.ToLower(name))]
		if !ok && i == 0 && attach != 0 && strings.EqualFold(e.comps[attach].name, name) {
			next, ok = attach, true // the docs' "attached to C: compartment CompartmentC"
		}
		if !ok {
			return 0, fmt.Errorf("%w: compartment %q not found under %q (paths are relative to the compartment the policy is attached to)", ErrUnresolved, strings.Join(loc.Path[:i+1], ":"), e.compName(cur))
		}
		cur = next
	}
	return cur, nil
}

func (e *Engine) compName(c int32) string {
	if c == 0 {
		return "tenancy"
	}
	return e.comps[c].name
}

// resolveSubject returns the index keys a statement's subject grants to.
func (e *Engine) resolveSubject(sub Subject) ([]*subjIndex, error) {
	var out []*subjIndex
	var errs []error
	switch sub.Kind {
	case SubjectAnyUser:
		return []*subjIndex{&e.anyUser}, nil
	case SubjectAnyGroup:
		return []*subjIndex{&e.anyGroup}, nil
	case SubjectService:
		for _, s := range sub.Services {
			out = append(out, e.index(e.byService, s))
		}
		return out, nil
	}
	names := e.groupByNm
	if sub.Kind == SubjectDynamicGroup {
		names = e.dgByNm
	}
	for _, ref := range sub.Refs {
		id := ref.ID
		if id == "" {
			if ref.Domain != "" && !strings.EqualFold(ref.Domain, "default") {
				errs = append(errs, fmt.Errorf("%w: identity domain %q (Coffer has only the Default domain)", ErrUnresolved, ref.Domain))
				continue
			}
			var ok bool
			id, ok = names[strings.ToLower(ref.Name)]
			if !ok {
				errs = append(errs, fmt.Errorf("%w: %s %q does not exist", ErrUnresolved, sub.Kind, ref.Name))
				continue
			}
		}
		out = append(out, e.index(e.bySubject, id))
	}
	return out, errors.Join(errs...)
}

func (e *Engine) index(m map[string]*subjIndex, key string) *subjIndex {
	s := m[key]
	if s == nil {
		s = &subjIndex{}
		m[key] = s
	}
	return s
}

func (e *Engine) addStatement(pol Policy, i int, text string, attach int32) error {
	st, err := Parse(text)
	if err != nil {
		return err
	}
	loc, err := e.resolveLocation(st.Location, attach)
	if err != nil {
		return err
	}
	subs, serr := e.resolveSubject(st.Subject)
	if len(subs) == 0 {
		return serr
	}
	idx := int32(len(e.stmts))
	e.stmts = append(e.stmts, compiledStmt{
		st: st, policyID: pol.ID, policyName: pol.Name, index: i, loc: loc,
		reason: fmt.Sprintf("allowed by policy %q: %s", pol.Name, text),
	})
	g := grant{lo: e.comps[loc].pre, hi: e.comps[loc].end, cond: st.cond, stmt: idx}
	deny := st.Effect == EffectDeny
	e.hasDeny = e.hasDeny || deny
	for _, s := range subs {
		st.perms.each(func(p perm) { s.add(p, g, deny) })
	}
	return serr // a partly resolved subject still grants to the names that exist
}

// Problems lists the statements and matching rules that did not compile.
func (e *Engine) Problems() []Problem { return append([]Problem(nil), e.problems...) }

// CheckStatement validates a statement for a policy attached to a
// compartment, resolving its names against this engine's snapshot: what the
// identity API calls on CreatePolicy/UpdatePolicy after ValidateStatement.
func (e *Engine) CheckStatement(stmt, compartmentID string) error {
	st, err := Parse(stmt)
	if err != nil {
		return err
	}
	attach, ok := e.compIdx[compartmentID]
	if !ok {
		return fmt.Errorf("%w: compartment %s does not exist", ErrUnresolved, compartmentID)
	}
	if _, err := e.resolveLocation(st.Location, attach); err != nil {
		return err
	}
	// Resolve against a scratch copy so the engine stays immutable.
	scratch := *e
	scratch.bySubject, scratch.byService = map[string]*subjIndex{}, map[string]*subjIndex{}
	_, err = scratch.resolveSubject(st.Subject)
	return err
}

// evalEnv is the variables of one check of one request.
type evalEnv struct {
	e      *Engine
	req    *authz.Request
	perm   perm
	target Target
	comp   int32
	t      time.Time
	tSet   bool
}

func (v *evalEnv) now() time.Time {
	if !v.tSet {
		v.t, v.tSet = v.e.now().UTC(), true
	}
	return v.t
}

func (v *evalEnv) groups() ([]string, bool) {
	p := v.req.Principal
	return p.GroupIDs, p.Type == authz.PrincipalUser
}

func nonEmpty(s string) (string, bool) { return s, s != "" }

func (v *evalEnv) lookup(k varKind, name string) (string, bool) {
	p, r := v.req.Principal, v.req
	pt := permType[v.perm]
	switch k {
	case varUserID:
		if p.Type != authz.PrincipalUser {
			return "", false
		}
		return nonEmpty(p.ID)
	case varPrincipalType:
		switch p.Type {
		case authz.PrincipalResource:
			if t, ok := principalResourceType(p); ok {
				return t, true
			}
			return "resource", true
		case "":
			return "", false
		}
		return string(p.Type), true
	case varPrincipalID:
		return nonEmpty(p.ID)
	case varPrincipalCompartmentID:
		if p.Type == authz.PrincipalUser {
			return "", false
		}
		return nonEmpty(p.CompartmentID)
	case varOperation:
		return nonEmpty(r.Operation)
	case varPermission:
		return permNames[v.perm], true
	case varTargetCompartmentID:
		return v.e.comps[v.comp].id, true
	case varTargetCompartmentName:
		return nonEmpty(v.e.comps[v.comp].name)
	case varTenantID:
		return v.e.tenancyID, true
	case varVaultID:
		switch {
		case pt == "vaults" || isKeyType(pt) || isSecretType(pt):
		default:
			return "", false
		}
		switch {
		case v.target == TargetKey && r.Key != nil && r.Key.VaultID != "":
			return r.Key.VaultID, true
		case v.target == TargetSecret && r.Secret != nil && r.Secret.VaultID != "":
			return r.Secret.VaultID, true
		case r.Vault != nil && r.Vault.ID != "":
			return r.Vault.ID, true
		}
		return "", false
	case varKeyID:
		if !isKeyType(pt) || v.target != TargetKey || r.Key == nil {
			return "", false
		}
		return nonEmpty(r.Key.ID)
	case varSecretName:
		if !isSecretType(pt) || r.Secret == nil {
			return "", false
		}
		return nonEmpty(r.Secret.Name)
	case varSecretID:
		if !isSecretType(pt) || r.Secret == nil {
			return "", false
		}
		return nonEmpty(r.Secret.ID)
	}
	// Generic variables (and request.user.name): the request's Vars, then
	// the principal's attributes (OKE workload attributes, tags).
	if val, ok := r.Vars[name]; ok {
		return val, true
	}
	for key, val := range r.Vars {
		if strings.EqualFold(key, name) {
			return val, true
		}
	}
	return attr(p, name)
}

// subjects collects the indexes that apply to a principal: its groups or
// matching dynamic groups, any-user, any-group, its service name.
func (e *Engine) subjects(p *authz.Principal, buf []*subjIndex, dgOut *[]string) []*subjIndex {
	out := buf[:0]
	switch p.Type {
	case authz.PrincipalUser:
		for _, g := range p.GroupIDs {
			if s := e.bySubject[g]; s != nil {
				out = append(out, s)
			}
		}
		if len(p.GroupIDs) > 0 {
			out = append(out, &e.anyGroup)
		}
	case authz.PrincipalInstance, authz.PrincipalResource:
		matched := false
		for i := range e.dgs {
			if e.dgs[i].rule.Matches(p) {
				matched = true
				if dgOut != nil {
					*dgOut = append(*dgOut, e.dgs[i].id)
				}
				if s := e.bySubject[e.dgs[i].id]; s != nil {
					out = append(out, s)
				}
			}
		}
		if matched {
			out = append(out, &e.anyGroup)
		}
	case authz.PrincipalService:
		if s := e.byService[strings.ToLower(serviceName(p))]; s != nil {
			out = append(out, s)
		}
	default:
		return out
	}
	return append(out, &e.anyUser)
}

// serviceName is a service principal's name ("objectstorage-us-phoenix-1",
// "faas"): the "service.name" attribute, else its ID.
func serviceName(p *authz.Principal) string {
	if v, ok := attr(p, "service.name"); ok {
		return v
	}
	return p.ID
}

// targetComp returns the compartment a check applies to.
func (e *Engine) targetComp(req *authz.Request, t Target) (int32, string, bool) {
	var id string
	switch t {
	case TargetTenancy:
		return 0, e.tenancyID, true
	case TargetCompartment:
		id = req.CompartmentID
	case TargetVault:
		if req.Vault == nil {
			return 0, "", false
		}
		id = req.Vault.CompartmentID
	case TargetKey:
		if req.Key == nil {
			return 0, "", false
		}
		id = req.Key.CompartmentID
	case TargetSecret:
		if req.Secret == nil {
			return 0, "", false
		}
		id = req.Secret.CompartmentID
	}
	c, ok := e.compIdx[id]
	return c, id, ok
}

// firstGrant returns the first statement among the subjects' grants for
// permission p that covers compartment c and whose condition holds; -1 if none.
func (e *Engine) firstGrant(subs []*subjIndex, deny bool, env *evalEnv) int32 {
	pre := e.comps[env.comp].pre
	for _, s := range subs {
		list := s.allow
		if deny {
			list = s.deny
		}
		if list == nil {
			continue
		}
		for i := range list[env.perm] {
			g := &list[env.perm][i]
			if g.lo <= pre && pre <= g.hi && (g.cond == nil || g.cond.eval(env)) {
				return g.stmt
			}
		}
	}
	return -1
}

func (e *Engine) exemptFromDeny(p *authz.Principal) bool {
	if e.admin == "" || p.Type != authz.PrincipalUser {
		return false
	}
	for _, g := range p.GroupIDs {
		if g == e.admin {
			return true
		}
	}
	return false
}

// reasonEveryPrincipal is the reason an everyPrincipal operation is allowed.
const reasonEveryPrincipal = "allowed: every principal of the tenancy may call it; what it returns is filtered by the caller's other rights"

// selfServiceAllowed: every user may list, upload and delete his own API keys,
// and create or reset his own console password,
// without a policy, as in OCI. The wire layer names the user in
// Vars["target.user.id"].
func selfServiceAllowed(req *authz.Request) bool {
	p := req.Principal
	return p.Type == authz.PrincipalUser && p.ID != "" && req.Vars["target.user.id"] == p.ID
}

// Authorize decides a request. It implements authz.Authorizer. Denials carry
// the same reason, missing permissions and suggestion as Explain.
func (e *Engine) Authorize(_ context.Context, req authz.Request) (authz.Decision, error) {
	if d, ok := e.fastAllow(&req); ok {
		return d, nil
	}
	x := e.Explain(req)
	return x.Decision(), nil
}

// fastAllow is the hot path: it decides an allowed request without building
// an explanation. It returns false when the request is not plainly allowed;
// Explain then works out why.
func (e *Engine) fastAllow(req *authz.Request) (authz.Decision, bool) {
	p := req.Principal
	if p == nil || p.TenancyID != e.tenancyID {
		return authz.Decision{}, false
	}
	op, ok := operations[req.Operation]
	if !ok {
		return authz.Decision{}, false
	}
	if op.selfService && selfServiceAllowed(req) {
		return authz.Decision{Allowed: true, Reason: "allowed: users manage their own credentials (API keys, console password)"}, true
	}
	if op.everyPrincipal {
		return authz.Decision{Allowed: true, Reason: reasonEveryPrincipal}, true
	}
	var buf [16]*subjIndex
	subs := e.subjects(p, buf[:], nil)
	checkDeny := e.hasDeny && !e.exemptFromDeny(p)
	// granted records, per check, the statement that granted it (-1: implicit).
	var granted [8]struct {
		perm perm
		stmt int32
	}
	ng := 0
	env := evalEnv{e: e, req: req}
	keyRule := !e.opts.MirrorOCITable && (op.keyRuleVar == "" || req.Vars[op.keyRuleVar] == "true")
	for pass := range 2 {
		list := op.checks
		if pass == 1 {
			if !keyRule {
				break
			}
			list = op.keyRule
		}
		for _, ch := range list {
			comp, _, ok := e.targetComp(req, ch.Target)
			if !ok {
				return authz.Decision{}, false
			}
			if ng == len(granted) {
				return authz.Decision{}, false // more checks than the hot path records
			}
			if ch.perm == permCompartmentInspect && p.Type == authz.PrincipalInstance {
				// Instances always hold COMPARTMENT_INSPECT (docs/oci-behaviours.md#dynamic-groups).
				granted[ng].perm, granted[ng].stmt = ch.perm, -1
				ng++
				continue
			}
			env.perm, env.target, env.comp = ch.perm, ch.Target, comp
			if checkDeny && e.firstGrant(subs, true, &env) >= 0 {
				return authz.Decision{}, false
			}
			s := e.firstGrant(subs, false, &env)
			if s < 0 {
				return authz.Decision{}, false
			}
			granted[ng].perm, granted[ng].stmt = ch.perm, s
			ng++
		}
	}
	// The same reason and matched list as Explain gives.
	d := authz.Decision{Allowed: true, Matched: make([]string, 0, ng)}
	reason := "allowed: has "
	for i, g := range granted[:ng] {
		if i > 0 {
			reason += "; "
		}
		if g.stmt < 0 {
			reason += permNames[g.perm] + " (" + noteInstanceInspect + ")"
			continue
		}
		text := e.stmts[g.stmt].st.Text
		reason += permNames[g.perm] + " via '" + text + "'"
		if !slices.Contains(d.Matched, text) {
			d.Matched = append(d.Matched, text)
		}
	}
	d.Reason = reason
	return d, true
}

// noteInstanceInspect explains the implicit grant.
const noteInstanceInspect = "instance principals always hold COMPARTMENT_INSPECT"

// Holder holds the current engine and swaps in a new one atomically when
// policies, groups or compartments change: each request sees one consistent
// snapshot, and the next request sees the change. It implements
// authz.Authorizer.
type Holder struct {
	p atomic.Pointer[Engine]
}

// ErrNoEngine is returned by a Holder that has no engine yet.
var ErrNoEngine = errors.New("no policy engine loaded")

// NewHolder returns a holder serving e (which may be nil until Update).
func NewHolder(e *Engine) *Holder {
	h := &Holder{}
	if e != nil {
		h.p.Store(e)
	}
	return h
}

// Engine returns the current engine, or nil.
func (h *Holder) Engine() *Engine { return h.p.Load() }

// Store swaps in a compiled engine.
func (h *Holder) Store(e *Engine) { h.p.Store(e) }

// Update compiles a snapshot and swaps it in; on error the old engine stays.
func (h *Holder) Update(snap *Snapshot, opts Options) error {
	e, err := Compile(snap, opts)
	if err != nil {
		return err
	}
	h.p.Store(e)
	return nil
}

// Authorize decides with the current engine. Without one it denies and
// returns ErrNoEngine.
func (h *Holder) Authorize(ctx context.Context, req authz.Request) (authz.Decision, error) {
	e := h.p.Load()
	if e == nil {
		return authz.Decision{Reason: "no policy engine loaded"}, ErrNoEngine
	}
	return e.Authorize(ctx, req)
}

var (
	_ authz.Authorizer = (*Engine)(nil)
	_ authz.Authorizer = (*Holder)(nil)
)
