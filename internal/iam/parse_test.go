package iam

import (
	"errors"
	"strings"
	"testing"
)

func TestParseStatement(t *testing.T) {
	st, err := Parse("Allow group 'Default'/'My Group', id ocid1.group.oc1..x to read secret-family in compartment A:B:'C' where any {target.secret.name = /db-*/, all {request.operation in ('GetSecret'), request.utc-timestamp before '2030-01-01Z'}}")
	if err != nil {
		t.Fatal(err)
	}
	if st.Effect != EffectAllow || st.Subject.Kind != SubjectGroup || len(st.Subject.Refs) != 2 {
		t.Fatalf("subject = %+v", st.Subject)
	}
	if r := st.Subject.Refs[0]; r.Domain != "Default" || r.Name != "My Group" {
		t.Errorf("ref 0 = %+v", r)
	}
	if r := st.Subject.Refs[1]; r.ID != "ocid1.group.oc1..x" {
		t.Errorf("ref 1 = %+v", r)
	}
	if st.Verb != VerbRead || st.ResourceType != "secret-family" {
		t.Errorf("grant = %v %s", st.Verb, st.ResourceType)
	}
	if strings.Join(st.Location.Path, ":") != "A:B:C" {
		t.Errorf("location = %+v", st.Location)
	}
	if !st.HasCondition() || !strings.HasPrefix(st.Where, "any {") {
		t.Errorf("where = %q", st.Where)
	}

	st, err = Parse("allow service FaaS, objectstorage-us-phoenix-1 to {KEY_READ,key_decrypt} in tenancy")
	if err != nil {
		t.Fatal(err)
	}
	if st.Subject.Kind != SubjectService || strings.Join(st.Subject.Services, ",") != "faas,objectstorage-us-phoenix-1" {
		t.Errorf("services = %v", st.Subject.Services)
	}
	if strings.Join(st.Permissions, ",") != "KEY_READ,KEY_DECRYPT" {
		t.Errorf("permissions = %v", st.Permissions)
	}

	st, err = Parse("Deny any-user to manage policies in tenancy where all {target.policy.type='deny', request.principal.id!='ocid1.user.oc1..a'}")
	if err != nil {
		t.Fatal(err)
	}
	if st.Effect != EffectDeny || st.Subject.Kind != SubjectAnyUser {
		t.Errorf("deny statement = %+v", st)
	}

	// Line breaks and extra spaces are insignificant.
	if _, err := Parse("Allow\n  group Developers\n  to use keys\n  in compartment id ocid1.compartment.oc1..a\n  where target.key.id='ocid1.key.oc1..k'  "); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		pos  int
		want string // substring of the message
		is   error
	}{
		{"Allow group Developers to reed secrets in tenancy", 27, `position 27: expected a verb (inspect, read, use, manage) or a permission list, found "reed"`, nil},
		{"", 1, `expected a statement starting with "Allow" or "Deny", found end of input`, nil},
		{"Permit group A to read secrets in tenancy", 1, `expected "Allow" or "Deny", found "Permit"`, nil},
		{"Allow groups A to read secrets in tenancy", 7, `expected a subject`, nil},
		{"Allow group A read secrets in tenancy", 15, `expected "to", found "read"`, nil},
		{"Allow group A to read secret in tenancy", 23, `did you mean "secrets"?`, nil},
		{"Allow group A to read identity-family in tenancy", 23, `IAM has no family type`, nil},
		{"Allow group A to {SECRET_BUNDLE_REED} in tenancy", 19, `a permission Coffer knows`, nil},
		{"Allow group A to {KEY_READ in tenancy", 28, `expected "," or "}", found "in"`, nil},
		{"Allow group A to read secrets", 30, `expected "in" and a location, found end of input`, nil},
		{"Allow group A to read secrets in region", 34, `expected "tenancy" or "compartment", found "region"`, nil},
		{"Allow group A to read secrets in compartment id foo", 49, `expected a compartment OCID`, nil},
		{"Allow group A to read secrets in tenancy where", 47, `expected a condition`, nil},
		{"Allow group A to read secrets in tenancy where target.secret.nam = 'x'", 48, `did you mean "target.secret.name"?`, nil},
		{"Allow group A to read secrets in tenancy where target.secret.name = x", 69, `expected a value in single quotes`, nil},
		{"Allow group A to read secrets in tenancy where target.secret.name = 'x", 69, `expected a value in single quotes`, nil},
		{"Allow group A to read secrets in tenancy where target.secret.name ~ 'x'", 67, `expected an operator`, nil},
		{"Allow group A to read secrets in tenancy where any {target.secret.name = 'x'", 77, `expected "," or "}", found end of input`, nil},
		{"Allow group A to read secrets in tenancy where target.secret.name before '2020-01-01Z'", 67, `applies only to request.utc-timestamp`, nil},
		{"Allow group A to read secrets in tenancy where request.utc-timestamp before '2020-13-01Z'", 77, `invalid time`, nil},
		{"Allow group A to read secrets in tenancy where request.utc-timestamp.month-of-year = '13'", 86, `from 1 to 12`, nil},
		{"Allow group A to read secrets in tenancy where request.utc-timestamp.day-of-week = 'funday'", 84, `English day name`, nil},
		{"Allow group A to read secrets in tenancy extra", 42, `expected "where" or the end of the statement, found "extra"`, nil},
		{"Allow group A, dynamic-group B to read secrets in tenancy", 16, `one kind of subject`, nil},
		{"Allow group id notanocid to read secrets in tenancy", 16, `expected an OCID`, nil},
		{"Endorse group A to manage object-family in any-tenancy", 1, `cross-tenancy`, ErrUnsupported},
		{"Define tenancy X as ocid1.tenancy.oc1..x", 1, `cross-tenancy`, ErrUnsupported},
		{"Deny admit group A of tenancy X to read secrets in tenancy", 6, `cross-tenancy`, ErrUnsupported},
	} {
		err := ValidateStatement(tc.stmt)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: err = %v, want *SyntaxError", tc.stmt, err)
			continue
		}
		if se.Pos != tc.pos {
			t.Errorf("%q: pos = %d, want %d (%v)", tc.stmt, se.Pos, tc.pos, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %q, want it to contain %q", tc.stmt, err, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%q: err is not %v", tc.stmt, tc.is)
		}
	}
}

func TestMatchingRules(t *testing.T) {
	for _, tc := range []struct {
		rule string
		ok   bool
		pos  int
	}{
		{"instance.compartment.id = 'ocid1.compartment.oc1..a'", true, 0},
		{"Any {instance.compartment.id = 'a', instance.compartment.id = 'b'}", true, 0},
		{"ALL {resource.type = 'fnfunc', resource.compartment.id = 'x'}", true, 0},
		{"All {instance.compartment.id = 'x', tag.department.operations.value = '45'}", true, 0},
		{"all {tag.ns.key.value, any {resource.id = 'a', resource.id != 'b'}}", true, 0},
		{"", false, 1},
		{"instance.idd = 'x'", false, 1},
		{"instance.id 'x'", false, 13},
		{"instance.id = x", false, 15},
		{"any {instance.id = 'x'", false, 23},
		{"any {instance.id = 'x'} trailing", false, 25},
		{"tag.ns.value = 'x'", false, 1},
		{"resource.type", false, 14},
	} {
		err := ValidateMatchingRule(tc.rule)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v, want ok=%v", tc.rule, err, tc.ok)
			continue
		}
		var se *SyntaxError
		if err != nil && (!errors.As(err, &se) || se.Pos != tc.pos) {
			t.Errorf("%q: err = %v, want position %d", tc.rule, err, tc.pos)
		}
	}
}

func TestMatchingRuleMatches(t *testing.T) {
	r, err := ParseMatchingRule("ANY {ALL {resource.type = 'fnfunc', resource.compartment.id = '" + tApp + "'}, instance.id = '" + instA.ID + "'}")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    bool
		who  bool
	}{
		{"fn", true, r.Matches(fn)},
		{"fnOther", false, r.Matches(fnOther)},
		{"instA", true, r.Matches(instA)},
		{"instC", false, r.Matches(instC)},
		{"user", false, r.Matches(alice)},
		{"nil", false, r.Matches(nil)},
	} {
		if tc.p != tc.who {
			t.Errorf("%s: Matches = %v, want %v", tc.name, tc.who, tc.p)
		}
	}
	// instance.* never matches a resource principal and vice versa.
	r, _ = ParseMatchingRule("instance.compartment.id = '" + tApp + "'")
	if r.Matches(fn) {
		t.Error("instance rule matched a function")
	}
	// != on a variable the principal lacks is false.
	r, _ = ParseMatchingRule("tag.dept.team.value != 'dev'")
	if r.Matches(instA) {
		t.Error("tag != matched a principal without the tag")
	}
	if !r.Matches(instTag) {
		t.Error("tag != did not match another value")
	}
}

func TestCheckStatement(t *testing.T) {
	e, err := Compile(baseSnapshot(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CheckStatement("Allow group Developers to read secrets in compartment CompartmentB", tCompA); err != nil {
		t.Errorf("valid statement: %v", err)
	}
	if err := e.CheckStatement("Allow group Nobody to read secrets in compartment CompartmentB", tCompA); !errors.Is(err, ErrUnresolved) {
		t.Errorf("unknown group: %v", err)
	}
	if err := e.CheckStatement("Allow group Developers to read secrets in tenancy", tCompA); !errors.Is(err, ErrUnresolved) {
		t.Errorf("tenancy from a compartment policy: %v", err)
	}
	var se *SyntaxError
	if err := e.CheckStatement("Allow group Developers to reed secrets in tenancy", tTenancy); !errors.As(err, &se) {
		t.Errorf("syntax: %v", err)
	}
}

func TestGlobFold(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"db-*", "DB-prod", true}, {"*hr", "bigHR", true}, {"*hr*", "xhRx", true}, {"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false}, {"abc", "ABC", true}, {"abc", "abcd", false}, {"*", "", true}, {"", "", true}, {"", "x", false},
		{"**a", "a", true}, {"a*a", "a", false},
	} {
		if got := globFold(tc.pat, tc.s); got != tc.want {
			t.Errorf("globFold(%q, %q) = %v", tc.pat, tc.s, got)
		}
	}
}

func checkSyntaxError(t *testing.T, input string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("%q: error %v is not a *SyntaxError", input, err)
	}
	if se.Pos < 1 || se.Pos > len(input)+1 {
		t.Fatalf("%q: position %d outside 1..%d: %v", input, se.Pos, len(input)+1, err)
	}
	if !strings.HasPrefix(err.Error(), "position ") {
		t.Fatalf("%q: message %q does not start with the position", input, err)
	}
}

func FuzzParseStatement(f *testing.F) {
	for _, seed := range []string{
		"Allow group Developers to read secret-family in compartment AppSecrets where target.secret.name = 'db-*'",
		"Allow any-user to {SECRET_BUNDLE_READ, SECRET_READ} in compartment X where request.principal.type = 'iotdomain'",
		"Allow group 'Domain B'/'My Group', id ocid1.group.oc1..x to use keys in compartment A:B:C where any {target.key.id = 'k', all {request.utc-timestamp.time-of-day between '17:00:00Z' and '01:00:00Z'}}",
		"Deny any-user to manage policies in tenancy where all {target.policy.type='deny', request.principal.id!='ocid1.user'}",
		"Allow service faas to {KEY_READ} in tenancy where request.operation='GetKeyVersion'",
		"Allow group A to read secrets in tenancy where request.utc-timestamp.month-of-year in ('6','7','8')",
		"Endorse group StorageAdmins to manage object-family in any-tenancy",
		"Allow group A to reed", "Allow group A to read secrets in tenancy where any {", "'", "/", "Allow group 'x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := Parse(s)
		checkSyntaxError(t, s, err)
		if err == nil {
			// A parsed statement re-prints to something that parses again.
			again := rewrite(st, "", "", "", "")
			if _, err := Parse(again); err != nil {
				t.Fatalf("%q parsed, but its rewrite %q does not: %v", s, again, err)
			}
			_ = Lint([]string{s}, LintOptions{})
		}
	})
}

func FuzzMatchingRule(f *testing.F) {
	for _, seed := range []string{
		"instance.compartment.id = 'ocid1.compartment.oc1..a'",
		"Any {instance.compartment.id = 'a', instance.compartment.id = 'b'}",
		"All {resource.type = 'fnfunc', resource.compartment.id = 'x'}",
		"All {instance.compartment.id = 'x', tag.department.operations.value = '45'}",
		"all {tag.ns.key.value, any {resource.id = 'a', resource.id != 'b'}}",
		"any {", "tag..value", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseMatchingRule(s)
		checkSyntaxError(t, s, err)
		if err == nil {
			r.Matches(instTag)
			r.Matches(fn)
			r.broad(tTenancy)
		}
	})
}
