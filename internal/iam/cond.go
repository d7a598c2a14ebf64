package iam

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// varKind identifies a condition variable the engine resolves itself; the
// rest (varGeneric) come from Request.Vars or the principal's attributes.
type varKind uint8

const (
	varGeneric varKind = iota
	varUserID
	varUserName
	varGroupsID
	varPrincipalType
	varPrincipalID
	varPrincipalCompartmentID
	varOperation
	varPermission
	varTimestamp
	varMonth
	varDayOfMonth
	varDayOfWeek
	varTimeOfDay
	varTargetCompartmentID
	varTargetCompartmentName
	varTenantID
	varVaultID
	varKeyID
	varSecretName
	varSecretID
)

// knownVars maps a lower-case variable name to its kind and to the spelling
// the wire layer uses as a Vars key (for generic variables).
var knownVars = map[string]struct {
	kind  varKind
	canon string
}{}

func init() {
	builtin := map[string]varKind{
		"request.user.id":                     varUserID,
		"request.user.name":                   varUserName,
		"request.groups.id":                   varGroupsID,
		"request.principal.type":              varPrincipalType,
		"request.principal.id":                varPrincipalID,
		"request.principal.compartment.id":    varPrincipalCompartmentID,
		"request.operation":                   varOperation,
		"request.permission":                  varPermission,
		"request.utc-timestamp":               varTimestamp,
		"request.utc-timestamp.month-of-year": varMonth,
		"request.utc-timestamp.day-of-month":  varDayOfMonth,
		"request.utc-timestamp.day-of-week":   varDayOfWeek,
		"request.utc-timestamp.time-of-day":   varTimeOfDay,
		"target.compartment.id":               varTargetCompartmentID,
		"target.compartment.name":             varTargetCompartmentName,
		"target.tenant.id":                    varTenantID,
		"target.vault.id":                     varVaultID,
		"target.key.id":                       varKeyID,
		"target.secret.name":                  varSecretName,
		"target.secret.id":                    varSecretID,
		"target.secret.ocid":                  varSecretID, // the old page's name (docs/oci-behaviours.md#open-points)
	}
	for name, k := range builtin {
		knownVars[name] = struct {
			kind  varKind
			canon string
		}{k, name}
	}
	for _, name := range []string{
		"request.user.mfaTotpVerified", "request.region", "request.ad", "request.networkSource.name",
		"request.service", "request.includePlainTextKey", "request.kms-key.id",
		"request.principal.namespace", "request.principal.service_account", "request.principal.cluster_id",
		"target.resource.kind", "target.workrequest.type",
		"target.user.id", "target.user.name",
		"target.group.id", "target.group.name", "target.group.member",
		"target.dynamicgroup.id", "target.dynamicgroup.name",
		"target.policy.id", "target.policy.name", "target.policy.type", "target.policy.autoupdate",
		"target.credential.type", "target.resource.domain.id", "target.resource.domain.name",
		"target.domain.id", "target.domain.name",
	} {
		knownVars[strings.ToLower(name)] = struct {
			kind  varKind
			canon string
		}{varGeneric, name}
	}
}

// tagVarPrefixes are the families of defined-tag variables; any namespace and
// key may follow.
var tagVarPrefixes = []string{
	"target.resource.tag.", "target.resource.compartment.tag.",
	"request.principal.group.tag.", "request.principal.compartment.tag.",
}

func lookupVar(name string) (varKind, string, bool) {
	l := strings.ToLower(name)
	if v, ok := knownVars[l]; ok {
		return v.kind, v.canon, true
	}
	for _, pre := range tagVarPrefixes {
		if rest, ok := strings.CutPrefix(l, pre); ok && strings.Count(rest, ".") == 1 && !strings.HasPrefix(rest, ".") && !strings.HasSuffix(rest, ".") {
			return varGeneric, name, true
		}
	}
	return 0, "", false
}

type condOp uint8

const (
	opAll condOp = iota + 1
	opAny
	opEq
	opNe
	opIn
	opBefore
	opAfter
	opBetween
	opPresent // matching rules only: a tag is present
)

// value is one compared value, lower-cased once at compile time.
type value struct {
	s       string // lower case
	pattern bool   // contains '*'
}

// cond is a compiled condition tree.
type cond struct {
	op   condOp
	kids []*cond

	v     varKind
	name  string // canonical variable name (generic variables)
	vals  []value
	ints  []int     // month, day of month, weekday values
	t     time.Time // before/after
	tod   [2]int    // between: seconds since midnight
	todOK bool      // before/after with a time-only value
}

const maxCondDepth = 32

// parseCond parses a where clause.
func parseCond(p *scanner, depth int) (*cond, *SyntaxError) {
	if depth > maxCondDepth {
		return nil, p.errExpected("a shallower condition (nesting too deep)")
	}
	p.skipSpace()
	save := p.pos
	w := p.word()
	if lw := strings.ToLower(w); (lw == "any" || lw == "all") && p.peek() == '{' {
		p.punct('{')
		c := &cond{op: opAll}
		if lw == "any" {
			c.op = opAny
		}
		for {
			k, err := parseCond(p, depth+1)
			if err != nil {
				return nil, err
			}
			c.kids = append(c.kids, k)
			if p.punct(',') {
				continue
			}
			if p.punct('}') {
				return c, nil
			}
			return nil, p.errExpected(`"," or "}"`)
		}
	}
	p.pos = save
	return parsePredicate(p)
}

func parsePredicate(p *scanner) (*cond, *SyntaxError) {
	p.skipSpace()
	varPos := p.pos
	name := p.word()
	if name == "" {
		return nil, p.errExpected("a condition: a variable (e.g. target.secret.name), any {...} or all {...}")
	}
	kind, canon, ok := lookupVar(name)
	if !ok {
		e := &SyntaxError{Pos: varPos + 1, Expected: "a variable Coffer knows (request.*, target.*)", Found: name}
		names := make([]string, 0, len(knownVars))
		for n := range knownVars {
			names = append(names, n)
		}
		if hint := nearest(strings.ToLower(name), names); hint != "" {
			e.Expected = fmt.Sprintf("a variable Coffer knows (did you mean %q?)", hint)
		}
		return nil, e
	}
	c := &cond{v: kind, name: canon}
	p.skipSpace()
	opPos := p.pos
	switch {
	case p.punct('='):
		c.op = opEq
	case strings.HasPrefix(p.src[p.pos:], "!="):
		p.pos += 2
		c.op = opNe
	case p.keyword("in"):
		c.op = opIn
	case p.keyword("before"):
		c.op = opBefore
	case p.keyword("after"):
		c.op = opAfter
	case p.keyword("between"):
		c.op = opBetween
	default:
		return nil, p.errExpected(`an operator (=, !=, in, before, after, between)`)
	}
	switch c.op {
	case opBefore, opAfter:
		if kind != varTimestamp && kind != varTimeOfDay {
			return nil, errAt(opPos, "%q applies only to request.utc-timestamp and request.utc-timestamp.time-of-day", opWord(c.op))
		}
	case opBetween:
		if kind != varTimeOfDay {
			return nil, errAt(opPos, `"between" applies only to request.utc-timestamp.time-of-day`)
		}
	default:
		if kind == varTimestamp || kind == varTimeOfDay {
			return nil, errAt(opPos, "%s takes before/after%s, not %q", canon, map[bool]string{true: "/between", false: ""}[kind == varTimeOfDay], opWord(c.op))
		}
	}
	switch c.op {
	case opEq, opNe:
		p.skipSpace()
		vpos := p.pos
		v, pat, ok := scanValue(p)
		if !ok {
			return nil, p.errExpected(`a value in single quotes ('...') or a pattern (/.../)`)
		}
		if err := c.addValue(v, pat, vpos); err != nil {
			return nil, err
		}
	case opIn:
		if !p.punct('(') {
			return nil, p.errExpected(`"(" and a list of quoted values`)
		}
		for {
			p.skipSpace()
			vpos := p.pos
			v, ok := p.quoted()
			if !ok {
				return nil, p.errExpected("a value in single quotes")
			}
			if err := c.addValue(v, false, vpos); err != nil {
				return nil, err
			}
			if p.punct(',') {
				continue
			}
			if p.punct(')') {
				break
			}
			return nil, p.errExpected(`"," or ")"`)
		}
	case opBefore, opAfter:
		p.skipSpace()
		vpos := p.pos
		v, ok := p.quoted()
		if !ok {
			return nil, p.errExpected("a time in single quotes, e.g. '2026-01-01T00:00:00Z'")
		}
		if kind == varTimeOfDay {
			s, ok := parseTimeOfDay(v)
			if !ok {
				return nil, errAt(vpos, "invalid time of day %q: use 'hh:mm:ssZ' or 'hh:mmZ'", v)
			}
			c.tod[0], c.todOK = s, true
		} else {
			t, ok := parseTimestamp(v)
			if !ok {
				return nil, errAt(vpos, "invalid time %q: use ISO 8601 in UTC, e.g. '2026-01-01T00:00:00Z', '2026-01-01T00:00Z' or '2026-01-01Z'", v)
			}
			c.t = t
		}
	case opBetween:
		for i := range 2 {
			if i == 1 && !p.keyword("and") {
				return nil, p.errExpected(`"and"`)
			}
			p.skipSpace()
			vpos := p.pos
			v, ok := p.quoted()
			if !ok {
				return nil, p.errExpected("a time of day in single quotes, e.g. '17:00:00Z'")
			}
			s, ok := parseTimeOfDay(v)
			if !ok {
				return nil, errAt(vpos, "invalid time of day %q: use 'hh:mm:ssZ' or 'hh:mmZ'", v)
			}
			c.tod[i] = s
		}
	}
	return c, nil
}

func opWord(op condOp) string {
	return [...]string{"", "all", "any", "=", "!=", "in", "before", "after", "between", ""}[op]
}

// scanValue reads 'text' or /pattern/.
func scanValue(p *scanner) (string, bool, bool) {
	switch p.peek() {
	case '\'':
		v, ok := p.quoted()
		return v, false, ok
	case '/':
		end := strings.IndexByte(p.src[p.pos+1:], '/')
		if end < 0 {
			return "", false, false
		}
		v := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return v, true, true
	}
	return "", false, false
}

// addValue validates and stores one compared value. Values are compared
// case-insensitively (docs/oci-behaviours.md#policy-language), so they are lower-cased once here.
func (c *cond) addValue(v string, slashes bool, pos int) *SyntaxError {
	switch c.v {
	case varMonth, varDayOfMonth:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		hi := 12
		if c.v == varDayOfMonth {
			hi = 31
		}
		if err != nil || n < 1 || n > hi || slashes {
			return errAt(pos, "invalid value %q: expected a number from 1 to %d in single quotes", v, hi)
		}
		c.ints = append(c.ints, n)
		return nil
	case varDayOfWeek:
		d, ok := weekdays[strings.ToLower(strings.TrimSpace(v))]
		if !ok || slashes {
			return errAt(pos, "invalid value %q: expected an English day name such as 'monday'", v)
		}
		c.ints = append(c.ints, int(d))
		return nil
	}
	l := strings.ToLower(v)
	c.vals = append(c.vals, value{s: l, pattern: slashes || strings.Contains(l, "*")})
	return nil
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

func parseTimestamp(v string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z", "2006-01-02T15:04Z", "2006-01-02Z", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func parseTimeOfDay(v string) (int, bool) {
	for _, layout := range []string{"15:04:05Z", "15:04Z"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.Hour()*3600 + t.Minute()*60 + t.Second(), true
		}
	}
	return 0, false
}

// globFold matches s against a lower-case pattern with '*' wildcards,
// ignoring ASCII case in s, without allocating.
func globFold(pattern, s string) bool {
	// Iterative wildcard matching with backtracking to the last star.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(pattern) && pattern[pi] == '*' {
			star, mark = pi, si
			pi++
			continue
		}
		if pi < len(pattern) && pattern[pi] == lowerASCII(s[si]) {
			pi++
			si++
			continue
		}
		if star >= 0 {
			pi = star + 1
			mark++
			si = mark
			continue
		}
		return false
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// equalFoldLower compares s with an already lower-case string.
func equalFoldLower(lower, s string) bool {
	if len(lower) != len(s) {
		return strings.EqualFold(lower, s) // non-ASCII folding may change lengths
	}
	for i := 0; i < len(s); i++ {
		if lower[i] != lowerASCII(s[i]) {
			if s[i] >= 0x80 || lower[i] >= 0x80 {
				return strings.EqualFold(lower, s)
			}
			return false
		}
	}
	return true
}

func (v value) match(s string) bool {
	if v.pattern {
		return globFold(v.s, s)
	}
	return equalFoldLower(v.s, s)
}

// eval evaluates c. A variable that does not apply makes its predicate false,
// whatever the operator, including != (docs/oci-behaviours.md#policy-language).
func (c *cond) eval(e *evalEnv) bool {
	switch c.op {
	case opAll:
		for _, k := range c.kids {
			if !k.eval(e) {
				return false
			}
		}
		return true
	case opAny:
		for _, k := range c.kids {
			if k.eval(e) {
				return true
			}
		}
		return false
	}
	switch c.v {
	case varGroupsID:
		gs, ok := e.groups()
		if !ok {
			return false
		}
		any := false
		for _, g := range gs {
			if c.anyValue(g) {
				any = true
				break
			}
		}
		if c.op == opNe {
			return !any
		}
		return any
	case varTimestamp:
		t := e.now()
		if c.op == opBefore {
			return t.Before(c.t)
		}
		return t.After(c.t)
	case varTimeOfDay:
		t := e.now().UTC()
		s := t.Hour()*3600 + t.Minute()*60 + t.Second()
		switch c.op {
		case opBefore:
			return s < c.tod[0]
		case opAfter:
			return s > c.tod[0]
		}
		lo, hi := c.tod[0], c.tod[1]
		if lo <= hi {
			return lo <= s && s <= hi
		}
		return s >= lo || s <= hi // wraps past midnight
	case varMonth, varDayOfMonth, varDayOfWeek:
		t := e.now().UTC()
		var n int
		switch c.v {
		case varMonth:
			n = int(t.Month())
		case varDayOfMonth:
			n = t.Day()
		default:
			n = int(t.Weekday())
		}
		found := false
		for _, x := range c.ints {
			if x == n {
				found = true
				break
			}
		}
		if c.op == opNe {
			return !found
		}
		return found
	}
	s, ok := e.lookup(c.v, c.name)
	if !ok {
		return false
	}
	m := c.anyValue(s)
	if c.op == opNe {
		return !m
	}
	return m
}

func (c *cond) anyValue(s string) bool {
	for _, v := range c.vals {
		if v.match(s) {
			return true
		}
	}
	return false
}
