package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// CreateSecret from the console is the API's CreateSecret as the session's
// user: created for the administrator (its content read back through the
// SDK), refused without the CSRF token and to a user without a policy;
// the content is in no answer and no log line.
func TestConsoleCreateSecret(t *testing.T) {
	p := startConsolePair(t)
	env := p.f.Env
	content := "created-in-console-" + strings.Repeat("8", 16)
	body, _ := json.Marshal(map[string]any{"compartmentId": p.f.Tenancy, "vaultId": *p.f.Vault.Id, "keyId": p.f.KeyID,
		"secretName": "console-created", "secretContent": map[string]string{"contentType": "BASE64",
			"content": base64.StdEncoding.EncodeToString([]byte(content))}})
	if status, b := p.do(t, "POST", "/console/api/secrets", string(body), &consoleUser{cookie: p.admin.cookie}); status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", "/console/api/secrets", string(body), p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody: %d %s", status, b)
	}
	status, b := p.do(t, "POST", "/console/api/secrets", string(body), p.admin)
	var s vault.Secret
	if status != http.StatusOK || json.Unmarshal(b, &s) != nil || s.Id == nil {
		t.Fatalf("create: %d %s", status, b)
	}
	if strings.Contains(string(b), content) || strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte(content))) {
		t.Error("the create answer holds the content")
	}
	got, _, err := p.f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	if err != nil || got != content {
		t.Fatalf("the SDK reads %q, %v", got, err)
	}
	if strings.Contains(env.Logs.String(), content) {
		t.Error("the content is in the server's log")
	}
	if evs := auditLines(env, "CreateSecret", p.nobodyID); len(evs) != 1 || evs[0]["allowed"] != false {
		t.Errorf("nobody's CreateSecret audit events: %v", evs)
	}
}

// The walk in a real browser: sign in, create a secret through the
// vault page's form, see its versions, reveal and hide it, add versions
// and schedule and cancel the deprecated one's deletion, rotate its key
// and do the same with the old key version, sign out; the content on the
// page only between Reveal and Hide.
func TestConsoleBrowserCreateSecret(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	f := vaultstest.On(t, env)
	adminName, password := adminConsolePassword(t, env)
	content := "typed-in-browser-" + strings.Repeat("3", 16)

	b, finish := openConsole(t, 60*time.Second)
	b.do(chromedp.EmulateViewport(1000, 900), chromedp.Navigate(env.URL+"/console/"))
	b.login(adminName, password)
	b.eval(`location.hash = "#/vault/" + ` + js(*f.Vault.Id))
	b.do(chromedp.WaitVisible(chromedp.CSS("#new-secret-submit")))
	b.checkAccessible()
	b.do(chromedp.SendKeys(chromedp.CSS("#new-secret-name"), "browser-made"),
		chromedp.SetValue(chromedp.CSS("#new-secret-key"), f.KeyID),
		chromedp.SendKeys(chromedp.CSS("#new-secret-content"), content),
		chromedp.Click(chromedp.CSS("#new-secret-submit")))
	b.poll(`location.hash.startsWith("#/secret/") && document.querySelector("#view h2") && document.querySelector("#view h2").textContent === "Secret browser-made" && document.querySelectorAll("#versions tr").length === 1`)
	holds := `[document.documentElement.outerHTML, document.body.innerText, location.href,
  JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])].some((s) => s.includes(` + js(content) + `))`
	if evalAs[bool](b, holds) {
		t.Fatal("the new secret's page holds its content before Reveal")
	}
	if st := evalAs[string](b, `document.querySelector('#versions tr[data-id="1"] td:nth-child(2)').textContent`); !strings.Contains(st, "CURRENT") {
		t.Fatalf("version 1's stages: %q", st)
	}
	b.do(chromedp.Click(chromedp.CSS("#reveal")))
	b.poll(`document.querySelector("#content").textContent === ` + js(content))
	b.do(chromedp.Click(chromedp.CSS("#hide")))
	b.poll(`document.querySelector("#content").textContent === ""`)
	if evalAs[bool](b, holds) {
		t.Fatal("the page holds the content after Hide")
	}
	secretID := strings.TrimPrefix(evalAs[string](b, `decodeURIComponent(location.hash)`), "#/secret/")
	got, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: &secretID})
	if err != nil || got != content {
		t.Fatalf("the SDK reads %q, %v", got, err)
	}
	// Two more versions through the form: version 1 is then deprecated,
	// and its deletion is scheduled and cancelled from its row.
	b.eval(`window.confirm = () => true`)
	for i, n := range []string{"2", "3"} {
		b.do(chromedp.SendKeys(chromedp.CSS("#new-version-content"), content+n), chromedp.Click(chromedp.CSS("#new-version-submit")))
		b.poll(fmt.Sprintf(`document.querySelectorAll("#versions tr").length === %d`, i+2))
	}
	v1 := `#versions tr[data-id="1"] `
	b.do(chromedp.Click(chromedp.CSS(v1 + "button.version-schedule-deletion")))
	b.poll(`document.querySelector(` + js(v1+"button.version-cancel-deletion") + `)`)
	b.do(chromedp.Click(chromedp.CSS(v1 + "button.version-cancel-deletion")))
	b.poll(`document.querySelector(` + js(v1+"button.version-schedule-deletion") + `)`)
	b.checkAccessible()

	// Rotate the secret's key from its page; schedule the old version's
	// deletion and cancel it.
	b.eval(`location.hash = ` + js("#/key/"+*f.Vault.Id+"/"+f.KeyID))
	b.poll(`document.querySelectorAll("#versions tr").length === 1`)
	b.do(chromedp.Click(chromedp.CSS("#rotate")))
	b.poll(`document.querySelectorAll("#versions tr").length === 2`)
	b.eval(`window.confirm = () => true`)
	b.do(chromedp.Click(chromedp.CSS("#versions button.version-schedule-deletion")))
	b.poll(`document.querySelector("#versions button.version-cancel-deletion") && document.querySelector("#versions").textContent.includes("PENDING_DELETION")`)
	b.do(chromedp.Click(chromedp.CSS("#versions button.version-cancel-deletion")))
	b.poll(`document.querySelector("#versions button.version-schedule-deletion") && !document.querySelector("#versions").textContent.includes("PENDING_DELETION")`)
	b.do(chromedp.Click(chromedp.CSS(selLogout)), chromedp.WaitVisible(chromedp.CSS(selUser)))
	finish()
	if strings.Contains(env.Logs.String(), content) {
		t.Error("the content is in the server's log")
	}
}
