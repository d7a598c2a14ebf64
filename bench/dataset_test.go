package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/devmode"
	"github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/secrets"
	"github.com/coffer-vault/coffer/internal/server"
)

// dataset is a prepared data directory: a dev tenancy whose administrator
// signs the requests, a vault with an AES key, secrets, and policies.
type dataset struct {
	dir        string
	config     string // DIR/oci/config, profile DEFAULT: the administrator
	tenancy    string
	vaultID    string
	keyID      string
	secrets    []string // OCIDs; secret i holds secretContent(i)
	statements int      // policy statements in the tenancy, all policies
}

// The compartment tree and groups that filler statements name: enough
// that the statements resolve and spread over the index as a real
// tenancy's would.
const (
	benchTops     = 20  // compartments Top0..Top19 under the tenancy
	benchChildren = 5   // Child0..Child4 under each
	benchGroups   = 100 // groups G0..G99, none holding the caller
)

// secretContent is what secret i holds: 48 bytes, a database password's
// size.
func secretContent(i int) string {
	return fmt.Sprintf("password-%06d-%s", i, strings.Repeat("x", 32))
}

// withServer starts a Coffer on dir in this process (the dev bootstrap
// runs on an empty dir), calls fn, and stops it.
func withServer(t testing.TB, dir string, fn func(srv *server.Server)) {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{
		Dev: true, DataDir: dir, Listen: "127.0.0.1:0",
		Log: slog.New(slog.DiscardHandler), Out: io.Discard,
	})
	if err != nil {
		t.Fatalf("start coffer in-process on %s: %v", dir, err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("stop in-process coffer: %v", err)
		}
	}()
	fn(srv)
}

// prepare bootstraps dir and populates it through the domain services
// (not HTTP): the compartments and groups the filler statements name, a
// vault with a SOFTWARE AES-256 key, n secrets under that key in the
// tenancy, and filler statements up to 10 in all.
func prepare(t testing.TB, dir string, n int) *dataset {
	t.Helper()
	d := &dataset{dir: dir, config: filepath.Join(dir, devmode.OCIDir, devmode.ConfigFile)}
	withServer(t, dir, func(srv *server.Server) {
		ctx := context.Background()
		if srv.Bootstrap == nil {
			t.Fatalf("%s was not a fresh data directory", dir)
		}
		d.tenancy = srv.Bootstrap.TenancyID
		if srv.ConfigPath != d.config {
			t.Fatalf("dev config at %s, expected %s", srv.ConfigPath, d.config)
		}
		for i := range benchGroups {
			if _, err := srv.Identity.CreateGroup(ctx, identity.GroupInput{CompartmentID: d.tenancy,
				Name: ptr(fmt.Sprintf("G%d", i)), Description: ptr("bench: a group the caller is not in")}); err != nil {
				t.Fatalf("create group: %v", err)
			}
		}
		for i := range benchTops {
			top, err := srv.Identity.CreateCompartment(ctx, identity.CompartmentInput{ParentID: d.tenancy,
				Name: ptr(fmt.Sprintf("Top%d", i)), Description: ptr("bench")})
			if err != nil {
				t.Fatalf("create compartment: %v", err)
			}
			for j := range benchChildren {
				if _, err := srv.Identity.CreateCompartment(ctx, identity.CompartmentInput{ParentID: top.ID,
					Name: ptr(fmt.Sprintf("Child%d", j)), Description: ptr("bench")}); err != nil {
					t.Fatalf("create compartment: %v", err)
				}
			}
		}
		v, err := srv.KMS.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: d.tenancy, DisplayName: "bench", VaultType: kms.VaultTypeDefault})
		if err != nil {
			t.Fatalf("create vault: %v", err)
		}
		k, err := srv.KMS.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: d.tenancy, DisplayName: "bench-key",
			Shape: keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}, ProtectionMode: kms.ModeSoftware})
		if err != nil {
			t.Fatalf("create key: %v", err)
		}
		d.vaultID, d.keyID = v.ID, k.ID
		d.secrets = populate(t, srv.Secrets, d, n)
		d.statements = countStatements(t, srv)
		addFiller(t, srv, d, 10)
	})
	return d
}

// addStatements restarts the data set in-process and adds filler
// statements until the tenancy's policies hold total statements.
func (d *dataset) addStatements(t testing.TB, total int) {
	t.Helper()
	withServer(t, d.dir, func(srv *server.Server) {
		d.statements = countStatements(t, srv)
		addFiller(t, srv, d, total)
	})
}

// populate creates n secrets through the secrets service, eight at a time.
func populate(t testing.TB, svc *secrets.Service, d *dataset, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() != nil {
					return
				}
				s, err := svc.CreateSecret(context.Background(), secrets.CreateSecretRequest{
					CompartmentID: d.tenancy, VaultID: d.vaultID, KeyID: d.keyID, Name: fmt.Sprintf("bench-%06d", i),
					Content: &secrets.ContentDetails{ContentType: secrets.ContentTypeBase64,
						Content: base64.StdEncoding.EncodeToString([]byte(secretContent(i)))},
				})
				if err != nil {
					failed.Store(err)
					return
				}
				ids[i] = s.ID
				if i > 0 && i%20_000 == 0 {
					t.Logf("created %d secrets in %v", i, time.Since(start).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("populate: %v", err)
	}
	t.Logf("created %d secrets in %v", n, time.Since(start).Round(time.Millisecond))
	return ids
}

func countStatements(t testing.TB, srv *server.Server) int {
	t.Helper()
	snap, err := srv.Identity.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range snap.Policies {
		n += len(p.Statements)
	}
	return n
}

// addFiller adds policies of filler statements (at most
// identity.MaxStatementsPerPolicy each) until the tenancy holds total
// statements, and checks the count.
func addFiller(t testing.TB, srv *server.Server, d *dataset, total int) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	for d.statements < total {
		n := min(identity.MaxStatementsPerPolicy, total-d.statements)
		stmts := make([]string, n)
		for i := range stmts {
			stmts[i] = fillerStatement(d.statements + i)
		}
		name := fmt.Sprintf("bench-filler-%05d", d.statements)
		if _, err := srv.Identity.CreatePolicy(ctx, identity.PolicyInput{CompartmentID: d.tenancy, Name: &name,
			Description: ptr("bench: statements for other groups and compartments"), Statements: stmts}); err != nil {
			t.Fatalf("create policy %s: %v", name, err)
		}
		d.statements += n
	}
	if got := countStatements(t, srv); got != total {
		t.Fatalf("the tenancy holds %d statements, want %d", got, total)
	}
	if total > 100 {
		t.Logf("policies hold %d statements (added in %v)", total, time.Since(start).Round(time.Millisecond))
	}
}

// fillerStatement is the i-th statement that pads a data set's policies
// around the caller's own grant (the dev bootstrap's "Allow group
// Administrators to manage all-resources in tenancy"). They look like a
// large tenancy's:
//
//   - 1 in 10 grants the caller's own group (Administrators) "read
//     secret-family", with a condition on the secret name, and 1 in 10
//     "use keys" on one key OCID, each in some TopN:ChildM compartment;
//   - 1 in 10 grants any-user "read secret-bundles" in some compartment
//     to instance principals only;
//   - the other 7 grant one of 100 other groups a verb on a Vault or KMS
//     resource type in some compartment, one in three with a condition.
//
// So for the caller's GetSecretBundle about 3 in 10 statements match the
// subject (its group, any-user) and a permission the request needs, and
// the engine must rule each out by location (the secrets live in the
// tenancy, not under TopN) or condition; the other 7 in 10 name groups
// the caller is not in, which an engine indexed by subject skips.
func fillerStatement(i int) string {
	where := fmt.Sprintf("Top%d:Child%d", i%benchTops, (i/benchTops)%benchChildren)
	verbs := []string{"inspect", "read", "use", "manage"}
	types := []string{"secret-family", "keys", "vaults", "secrets", "secret-bundles", "key-family"}
	switch i % 10 {
	case 0:
		return fmt.Sprintf("Allow group Administrators to read secret-family in compartment %s where target.secret.name = /app%d-*/", where, i)
	case 5:
		return fmt.Sprintf("Allow group Administrators to use keys in compartment %s where target.key.id = 'ocid1.key.oc1.local.bench%d'", where, i)
	case 3:
		return fmt.Sprintf("Allow any-user to read secret-bundles in compartment %s where request.principal.type = 'instance'", where)
	}
	s := fmt.Sprintf("Allow group G%d to %s %s in compartment %s", (i*7)%benchGroups, verbs[i%4], types[(i/10)%6], where)
	if i%3 == 0 {
		s += " where request.operation != 'ScheduleVaultDeletion'"
	}
	return s
}

func ptr[T any](v T) *T { return &v }
