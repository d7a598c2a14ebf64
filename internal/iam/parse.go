package iam

import (
	"fmt"
	"slices"
	"strings"
)

// Effect says whether a statement grants or blocks.
type Effect uint8

// The statement effects Coffer evaluates.
const (
	EffectAllow Effect = iota + 1
	EffectDeny
)

// SubjectKind is the kind of principal a statement names. A statement names
// one kind only (docs/oci-behaviours.md#policy-language).
type SubjectKind uint8

// The subject kinds.
const (
	SubjectGroup SubjectKind = iota + 1
	SubjectDynamicGroup
	SubjectAnyUser
	SubjectAnyGroup
	SubjectService
)

var subjectKindNames = [...]string{"", "group", "dynamic-group", "any-user", "any-group", "service"}

// String returns the subject keyword.
func (k SubjectKind) String() string {
	if int(k) < len(subjectKindNames) {
		return subjectKindNames[k]
	}
	return fmt.Sprintf("SubjectKind(%d)", k)
}

// PrincipalRef is one group or dynamic group in a subject: by OCID, or by
// name with an optional identity-domain prefix.
type PrincipalRef struct {
	ID     string
	Domain string
	Name   string
}

// Subject is who a statement is about.
type Subject struct {
	Kind SubjectKind
	// Refs are the groups or dynamic groups (Kind SubjectGroup or
	// SubjectDynamicGroup).
	Refs []PrincipalRef
	// Services are the service names (Kind SubjectService).
	Services []string
}

// Location is where a statement applies: the tenancy, one compartment by
// OCID, or a path of compartment names relative to the compartment the
// policy is attached to.
type Location struct {
	Tenancy       bool
	CompartmentID string
	Path          []string
}

// Statement is one parsed policy statement.
type Statement struct {
	// Text is the statement as written.
	Text    string
	Effect  Effect
	Subject Subject
	// Verb and ResourceType are set for the verb form; Permissions for the
	// permission-list form.
	Verb         Verb
	ResourceType string
	Permissions  []string
	Location     Location
	// Where is the text of the condition after "where"; empty if none.
	Where string

	cond  *cond
	perms permSet
}

// HasCondition reports whether the statement has a where clause.
func (s *Statement) HasCondition() bool { return s.cond != nil }

// ValidateStatement checks one statement's syntax and vocabulary (verbs,
// resource types, permissions, variables, operators) for the identity API's
// CreatePolicy and UpdatePolicy. Names of groups and compartments are not
// resolved here; Engine.Resolve does that against a snapshot. The error is a
// *SyntaxError with the position and what was expected.
func ValidateStatement(stmt string) error {
	_, err := Parse(stmt)
	return err
}

// Parse parses one statement.
func Parse(stmt string) (*Statement, error) {
	p := &scanner{src: stmt}
	st, err := parseStatement(p)
	if err != nil {
		return nil, err
	}
	return st, nil
}

const expectStart = `"Allow" or "Deny"`

func parseStatement(p *scanner) (*Statement, *SyntaxError) {
	st := &Statement{Text: p.src}
	if p.eof() {
		return nil, p.errExpected("a statement starting with " + expectStart)
	}
	first := p.peekWord()
	switch strings.ToLower(first) {
	case "allow":
		p.word()
		st.Effect = EffectAllow
	case "deny":
		p.word()
		st.Effect = EffectDeny
		if w := strings.ToLower(p.peekWord()); w == "admit" || w == "endorse" {
			p.skipSpace()
			return nil, &SyntaxError{Pos: p.pos + 1, Err: ErrUnsupported,
				Msg: fmt.Sprintf("%q statements are cross-tenancy; Coffer serves one tenancy", "deny "+w)}
		}
	case "endorse", "admit", "define":
		p.skipSpace()
		return nil, &SyntaxError{Pos: p.pos + 1, Err: ErrUnsupported,
			Msg: fmt.Sprintf("%q statements are cross-tenancy; Coffer serves one tenancy", first)}
	default:
		return nil, p.errExpected(`"Allow" or "Deny"`)
	}
	if err := parseSubject(p, &st.Subject); err != nil {
		return nil, err
	}
	if !p.keyword("to") {
		return nil, p.errExpected(`"to"`)
	}
	if err := parseGrant(p, st); err != nil {
		return nil, err
	}
	if !p.keyword("in") {
		return nil, p.errExpected(`"in" and a location`)
	}
	if err := parseLocation(p, &st.Location); err != nil {
		return nil, err
	}
	if p.keyword("where") {
		p.skipSpace()
		start := p.pos
		c, err := parseCond(p, 0)
		if err != nil {
			return nil, err
		}
		st.cond = c
		st.Where = strings.TrimSpace(p.src[start:p.pos])
	}
	if !p.eof() {
		if st.cond == nil {
			return nil, p.errExpected(`"where" or the end of the statement`)
		}
		return nil, p.errExpected("the end of the statement")
	}
	return st, nil
}

func parseSubject(p *scanner, sub *Subject) *SyntaxError {
	const expect = `a subject (group, dynamic-group, any-user, any-group, service)`
	w := p.peekWord()
	switch strings.ToLower(w) {
	case "any-user":
		p.word()
		sub.Kind = SubjectAnyUser
		return nil
	case "any-group":
		p.word()
		sub.Kind = SubjectAnyGroup
		return nil
	case "group":
		sub.Kind = SubjectGroup
	case "dynamic-group":
		sub.Kind = SubjectDynamicGroup
	case "service":
		p.word()
		sub.Kind = SubjectService
		for {
			p.skipSpace()
			n, ok := p.name()
			if !ok || isKeyword(n) {
				return p.errExpected("a service name")
			}
			sub.Services = append(sub.Services, strings.ToLower(n))
			if !p.punct(',') {
				return nil
			}
		}
	default:
		return p.errExpected(expect)
	}
	p.word()
	for {
		var ref PrincipalRef
		p.skipSpace()
		save := p.pos
		if strings.EqualFold(p.word(), "id") {
			if w := p.peekWord(); w != "" && !strings.EqualFold(w, "to") {
				ref.ID = p.word()
				if !looksLikeOCID(ref.ID) {
					p.pos -= len(ref.ID)
					return p.errExpected("an OCID (ocid1....)")
				}
				sub.Refs = append(sub.Refs, ref)
				if !p.punct(',') {
					return nil
				}
				continue
			}
		}
		p.pos = save
		kindWord := sub.Kind.String()
		n, ok := p.name()
		if !ok || strings.EqualFold(n, "to") {
			p.pos = save
			return p.errExpected(fmt.Sprintf("a %s name or \"id\" and an OCID", kindWord))
		}
		if isSubjectKeyword(n) {
			p.pos = save
			return &SyntaxError{Pos: save + 1, Msg: fmt.Sprintf("a statement names one kind of subject; found %q in a list of %ss", n, kindWord)}
		}
		if p.punct('/') {
			ref.Domain = n
			n, ok = p.name()
			if !ok {
				return p.errExpected(fmt.Sprintf("a %s name after the domain", kindWord))
			}
		}
		ref.Name = n
		sub.Refs = append(sub.Refs, ref)
		if !p.punct(',') {
			return nil
		}
	}
}

func isSubjectKeyword(w string) bool {
	switch strings.ToLower(w) {
	case "group", "dynamic-group", "any-user", "any-group", "service":
		return true
	}
	return false
}

func isKeyword(w string) bool {
	switch strings.ToLower(w) {
	case "to", "in", "where":
		return true
	}
	return false
}

func looksLikeOCID(s string) bool {
	return len(s) > len("ocid1.") && strings.HasPrefix(strings.ToLower(s), "ocid1.")
}

const expectVerb = `a verb (inspect, read, use, manage) or a permission list`

func parseGrant(p *scanner, st *Statement) *SyntaxError {
	if p.punct('{') {
		for {
			p.skipSpace()
			pos := p.pos
			w := p.word()
			if w == "" {
				return p.errExpected("a permission name")
			}
			pm, ok := permByName[strings.ToUpper(w)]
			if !ok {
				p.pos = pos
				return &SyntaxError{Pos: pos + 1, Expected: "a permission Coffer knows (e.g. SECRET_BUNDLE_READ, KEY_DECRYPT)", Found: w}
			}
			st.Permissions = append(st.Permissions, permNames[pm])
			st.perms.add(pm)
			if p.punct(',') {
				continue
			}
			if p.punct('}') {
				return nil
			}
			return p.errExpected(`"," or "}"`)
		}
	}
	p.skipSpace()
	pos := p.pos
	v := parseVerb(p.word())
	if v == VerbNone {
		p.pos = pos
		return p.errExpected(expectVerb)
	}
	st.Verb = v
	p.skipSpace()
	pos = p.pos
	rt := strings.ToLower(p.word())
	set, ok := expand(v, rt)
	if !ok {
		p.pos = pos
		e := p.errExpected("a resource type (" + strings.Join(ResourceTypes(), ", ") + ")")
		if rt == "identity-family" || rt == "iam-family" {
			e.Expected = "a resource type; IAM has no family type, name users, groups, dynamic-groups, policies, compartments or tenancies"
		} else if hint := nearest(rt, ResourceTypes()); hint != "" {
			e.Expected = fmt.Sprintf("a resource type (did you mean %q?)", hint)
		}
		return e
	}
	st.ResourceType = rt
	st.perms = set
	return nil
}

// nearest returns the candidate closest to s by edit distance, if close.
func nearest(s string, candidates []string) string {
	if s == "" {
		return ""
	}
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func parseLocation(p *scanner, loc *Location) *SyntaxError {
	switch {
	case p.keyword("tenancy"):
		loc.Tenancy = true
		return nil
	case p.keyword("compartment"):
	default:
		return p.errExpected(`"tenancy" or "compartment"`)
	}
	p.skipSpace()
	save := p.pos
	if strings.EqualFold(p.word(), "id") {
		p.skipSpace()
		pos := p.pos
		id := p.word()
		if !looksLikeOCID(id) {
			p.pos = pos
			return p.errExpected("a compartment OCID (ocid1.compartment...) or the tenancy OCID")
		}
		loc.CompartmentID = id
		return nil
	}
	p.pos = save
	for {
		p.skipSpace()
		n, ok := p.name()
		if !ok || (isKeyword(n) && n != "") {
			p.pos = save
			if ok {
				return &SyntaxError{Pos: save + 1, Expected: `a compartment name, a path A:B:C or "id" and an OCID`, Found: n}
			}
			return p.errExpected(`a compartment name, a path A:B:C or "id" and an OCID`)
		}
		loc.Path = append(loc.Path, n)
		if !p.punct(':') {
			return nil
		}
		save = p.pos
	}
}

// containsFold reports whether list holds s, ignoring case.
func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
