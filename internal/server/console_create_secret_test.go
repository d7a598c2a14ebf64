package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
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

// The walk in a real browser, from an empty tenancy: sign in,
// create a vault and a key in it, create a secret through the vault
// page's form, see its versions, reveal and hide it, add versions
// and schedule and cancel the deprecated one's deletion, rotate its key
// and do the same with the old key version, sign out; the content on the
// page only between Reveal and Hide.
func TestConsoleBrowserCreateSecret(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	adminName, password := adminConsolePassword(t, env)
	content := "typed-in-browser-" + strings.Repeat("3", 16)
	sc, err := sdksecrets.NewSecretsClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&sc.BaseClient, env.URL)

	b, finish := openConsole(t, 60*time.Second)
	b.do(chromedp.EmulateViewport(1000, 900), chromedp.Navigate(env.URL+"/console/"))
	b.login(adminName, password)
	// A vault, then an AES key in it, made with the pages' forms.
	b.do(chromedp.Click(chromedp.CSS("#nav-vaults")), chromedp.WaitVisible(chromedp.CSS("#new-vault-submit")))
	b.checkAccessible()
	b.do(chromedp.SendKeys(chromedp.CSS("#new-vault-name"), "browser-vault"), chromedp.Click(chromedp.CSS("#new-vault-submit")))
	b.poll(`location.hash.startsWith("#/vault/") && document.querySelector("#view h2") && document.querySelector("#view h2").textContent === "Vault browser-vault" && document.querySelector("#new-key-submit")`)
	vaultID := strings.TrimPrefix(evalAs[string](b, `decodeURIComponent(location.hash)`), "#/vault/")
	b.do(chromedp.SendKeys(chromedp.CSS("#new-key-name"), "browser-key"), chromedp.SetValue(chromedp.CSS("#new-key-shape"), "AES-256"),
		chromedp.SetValue(chromedp.CSS("#new-key-protection"), "SOFTWARE"), chromedp.Click(chromedp.CSS("#new-key-submit")))
	b.poll(`document.querySelectorAll("#keys li").length === 1 && document.querySelector("#new-secret-key") && document.querySelector("#new-secret-key").options.length === 1`)
	keyID := evalAs[string](b, `document.querySelector("#keys li").dataset.id`)
	v, err := keystest.VaultClient(t, env, env.Provider).GetVault(context.Background(), keymanagement.GetVaultRequest{VaultId: &vaultID})
	if err != nil || *v.DisplayName != "browser-vault" {
		t.Fatalf("the SDK sees the vault %+v, %v", v.Vault, err)
	}
	if k, err := keystest.Clients(t, env, v.Vault).Mgmt.GetKey(context.Background(), keymanagement.GetKeyRequest{KeyId: &keyID}); err != nil ||
		*k.DisplayName != "browser-key" || k.KeyShape.Algorithm != keymanagement.KeyShapeAlgorithmAes || k.ProtectionMode != keymanagement.KeyProtectionModeSoftware {
		t.Fatalf("the SDK sees the key %+v, %v", k.Key, err)
	}
	b.checkAccessible()
	b.do(chromedp.SendKeys(chromedp.CSS("#new-secret-name"), "browser-made"),
		chromedp.SetValue(chromedp.CSS("#new-secret-key"), keyID),
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
	bundle, err := sc.GetSecretBundle(context.Background(), sdksecrets.GetSecretBundleRequest{SecretId: &secretID})
	if err != nil || vaultstest.Decode(t, bundle.SecretBundle) != content {
		t.Fatalf("the SDK reads the secret: %v", err)
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
	b.eval(`location.hash = ` + js("#/key/"+vaultID+"/"+keyID))
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

// A vault and a key made from the console are CreateVault and CreateKey
// as the session's user (the key on the path's vault, as on its
// management endpoint): made for the administrator and seen through the
// SDK, refused without the CSRF token and to a user without a policy, and
// the API's 400 for a body it refuses.
func TestConsoleCreateVaultAndKey(t *testing.T) {
	p := startConsolePair(t)
	env := p.f.Env
	noCSRF := &consoleUser{cookie: p.admin.cookie}
	vaultBody := `{"compartmentId":"` + p.f.Tenancy + `","displayName":"console-vault","vaultType":"DEFAULT"}`
	if status, b := p.do(t, "POST", "/console/api/vaults", vaultBody, noCSRF); status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", "/console/api/vaults", vaultBody, p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", "/console/api/vaults", `{"compartmentId":"`+p.f.Tenancy+`"}`, p.admin); status != http.StatusBadRequest {
		t.Errorf("no displayName: %d %s", status, b)
	}
	status, b := p.do(t, "POST", "/console/api/vaults", vaultBody, p.admin)
	var v keymanagement.Vault
	if status != http.StatusOK || json.Unmarshal(b, &v) != nil || v.Id == nil {
		t.Fatalf("create vault: %d %s", status, b)
	}
	kv := keystest.Clients(t, env, v)
	keyPath := "/console/api/vaults/" + *v.Id + "/keys"
	keyBody := `{"compartmentId":"` + p.f.Tenancy + `","displayName":"console-key","keyShape":{"algorithm":"AES","length":32},"protectionMode":"SOFTWARE"}`
	if status, b := p.do(t, "POST", keyPath, keyBody, p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody's key: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", keyPath, strings.Replace(keyBody, `"length":32`, `"length":7`, 1), p.admin); status != http.StatusBadRequest {
		t.Errorf("a bad key length: %d %s", status, b)
	}
	status, b = p.do(t, "POST", keyPath, keyBody, p.admin)
	var k keymanagement.Key
	if status != http.StatusOK || json.Unmarshal(b, &k) != nil || k.Id == nil {
		t.Fatalf("create key: %d %s", status, b)
	}
	got, err := kv.Mgmt.GetKey(context.Background(), keymanagement.GetKeyRequest{KeyId: k.Id})
	if err != nil || *got.DisplayName != "console-key" || got.KeyShape.Algorithm != keymanagement.KeyShapeAlgorithmAes {
		t.Fatalf("the SDK sees %+v, %v", got.Key, err)
	}
	for _, op := range []string{"CreateVault", "CreateKey"} {
		if evs := auditLines(env, op, p.adminID); len(evs) == 0 {
			t.Errorf("%s not audited", op)
		}
	}
}
