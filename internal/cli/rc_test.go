package cli

import (
	"strings"
	"testing"
)

func TestParseRC(t *testing.T) {
	rc, err := parseRC("# comment\n[OCI_CLI_SETTINGS]\ndefault_profile=IAD\n; other\n[IAD]\n  compartment-id :  ocid1.compartment..x  \nkms.management.vault.list.limit = 5\n")
	if err != nil {
		t.Fatal(err)
	}
	if rc[rcSettings][rcDefaultProfile] != "IAD" || rc["IAD"]["compartment-id"] != "ocid1.compartment..x" || rc["IAD"]["kms.management.vault.list.limit"] != "5" {
		t.Fatalf("rc = %v", rc)
	}
	for _, bad := range []string{"k = s3cret\n", "[IAD\nk=s3cret", "[]\n", "[A]\njust s3cret\n", "[A]\n= s3cret\n"} {
		if _, err := parseRC(bad); err == nil {
			t.Errorf("%q parsed", bad)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: error echoes the file: %v", bad, err)
		}
	}
}

// The option names and the oci CLI's camelCase JSON keys convert both
// ways.
func TestCamelKebab(t *testing.T) {
	for _, name := range []string{"compartment-id", "wait-for-state", "max-wait-seconds", "vault-id", "limit", "secret-content-content"} {
		if got := kebab(camel(name)); got != name {
			t.Errorf("kebab(camel(%q)) = %q", name, got)
		}
	}
}

func TestParseFromJSON(t *testing.T) {
	got, err := parseFromJSON(`{"compartmentId":"c","limit":5,"all":true,"keyShape":{"algorithm":"AES","length":32},"wait-for-state":["A","B"],"tags":["x"],"page":null}`,
		func(n string) bool { return n == "wait-for-state" })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"compartment-id": "c", "limit": "5", "all": "true",
		"key-shape": `{"algorithm":"AES","length":32}`, "wait-for-state": "A,B", "tags": `["x"]`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if strings.Join(got[k], ",") != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{`[]`, `{"a":1} {}`, `{"a":`, `{"waitForState":[1]}`, `{"vaultId":1,"vault-id":2}`} {
		if _, err := parseFromJSON(bad, func(n string) bool { return n == "wait-for-state" }); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}

func FuzzParseRC(f *testing.F) {
	for _, s := range []string{"[A]\nk=v\n", "k=v", "[\n", "[A]\n:\n", "[OCI_CLI_SETTINGS]\ndefault_profile=\x00\n", strings.Repeat("[A]", 1000), "\xff\xfe[A]\r\nk=v\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rc, err := parseRC(s)
		if err != nil {
			return
		}
		for name, sec := range rc {
			if name == "" || sec == nil {
				t.Fatalf("section %q: %v", name, sec)
			}
			for k := range sec {
				if k == "" || strings.ContainsAny(k, "\n") {
					t.Fatalf("key %q", k)
				}
			}
		}
	})
}

func FuzzParseFromJSON(f *testing.F) {
	for _, s := range []string{`{"compartmentId":"c"}`, `{"a":{"b":[1,2]}}`, `{"waitForState":["A"]}`, `{"a":1e999}`, `[]`, `null`, `{"a":"<&>"}`, `{"":1}`, "{\"a\":\"\\u0000\"}", "file:///etc/passwd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.HasPrefix(s, "file://") {
			return
		}
		out, err := parseFromJSON(s, func(n string) bool { return strings.HasPrefix(n, "w") })
		if err != nil {
			return
		}
		for k, v := range out {
			if v == nil {
				t.Fatalf("%q has no values", k)
			}
		}
	})
}
