package ocid

import "testing"

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
