package ocid

import (
	"strings"
	"testing"
)

func TestNewIsValidAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id := New(Secret, "dev")
		if !Valid(id) {
			t.Fatalf("New produced invalid OCID %q", id)
		}
		if TypeOf(id) != Secret {
			t.Fatalf("TypeOf(%q) = %q", id, TypeOf(id))
		}
		if seen[id] {
			t.Fatalf("duplicate OCID %q", id)
		}
		seen[id] = true
	}
	if got := New(User, "dev"); TypeOf(got) != User || !Valid(got) {
		t.Fatalf("user OCID %q", got)
	}
}

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"ocid1.vault.oc1.dev.abc", true},
		{"ocid1.tenancy.oc1..abc", true},
		{"ocid1.vault.oc1.dev.", false},
		{"ocid2.vault.oc1.dev.abc", false},
		{"ocid1.vault.oc1.dev.ABC", false},
		{"ocid1.vault.oc1.dev.a/b", false},
		{"", false},
		{"ocid1..oc1.dev.abc", false},
	} {
		if got := Valid(tc.id); got != tc.ok {
			t.Errorf("Valid(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

// validBySplit is the straightforward definition Valid must agree with.
func validBySplit(id string) bool {
	if len(id) > 255 || !strings.HasPrefix(id, "ocid1.") {
		return false
	}
	parts := strings.Split(id, ".")
	if len(parts) < 5 || parts[1] == "" || parts[len(parts)-1] == "" {
		return false
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{"ocid1.tenancy.oc1..aaaa", "ocid1.", "ocid1..a.b.c", "ocid1.a.b.c.", "ocid1.a.b.c.d", "ocid1.A.b.c.d", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := Valid(id), validBySplit(id); got != want {
			t.Fatalf("Valid(%q) = %v, the definition says %v", id, got, want)
		}
	})
}

func TestParse(t *testing.T) {
	user := New(User, "")
	for _, tc := range []struct {
		id    string
		types []string
		want  error
	}{
		{user, nil, nil},
		{user, []string{User}, nil},
		{user, []string{Group, User}, nil},
		{user, []string{Vault}, ErrWrongType},
		{"ocid1.user.oc1..a\x00b", []string{User}, ErrMalformed},
		{"ocid1.user.oc1..\xff", nil, ErrMalformed},
		{"ocid1.user.oc1.." + strings.Repeat("a", 1100), nil, ErrMalformed},
		{"../../etc", nil, ErrMalformed},
		{"", []string{User}, ErrMalformed},
	} {
		id, err := Parse(tc.id, tc.types...)
		if err != tc.want {
			t.Errorf("Parse(%q, %v) error %v, want %v", tc.id, tc.types, err, tc.want)
		}
		if err == nil && (id.String() != tc.id || id.Type() != TypeOf(tc.id)) {
			t.Errorf("Parse(%q) = %q (type %q)", tc.id, id, id.Type())
		}
		if err != nil && id != "" {
			t.Errorf("Parse(%q) returned %q with an error", tc.id, id)
		}
	}
}

// FuzzParse: Parse accepts exactly the OCIDs Valid accepts, of the types
// asked for, and what it returns is the input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"ocid1.user.oc1..aaaa", "ocid1.vault.oc1.dev.a", "ocid1.user.oc1..a\x00", "ocid1.user.oc1..\xff\xfe",
		"..%2F..", "a/b", strings.Repeat("a", 1100), "ocid1.user.oc1..a\nb", "-1", "99999999999999999999"} {
		f.Add(s, User)
	}
	f.Fuzz(func(t *testing.T, s, typ string) {
		id, err := Parse(s, typ)
		switch {
		case !Valid(s):
			if err != ErrMalformed {
				t.Fatalf("Parse(%q) = %v, want ErrMalformed", s, err)
			}
		case TypeOf(s) != typ:
			if err != ErrWrongType {
				t.Fatalf("Parse(%q, %q) = %v, want ErrWrongType", s, typ, err)
			}
		case err != nil || string(id) != s:
			t.Fatalf("Parse(%q, %q) = %q, %v", s, typ, id, err)
		}
	})
}

func TestDerive(t *testing.T) {
	a := Derive(AvailabilityDomain, "dev", "ocid1.tenancy.oc1..t", "abcd:DEV-AD-1")
	if a != Derive(AvailabilityDomain, "dev", "ocid1.tenancy.oc1..t", "abcd:DEV-AD-1") {
		t.Fatal("Derive is not stable")
	}
	if !Valid(a) || TypeOf(a) != AvailabilityDomain || !strings.HasPrefix(a, "ocid1.availabilitydomain.oc1..") || len(Short(a)) != 60 {
		t.Fatalf("Derive gave %q", a)
	}
	// Seeds are length-prefixed: moving a boundary changes the OCID.
	if Derive(FaultDomain, "dev", "ab", "c") == Derive(FaultDomain, "dev", "a", "bc") {
		t.Fatal("seed boundaries collide")
	}
	if f := Derive(FaultDomain, "dev", "x"); !strings.HasPrefix(f, "ocid1.faultdomain.oc1.dev.") {
		t.Fatalf("fault domain OCID %q", f)
	}
}
