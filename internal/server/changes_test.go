package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/changesapi"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/server"
	"github.com/coffer-vault/coffer/internal/store/faulty"
)

type feedItem struct {
	Sequence       uint64  `json:"sequence"`
	Kind           string  `json:"kind"`
	ID             string  `json:"id"`
	CompartmentID  string  `json:"compartmentId"`
	VaultID        string  `json:"vaultId"`
	Change         string  `json:"change"`
	CurrentVersion int64   `json:"currentVersionNumber"`
	Versions       []int64 `json:"versionNumbers"`
	Time           string  `json:"time"`
}

type feedPage struct {
	Items  []feedItem `json:"items"`
	Cursor string     `json:"cursor"`
	Reset  bool       `json:"reset"`
	raw    []byte
}

// changes reads the change feed signed by p through the SDK's secrets
// client, as pkg/secretcache and the agent do.
func changes(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider, q url.Values) (feedPage, error) {
	t.Helper()
	sc, err := sdksecrets.NewSecretsClientWithConfigurationProvider(p)
	if err != nil {
		t.Error(err)
		return feedPage{}, err
	}
	coffertest.Configure(&sc.BaseClient, env.URL)
	req, err := http.NewRequest(http.MethodGet, changesapi.Path+"?"+q.Encode(), nil)
	if err != nil {
		t.Error(err)
		return feedPage{}, err
	}
	resp, err := sc.Call(context.Background(), req)
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return feedPage{}, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return feedPage{}, err
	}
	var pg feedPage
	if err := json.Unmarshal(b, &pg); err != nil {
		t.Errorf("feed answer %s: %v", b, err)
	}
	pg.raw = b
	return pg, nil
}

func feedQuery(cursor string, wait int) url.Values {
	q := url.Values{"waitSeconds": {itoa(wait)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func mustChanges(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider, q url.Values) feedPage {
	t.Helper()
	pg, err := changes(t, env, p, q)
	if err != nil {
		t.Fatalf("change feed %v: %v", q, err)
	}
	return pg
}

// waitForWaiters waits until n long polls wait on the server.
func waitForWaiters(t *testing.T, srv *server.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for srv.ChangeWaiters() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d change feed waiters, want %d", srv.ChangeWaiters(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func itemsOf(pg feedPage, id string) []feedItem {
	var out []feedItem
	for _, it := range pg.Items {
		if it.ID == id {
			out = append(out, it)
		}
	}
	return out
}

func TestChangeFeed(t *testing.T) {
	// The head poll is an hour: only the commit's notification can wake a
	// waiter in time.
	f := vaultstest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.ChangePoll = time.Hour }})
	env := f.Env
	ctx := context.Background()
	start := mustChanges(t, env, env.Provider, url.Values{})
	if len(start.Items) != 0 || start.Cursor == "" || start.Reset {
		t.Fatalf("first answer %s, want no items and a cursor", start.raw)
	}

	const canary = "feed-canary-7f3a9c"
	a := f.CreateSecret(t, "feed-a", canary+"-v1")
	b := f.CreateSecret(t, "feed-b", canary+"-b")
	pg := mustChanges(t, env, env.Provider, feedQuery(start.Cursor, 5))
	if got := itemsOf(pg, *a.Id); len(got) != 1 || got[0].Change != "CREATED" || got[0].Kind != "SECRET" ||
		got[0].CurrentVersion != 1 || got[0].VaultID != *f.Vault.Id || got[0].CompartmentID != f.Tenancy {
		t.Fatalf("after CreateSecret: %s", pg.raw)
	}
	if got := itemsOf(pg, *b.Id); len(got) != 1 {
		t.Fatalf("B's creation missing: %s", pg.raw)
	}

	// A long poll waiting at the end wakes within 100 ms of UpdateSecret.
	type result struct {
		pg  feedPage
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		pg, err := changes(t, env, env.Provider, feedQuery(pg.Cursor, 30))
		done <- result{pg, err, time.Now()}
	}()
	waitForWaiters(t, env.Server, 1)
	if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: a.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vaultstest.Content(canary + "-v2")}}); err != nil {
		t.Fatal(err)
	}
	updated := time.Now()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if d := r.at.Sub(updated); d > localWakeBound {
		t.Errorf("long poll answered %v after UpdateSecret, want within %v", d, localWakeBound)
	}
	t.Logf("UpdateSecret to long-poll answer: %v", r.at.Sub(updated))
	if got := itemsOf(r.pg, *a.Id); len(got) != 1 || got[0].Change != "VERSION_CREATED" || got[0].CurrentVersion != 2 ||
		len(got[0].Versions) != 1 || got[0].Versions[0] != 2 {
		t.Fatalf("after UpdateSecret: %s", r.pg.raw)
	}
	cur := r.pg.Cursor

	// A PENDING version, then promoting it: VERSION_CREATED (CURRENT stays
	// 2), then STAGE_CHANGED with CURRENT 3.
	coffertest.NextSecond()
	if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: a.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vault.Base64SecretContentDetails{Content: vaultstest.B64(canary + "-v3"), Stage: vault.SecretContentDetailsStagePending}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: a.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		CurrentVersionNumber: common.Int64(3)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Vaults.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: b.Id}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Vault.Mgmt.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: &f.KeyID}); err != nil {
		t.Fatal(err)
	}
	pg = mustChanges(t, env, env.Provider, feedQuery(cur, 0))
	got := itemsOf(pg, *a.Id)
	if len(got) != 2 || got[0].Change != "VERSION_CREATED" || got[0].CurrentVersion != 2 || got[1].Change != "STAGE_CHANGED" || got[1].CurrentVersion != 3 {
		t.Fatalf("PENDING version and promotion: %s", pg.raw)
	}
	if got := itemsOf(pg, *b.Id); len(got) != 1 || got[0].Change != "DELETION_SCHEDULED" {
		t.Fatalf("ScheduleSecretDeletion: %s", pg.raw)
	}
	if got := itemsOf(pg, f.KeyID); len(got) != 1 || got[0].Change != "VERSION_CREATED" || got[0].Kind != "KEY" {
		t.Fatalf("CreateKeyVersion: %s", pg.raw)
	}
	for i := 1; i < len(pg.Items); i++ {
		if pg.Items[i].Sequence <= pg.Items[i-1].Sequence {
			t.Fatalf("sequences not increasing: %s", pg.raw)
		}
	}
	if strings.Contains(string(pg.raw), canary) || strings.Contains(string(pg.raw), "feed-a") {
		t.Fatalf("the feed shows content or names: %s", pg.raw)
	}

	// A narrow user sees only the secret its policy lets it read; a user
	// with no policy sees nothing, with 200.
	narrow := env.NewUser(t, "feed-narrow")
	grantGroup(t, env, narrow, "feed-readers",
		"read secret-bundles in tenancy where target.secret.name = 'feed-a'", "use keys in tenancy")
	nobody := env.NewUser(t, "feed-nobody")
	all := mustChanges(t, env, env.Provider, feedQuery(start.Cursor, 0))
	np := mustChanges(t, env, narrow, feedQuery(start.Cursor, 0))
	if len(np.Items) == 0 {
		t.Fatalf("narrow user sees nothing: %s", np.raw)
	}
	// "use keys" includes KEY_READ: the key's changes are the user's to see.
	for _, it := range np.Items {
		if it.ID != *a.Id && it.ID != f.KeyID {
			t.Fatalf("narrow user sees %s %s: %s", it.Kind, it.ID, np.raw)
		}
	}
	if len(itemsOf(all, *a.Id)) != len(itemsOf(np, *a.Id)) {
		t.Fatalf("narrow user sees %d of A's %d changes", len(itemsOf(np, *a.Id)), len(itemsOf(all, *a.Id)))
	}
	zp := mustChanges(t, env, nobody, feedQuery(start.Cursor, 0))
	if len(zp.Items) != 0 || zp.Cursor == start.Cursor || zp.Reset {
		t.Fatalf("user without policy: %s, want no items and an advanced cursor", zp.raw)
	}

	// Bad input.
	for _, q := range []url.Values{
		{"cursor": {"not-a-cursor"}},
		{"cursor": {start.Cursor + "x"}},
		{"waitSeconds": {"61"}},
		{"waitSeconds": {"-1"}},
		{"limit": {"0"}},
		{"limit": {"501"}},
	} {
		_, err := changes(t, env, env.Provider, q)
		var se common.ServiceError
		if !errors.As(err, &se) || se.GetHTTPStatusCode() != 400 || se.GetCode() != "InvalidParameter" {
			t.Errorf("%v: %v, want 400 InvalidParameter", q, err)
		}
	}
	// A well-formed cursor this deployment did not issue: reset.
	forged := []byte(start.Cursor)
	if forged[len(forged)-2] == 'A' {
		forged[len(forged)-2] = 'B'
	} else {
		forged[len(forged)-2] = 'A'
	}
	if pg := mustChanges(t, env, env.Provider, feedQuery(string(forged), 0)); !pg.Reset || len(pg.Items) != 0 {
		t.Fatalf("forged cursor: %s, want reset", pg.raw)
	}
	// Filtering writes no audit event per item: the feed call logs one line.
	const bundleEvent, feedEvent = `"operation":"GetSecretBundle"`, `"operation":"ListChanges","principal"`
	before, feedBefore := strings.Count(env.Logs.String(), bundleEvent), strings.Count(env.Logs.String(), feedEvent)
	if np := mustChanges(t, env, narrow, feedQuery(start.Cursor, 0)); len(np.Items) == 0 {
		t.Fatal("narrow user sees nothing")
	}
	if after := strings.Count(env.Logs.String(), bundleEvent); after != before {
		t.Fatalf("the feed logged %d GetSecretBundle events", after-before)
	}
	if n := strings.Count(env.Logs.String(), feedEvent) - feedBefore; n != 1 {
		t.Fatalf("the feed call logged %d audit events, want 1", n)
	}

	// Key state changes.
	cur = pg.Cursor
	if _, err := f.Vault.Mgmt.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: &f.KeyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Vault.Mgmt.EnableKey(ctx, keymanagement.EnableKeyRequest{KeyId: &f.KeyID}); err != nil {
		t.Fatal(err)
	}
	pg = mustChanges(t, env, env.Provider, feedQuery(cur, 0))
	if got := itemsOf(pg, f.KeyID); len(got) != 2 || got[0].Change != "DISABLED" || got[1].Change != "ENABLED" {
		t.Fatalf("DisableKey, EnableKey: %s", pg.raw)
	}
	if strings.Contains(env.Logs.String(), canary) {
		t.Fatal("content in the server's logs")
	}
}

// grantGroup puts the user p in a new group allowed grants.
func grantGroup(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider, name string, grants ...string) {
	t.Helper()
	ctx := context.Background()
	ic := env.Identity(t)
	tenancy := env.Tenancy(t)
	uid, err := p.UserOCID()
	if err != nil {
		t.Fatal(err)
	}
	g, err := ic.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &tenancy, Name: common.String(name), Description: common.String(name)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{
		UserId: &uid, GroupId: g.Id}}); err != nil {
		t.Fatal(err)
	}
	statements := make([]string, len(grants))
	for i, s := range grants {
		statements[i] = "allow group " + name + " to " + s
	}
	if _, err := ic.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &tenancy, Name: common.String(name), Description: common.String(name), Statements: statements}}); err != nil {
		t.Fatal(err)
	}
}

// TestChangeFeedRetentionAndShutdown: a cursor older than the retention
// gets reset, and a waiting long poll ends when the server stops.
func TestChangeFeedRetentionAndShutdown(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.ChangeRetention = time.Nanosecond }})
	env := f.Env
	start := mustChanges(t, env, env.Provider, feedQuery("", 0))
	f.CreateSecret(t, "feed-old", "x")
	env.Server.RunJobs(context.Background())
	pg := mustChanges(t, env, env.Provider, feedQuery(start.Cursor, 0))
	if !pg.Reset || len(pg.Items) != 0 || pg.Cursor == start.Cursor {
		t.Fatalf("expired cursor: %s, want reset", pg.raw)
	}
	fresh := mustChanges(t, env, env.Provider, feedQuery(pg.Cursor, 0))
	if fresh.Reset {
		t.Fatalf("the reset's cursor is reset again: %s", fresh.raw)
	}

	done := make(chan error, 1)
	go func() {
		_, err := changes(t, env, env.Provider, feedQuery(pg.Cursor, 60))
		done <- err
	}()
	waitForWaiters(t, env.Server, 1)
	stopped := time.Now()
	env.Stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll outlived the server")
	}
	if d := time.Since(stopped); d > 3*time.Second {
		t.Errorf("stopping took %v with a long poll waiting", d)
	}
}

// TestChangeFeedAcrossPostgresNodes: a long poll on node B wakes within a
// second of an UpdateSecret through node A.
func TestChangeFeedAcrossPostgresNodes(t *testing.T) {
	node := sharedNodes(t, func(c *server.Config) { c.SyncInterval = time.Hour })
	a, b := node(""), node("")
	f := vaultstest.On(t, a)
	sec := f.CreateSecret(t, "feed-pg", "v1")
	end := mustChanges(t, b, a.Provider, url.Values{})
	type result struct {
		pg  feedPage
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		pg, err := changes(t, b, a.Provider, feedQuery(end.Cursor, 30))
		done <- result{pg, err, time.Now()}
	}()
	waitForWaiters(t, b.Server, 1)
	if _, err := f.Vaults.UpdateSecret(context.Background(), vault.UpdateSecretRequest{SecretId: sec.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vaultstest.Content("v2")}}); err != nil {
		t.Fatal(err)
	}
	updated := time.Now()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("UpdateSecret on node A to long-poll answer on node B: %v", r.at.Sub(updated))
	if d := r.at.Sub(updated); d > time.Second {
		t.Errorf("node B answered %v after the write on node A, want within 1s", d)
	}
	if got := itemsOf(r.pg, *sec.Id); len(got) != 1 || got[0].Change != "VERSION_CREATED" || got[0].CurrentVersion != 2 {
		t.Fatalf("node B's answer: %s", r.pg.raw)
	}
}

// TestChangeFeedRolledBackChange: an UpdateSecret whose transaction fails
// to commit leaves no entry.
func TestChangeFeedRolledBackChange(t *testing.T) {
	cs := &countingStore{}
	f := vaultstest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.WrapStore = cs.wrap }})
	env := f.Env
	sec := f.CreateSecret(t, "feed-rollback", "v1")
	end := mustChanges(t, env, env.Provider, url.Values{})
	cs.mu.Lock()
	cs.fs.FailOn(faulty.Commit, 1, nil)
	cs.mu.Unlock()
	_, err := f.Vaults.UpdateSecret(context.Background(), vault.UpdateSecretRequest{SecretId: sec.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		Description: common.String("never committed")}})
	if err == nil {
		t.Fatal("UpdateSecret succeeded through a failing commit")
	}
	pg := mustChanges(t, env, env.Provider, feedQuery(end.Cursor, 0))
	if len(pg.Items) != 0 || pg.Cursor != end.Cursor {
		t.Fatalf("a rolled-back change left %s", pg.raw)
	}
	coffertest.NextSecond()
	if _, err := f.Vaults.UpdateSecret(context.Background(), vault.UpdateSecretRequest{SecretId: sec.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		Description: common.String("committed")}}); err != nil {
		t.Fatal(err)
	}
	pg = mustChanges(t, env, env.Provider, feedQuery(end.Cursor, 0))
	if got := itemsOf(pg, *sec.Id); len(got) != 1 || got[0].Change != "UPDATED" {
		t.Fatalf("after the committed update: %s", pg.raw)
	}
}
