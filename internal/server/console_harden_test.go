package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/console"
	"github.com/coffer-vault/coffer/internal/server"
)

// --console-origin: behind a TLS-terminating proxy the server sees plain
// HTTP and the browser's Origin is the public https one. The console
// accepts exactly that origin and sets a Secure cookie; its own listener's
// origin, and X-Forwarded-* headers, are refused. A malformed origin stops
// the server before it starts.
func TestConsolePublicOrigin(t *testing.T) {
	_, err := server.Start(context.Background(), server.Config{Dev: true, Listen: "127.0.0.1:0", ConsoleOrigin: "https://vault.example.com/console"})
	if err == nil || !strings.Contains(err.Error(), "--console-origin") || !strings.Contains(err.Error(), "no path") {
		t.Fatalf("Start with an origin that has a path: %v", err)
	}
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.ConsoleOrigin = "HTTPS://Vault.Example.com:443/" }})
	adminID, _ := env.Provider.UserOCID()
	u, err := env.Identity(t).GetUser(context.Background(), identity.GetUserRequest{UserId: &adminID})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"userName": *u.Name, "password": uiPassword(t, env, adminID)})
	login := func(hdr map[string]string) *http.Response {
		req, err := http.NewRequest("POST", env.URL+"/console/login", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for name, hdr := range map[string]map[string]string{
		"the listener's origin": {"Origin": env.URL},
		"forwarded headers":     {"Origin": env.URL, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "vault.example.com"},
		"another origin":        {"Origin": "https://vault.example.org"},
	} {
		if resp := login(hdr); resp.StatusCode != http.StatusForbidden {
			t.Errorf("login with %s: %d, want 403", name, resp.StatusCode)
		}
	}
	resp := login(map[string]string{"Origin": "https://vault.example.com"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login with the public origin: %d", resp.StatusCode)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == console.CookieName {
			ck = c
		}
	}
	if ck == nil || !ck.Secure || !ck.HttpOnly {
		t.Fatalf("cookie behind the proxy = %+v", ck)
	}
}
