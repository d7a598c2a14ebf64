package console_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The page's static rules: every input of the page has a label, every
// page id the browser tests use is in the page or its script, and the
// script never writes HTML from strings, storage, or anything to
// evaluate (the CSP would refuse eval, and the content must stay out of
// storage).
func TestAssetsRules(t *testing.T) {
	html, err := os.ReadFile("assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`<(input|textarea|select)[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(string(html), -1) {
		if !strings.Contains(string(html), `<label for="`+m[2]+`"`) {
			t.Errorf("input #%s has no label", m[2])
		}
	}
	if n := strings.Count(string(html), "<input") + strings.Count(string(html), "<textarea"); n != len(regexp.MustCompile(`<(input|textarea)[^>]*\bid=`).FindAllString(string(html), -1)) {
		t.Error("an input of the page has no id, so no label can name it")
	}
	// The script's inputs are labelled where it builds them.
	if !strings.Contains(string(js), `el("label", { for: "new-version-content"`) {
		t.Error("the new-version box has no label")
	}
	for _, id := range []string{"usage-since", "usage-until", "usage-group", "usage-price"} {
		if !strings.Contains(string(js), `field("`+id+`", "`) {
			t.Errorf("the usage form's #%s has no label", id)
		}
	}
	both := string(html) + string(js)
	for _, id := range []string{"login-user", "login-password", "login-submit", "logout", "nav-compartments", "nav-vaults",
		"compartments", "vaults", "keys", "secrets", "versions", "reveal", "hide", "content", "new-version-content",
		"new-version-submit", "denied", "denied-explain", "nav-explain", "explain-user", "explain-operation",
		"explain-group", "explain-dynamic-group", "explain-attributes", "explain-secret-name", "explain-variables",
		"explain-submit", "explain-result", "explain-suggestion",
		"nav-identity", "users", "groups", "dynamic-groups", "user-groups", "group-members", "matching-rule", "policies",
		"policy-name", "policy-description", "policy-statements", "policy-lint", "policy-lint-status", "policy-save", "policy-delete",
		"member-add-user", "member-add-submit", "ui-password", "ui-password-reset", "ui-password-hide", "ui-password-current", "denied-own", "denied-own-result",
		"new-user", "new-group", "new-dynamic-group",
		"new-vault", "new-vault-name", "new-vault-type", "new-vault-submit", "new-key", "new-key-name", "new-key-shape",
		"new-key-protection", "new-key-submit", "new-secret", "new-secret-name", "new-secret-key", "new-secret-content", "new-secret-submit",
		"key-cancel-deletion", "cancel-deletion", "schedule-deletion",
		"key-schedule-deletion", "rotate", "nav-usage", "usage-form", "usage-since", "usage-until", "usage-group", "usage-price",
		"usage-submit", "usage-range", "usage-rows", "usage-total", "usage"} {
		if !strings.Contains(both, `id="`+id+`"`) && !strings.Contains(both, `id: "`+id+`"`) && !strings.Contains(both, `"`+id+`", `) {
			t.Errorf("page id #%s is gone (docs/console.md lists it)", id)
		}
	}
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "localStorage", "sessionStorage",
		"indexedDB", "eval(", "new Function", "pushState"} {
		if strings.Contains(string(js), banned) {
			t.Errorf("app.js uses %s", banned)
		}
	}
	css, err := os.ReadFile("assets/app.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"prefers-color-scheme: dark", ":focus-visible", "max-width: 30rem"} {
		if !strings.Contains(string(css), want) {
			t.Errorf("app.css lacks %s", want)
		}
	}
}
