package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/usageapi"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/server"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/faulty"
	"github.com/coffer-vault/coffer/internal/usage"
)

// usageReport asks env for the usage report grouped by by, signed by p
// through the SDK's identity client, as `coffer usage` does.
func usageReport(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider, by string) (usage.Report, []byte, error) {
	t.Helper()
	ic, err := identity.NewIdentityClientWithConfigurationProvider(p)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&ic.BaseClient, env.URL)
	req, err := http.NewRequest(http.MethodGet, usageapi.Path+"?groupBy="+by, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ic.Call(context.Background(), req)
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return usage.Report{}, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r usage.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("usage report %s: %v", b, err)
	}
	return r, b, nil
}

func usageRow(r usage.Report, key string) usage.Row {
	for _, it := range r.Items {
		if it.Key == key {
			return it
		}
	}
	return usage.Row{Key: key}
}

// countingStore remembers the faulty wrapper a server opened its store
// through, to count its writes.
type countingStore struct {
	mu sync.Mutex
	fs *faulty.Store
}

func (c *countingStore) wrap(st store.Store) store.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fs = faulty.New(st)
	return c.fs
}

func (c *countingStore) puts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fs.Count(faulty.Put) + c.fs.Count(faulty.Delete)
}

// TestUsageCountsSecretRetrievals reads a secret through the official SDK
// and finds every read in the usage report, for its principal, operation
// and secret, with denied calls counted as denied; the reads write nothing
// to the store; the counts survive a restart; a caller without
// `read usage-report` gets 404.
func TestUsageCountsSecretRetrievals(t *testing.T) {
	const reads = 25
	var cs countingStore
	dir := coffertest.DataDir(t)
	quiet := func(c *server.Config) {
		// No background job, no periodic flush: the writes counted below
		// are the reads' own.
		c.JobInterval = time.Hour
		c.UsageFlushInterval = time.Hour
		c.WrapStore = cs.wrap
	}
	env := coffertest.Start(t, coffertest.Options{DataDir: dir, Config: quiet})
	f := vaultstest.On(t, env)
	s := f.CreateSecret(t, "usage-canary-name", "usage-canary-content")
	ctx := context.Background()
	get := func() error {
		_, err := f.Secrets.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
		return err
	}
	if err := get(); err != nil { // warm the caches
		t.Fatal(err)
	}
	before := cs.puts()
	for range reads {
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String("usage-canary-name"), VaultId: f.Vault.Id}); err != nil {
		t.Fatal(err)
	}
	if n := cs.puts() - before; n != 0 {
		t.Fatalf("%d reads wrote %d times to the store; counting must not write per request", reads+1, n)
	}

	nobody := env.NewUser(t, "usage-nobody")
	reader, err := sdksecrets.NewSecretsClientWithConfigurationProvider(nobody)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&reader.BaseClient, env.URL)
	for range 2 {
		_, err := reader.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
		assertNotAuthorized(t, err)
	}
	_, _, err = usageReport(t, env, nobody, usage.ByPrincipal)
	assertNotAuthorized(t, err)

	admin, err := env.Provider.UserOCID()
	if err != nil {
		t.Fatal(err)
	}
	nobodyID, err := nobody.UserOCID()
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		byP, raw, err := usageReport(t, env, env.Provider, usage.ByPrincipal)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if got := usageRow(byP, admin); got.Retrievals != reads+2 {
			t.Errorf("%s: admin %+v, want %d retrievals", when, got, reads+2)
		}
		if got := usageRow(byP, nobodyID); got.Denied != 3 || got.Retrievals != 0 {
			t.Errorf("%s: the user without policy %+v, want 3 denied (2 reads, 1 report)", when, got)
		}
		for _, canary := range []string{"usage-canary-name", "usage-canary-content", "dXNhZ2UtY2FuYXJ5LWNvbnRlbnQ"} {
			if strings.Contains(string(raw), canary) {
				t.Errorf("%s: the report holds %q", when, canary)
			}
		}
		bySecret, _, err := usageReport(t, env, env.Provider, usage.BySecret)
		if err != nil {
			t.Fatal(err)
		}
		if got := usageRow(bySecret, *s.Id); got.Retrievals != reads+2 || got.Denied != 2 {
			t.Errorf("%s: secret %+v, want %d retrievals and 2 denied", when, got, reads+2)
		}
		byOp, _, err := usageReport(t, env, env.Provider, usage.ByOperation)
		if err != nil {
			t.Fatal(err)
		}
		if got := usageRow(byOp, "GetSecretBundle"); got.Retrievals != reads+1 || got.Denied != 2 || got.Calls != reads+3 {
			t.Errorf("%s: GetSecretBundle %+v, want %d calls, %d retrievals, 2 denied", when, got, reads+3, reads+1)
		}
		if got := usageRow(byOp, "GetSecretBundleByName"); got.Retrievals != 1 {
			t.Errorf("%s: GetSecretBundleByName %+v", when, got)
		}
		if got := usageRow(byOp, "GetUsageReport"); got.Denied != 1 || got.Calls < 1 {
			t.Errorf("%s: GetUsageReport %+v, want the refused one", when, got)
		}
	}
	check("before the restart")
	if cs.puts() == before {
		t.Fatal("the report wrote nothing: the write counter does not see the usage flush, so it proves nothing above")
	}
	env.Stop() // flushes
	env = coffertest.Start(t, coffertest.Options{DataDir: dir, Config: quiet})
	check("after the restart")
	// Check the server logs of the second life: no canary.
	if strings.Contains(env.Logs.String(), "usage-canary-content") {
		t.Error("the log holds the secret's content")
	}
}

func assertNotAuthorized(t *testing.T, err error) {
	t.Helper()
	var se common.ServiceError
	if !errors.As(err, &se) || se.GetHTTPStatusCode() != http.StatusNotFound || se.GetCode() != "NotAuthorizedOrNotFound" {
		t.Fatalf("got %v, want 404 NotAuthorizedOrNotFound", err)
	}
}

// TestUsageTwoNodesOnePostgres: calls on two nodes sharing a database add
// up in one report, whichever node answers it.
func TestUsageTwoNodesOnePostgres(t *testing.T) {
	node := sharedNodes(t, func(c *server.Config) { c.UsageFlushInterval = time.Hour })
	a, b := node(coffertest.DataDir(t)), node(coffertest.DataDir(t))
	f := vaultstest.On(t, a)
	s := f.CreateSecret(t, "shared-usage", "v1")
	readerB, err := sdksecrets.NewSecretsClientWithConfigurationProvider(a.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&readerB.BaseClient, b.URL)
	ctx := context.Background()
	for range 3 {
		if _, err := f.Secrets.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: s.Id}); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if _, err := readerB.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: s.Id}); err != nil {
			t.Fatal(err)
		}
	}
	// b flushes twice (a flush adds to b's record of the hour, it does not
	// replace it), a's report flushes a.
	if err := b.Server.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := readerB.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: s.Id}); err != nil {
		t.Fatal(err)
	}
	if err := b.Server.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	for _, env := range []*coffertest.Env{a, b} {
		r, _, err := usageReport(t, env, a.Provider, usage.BySecret)
		if err != nil {
			t.Fatal(err)
		}
		if got := usageRow(r, *s.Id); got.Retrievals != 8 {
			t.Errorf("report from %s: %+v, want 8 retrievals (3 on a, 5 on b)", env.URL, got)
		}
	}
}

// TestUsageRetention: the background jobs purge usage records older than
// UsageRetention.
func TestUsageRetention(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) {
		c.JobInterval = time.Hour
		c.UsageRetention = time.Nanosecond // every hour that began is past it
	}})
	ctx := context.Background()
	ic := env.Identity(t)
	if _, err := ic.GetTenancy(ctx, identity.GetTenancyRequest{TenancyId: common.String(env.Tenancy(t))}); err != nil {
		t.Fatal(err)
	}
	if err := env.Server.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	env.Server.RunJobs(ctx)
	r, _, err := usageReport(t, env, env.Provider, usage.ByOperation)
	if err != nil {
		t.Fatal(err)
	}
	// Only the report's own call is left: it is counted when it ends,
	// after its answer.
	if got := usageRow(r, "GetTenancy"); got.Calls != 0 {
		t.Fatalf("GetTenancy %+v after the purge, want nothing", got)
	}
}
