package server_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/server"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

// Names planted through the SDK. Mixed case, so that the lowercase form the
// identity name index used to hold is searched for too.
const (
	canaryCompartment = "CanaryCompartment7f3a"
	canaryUser        = "CanaryUser7f3a"
	canaryGroup       = "CanaryGroup7f3a"
	canaryDynGroup    = "CanaryDynGroup7f3a"
	canaryPolicy      = "CanaryPolicy7f3a"
	canaryVault       = "CanaryVault7f3a"
	canaryKey         = "CanaryKey7f3a"
	canarySecret      = "canary-secret-name-7f3a"
	canaryRetryToken  = "canary-retry-token-7f3a"
)

// planted is what plantCanaries made.
type planted struct {
	fingerprint string // the canary user's API key
	userID      string
	userKeyPEM  string // the canary user's public key
	userSigner  common.ConfigurationProvider
	vaultID     string
	keyID       string // the canary key, in the canary vault
}

// needles are the byte strings no database file may hold: every name, its
// lowercase form, the fingerprint (with and without colons) and the retry
// token, and hex of each (pg_dump writes bytea as hex, so a value written
// around the barrier would show that way).
func (p *planted) needles() map[string][]byte {
	out := map[string][]byte{}
	add := func(what, s string) {
		out[what] = []byte(s)
		out[what+" (hex)"] = []byte(hex.EncodeToString([]byte(s)))
	}
	for _, n := range []string{canaryCompartment, canaryUser, canaryGroup, canaryDynGroup, canaryPolicy, canaryVault, canaryKey, canarySecret, canaryRetryToken} {
		add(n, n)
		add(n+" (lowercase)", strings.ToLower(n))
	}
	add("fingerprint", p.fingerprint)
	add("fingerprint without colons", strings.ReplaceAll(p.fingerprint, ":", ""))
	return out
}

func identityClient(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider) identity.IdentityClient {
	t.Helper()
	ic, err := identity.NewIdentityClientWithConfigurationProvider(p)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&ic.BaseClient, env.URL)
	return ic
}

// plantCanaries creates, through the official SDK, one resource of every
// kind whose name the store indexes, an API key, a vault and key with
// display names, and a secret created under an opc-retry-token.
func plantCanaries(t *testing.T, env *coffertest.Env) *planted {
	t.Helper()
	ctx := context.Background()
	ic := env.Identity(t)
	tenancy := env.Tenancy(t)
	comp, err := ic.CreateCompartment(ctx, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
		CompartmentId: &tenancy, Name: common.String(canaryCompartment), Description: common.String("d")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &tenancy, Name: common.String(canaryGroup), Description: common.String("d")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.CreateDynamicGroup(ctx, identity.CreateDynamicGroupRequest{CreateDynamicGroupDetails: identity.CreateDynamicGroupDetails{
		CompartmentId: &tenancy, Name: common.String(canaryDynGroup), Description: common.String("d"),
		MatchingRule: common.String("ALL {instance.compartment.id = '" + *comp.Id + "'}")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &tenancy, Name: common.String(canaryPolicy), Description: common.String("d"),
		Statements: []string{"allow group " + canaryGroup + " to read secret-family in compartment " + canaryCompartment}}}); err != nil {
		t.Fatal(err)
	}
	signer := env.NewUser(t, canaryUser)
	p := &planted{userSigner: signer}
	if p.userID, err = signer.UserOCID(); err != nil {
		t.Fatal(err)
	}
	keyID, err := signer.KeyID()
	if err != nil {
		t.Fatal(err)
	}
	p.fingerprint = keyID[strings.LastIndexByte(keyID, '/')+1:]
	keys, err := ic.ListApiKeys(ctx, identity.ListApiKeysRequest{UserId: &p.userID})
	if err != nil || len(keys.Items) != 1 {
		t.Fatalf("ListApiKeys = %d keys, %v", len(keys.Items), err)
	}
	p.userKeyPEM = *keys.Items[0].KeyValue

	vc := keystest.VaultClient(t, env, env.Provider)
	v, err := vc.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &tenancy, DisplayName: common.String(canaryVault), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatal(err)
	}
	p.vaultID = *v.Id
	kv := keystest.Clients(t, env, v.Vault)
	key := kv.CreateKey(t, canaryKey, keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	p.keyID = *key.Id
	f := vaultstest.On(t, env) // its own vault and key, for the clients
	details := vault.CreateSecretDetails{CompartmentId: &tenancy, VaultId: v.Id, KeyId: key.Id,
		SecretName: common.String(canarySecret), SecretContent: vaultstest.Content("canary content")}
	if _, err := f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: details, OpcRetryToken: common.String(canaryRetryToken)}); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkLookups proves that every index still answers by name: the secret
// by name, each unique name refused again (in another case), the canary
// user signing with its key, and its fingerprint refused twice.
func (p *planted) checkLookups(t *testing.T, env *coffertest.Env) {
	t.Helper()
	ctx := context.Background()
	f := vaultstest.On(t, env)
	resp, err := f.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String(canarySecret), VaultId: &p.vaultID})
	if err != nil {
		t.Fatalf("GetSecretBundleByName: %v", err)
	}
	if got := vaultstest.Decode(t, resp.SecretBundle); got != "canary content" {
		t.Fatalf("bundle by name = %q", got)
	}
	ic := env.Identity(t)
	tenancy := env.Tenancy(t)
	upper := strings.ToUpper
	conflict := func(what string, err error) {
		t.Helper()
		var se common.ServiceError
		if !errors.As(err, &se) || se.GetHTTPStatusCode() != http.StatusConflict {
			t.Errorf("%s with a taken name: %v, want 409", what, err)
		}
	}
	_, err = ic.CreateUser(ctx, identity.CreateUserRequest{CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: &tenancy, Name: common.String(upper(canaryUser)), Description: common.String("d")}})
	conflict("CreateUser", err)
	_, err = ic.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &tenancy, Name: common.String(upper(canaryDynGroup)), Description: common.String("d")}})
	conflict("CreateGroup (a dynamic group's name)", err)
	_, err = ic.CreateCompartment(ctx, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
		CompartmentId: &tenancy, Name: common.String(upper(canaryCompartment)), Description: common.String("d")}})
	conflict("CreateCompartment", err)
	_, err = ic.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &tenancy, Name: common.String(upper(canaryPolicy)), Description: common.String("d"),
		Statements: []string{"allow group " + canaryGroup + " to read secret-family in tenancy"}}})
	conflict("CreatePolicy", err)
	_, err = f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
		CompartmentId: &tenancy, VaultId: &p.vaultID, KeyId: &p.keyID, SecretName: common.String(canarySecret),
		SecretContent: vaultstest.Content("again")}})
	var se common.ServiceError
	if !errors.As(err, &se) || se.GetHTTPStatusCode() != http.StatusBadRequest {
		t.Errorf("CreateSecret with a taken name: %v, want 400", err)
	}

	// The canary user authenticates with its key (the API key index).
	if _, err := identityClient(t, env, p.userSigner).GetUser(ctx, identity.GetUserRequest{UserId: &p.userID}); err != nil {
		var se common.ServiceError
		if !errors.As(err, &se) || se.GetHTTPStatusCode() == http.StatusUnauthorized {
			t.Errorf("the canary user no longer authenticates: %v", err)
		}
	}
	coffertest.NextSecond() // else it may be the very request that uploaded the key: a copy
	_, err = ic.UploadApiKey(ctx, identity.UploadApiKeyRequest{UserId: &p.userID, CreateApiKeyDetails: identity.CreateApiKeyDetails{Key: &p.userKeyPEM}})
	conflict("UploadApiKey of the same key", err)
}

// filesHolding returns, for each needle found, the files under dir that
// hold it.
func filesHolding(t *testing.T, dir string, needles map[string][]byte) []string {
	t.Helper()
	var hits []string
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for what, needle := range needles {
			if bytes.Contains(b, needle) {
				rel, _ := filepath.Rel(dir, path)
				hits = append(hits, what+" in "+rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no files in the data directory")
	}
	sort.Strings(hits)
	return hits
}

// TestNoNamesAtRestSQLite plants names through the SDK and searches every
// file of the data directory for them once the server has stopped.
func TestNoNamesAtRestSQLite(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	p := plantCanaries(t, env)
	p.checkLookups(t, env)
	env.Stop()
	if hits := filesHolding(t, env.DataDir, p.needles()); len(hits) > 0 {
		t.Errorf("the data directory holds planted names:\n%s", strings.Join(hits, "\n"))
	}
}

// pgDump dumps the schema the DSN's search_path names, data included.
func pgDump(t *testing.T, dsn string) []byte {
	t.Helper()
	i := strings.LastIndex(dsn, "search_path=")
	if i < 0 {
		t.Fatalf("DSN names no schema")
	}
	schema, base := dsn[i+len("search_path="):], strings.TrimRight(dsn[:i], "?& ")
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	bin := "pg_dump"
	if len(bins) > 0 {
		sort.Strings(bins)
		bin = bins[len(bins)-1]
	} else if _, err := exec.LookPath(bin); err != nil {
		t.Skip("pg_dump not installed")
	}
	out, err := exec.Command(bin, "--dbname="+base, "--schema="+schema, "--no-owner").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("pg_dump: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(out, []byte("COPY "+schema+".kv")) {
		t.Fatalf("pg_dump output has no kv table data:\n%.2000s", out)
	}
	return out
}

func dumpHolding(dump []byte, needles map[string][]byte) []string {
	var hits []string
	for what, needle := range needles {
		if bytes.Contains(dump, needle) {
			hits = append(hits, what)
		}
	}
	sort.Strings(hits)
	return hits
}

// TestNoNamesAtRestPostgres plants names through the SDK on a PostgreSQL
// store and searches a pg_dump of its schema for them.
func TestNoNamesAtRestPostgres(t *testing.T) {
	dsn := postgresDSN(t)
	env := startOn(t, dsn, coffertest.DataDir(t), randomUnsealKey())
	p := plantCanaries(t, env)
	p.checkLookups(t, env)
	env.Stop()
	if hits := dumpHolding(pgDump(t, dsn), p.needles()); len(hits) > 0 {
		t.Errorf("pg_dump holds planted names: %s", strings.Join(hits, ", "))
	}
}

func randomUnsealKey() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return base64.StdEncoding.EncodeToString(key)
}

// startOn starts a server on a PostgreSQL DSN (or, when dsn is empty, on
// SQLite in dataDir) with an unseal key.
func startOn(t *testing.T, dsn, dataDir, unseal string) *coffertest.Env {
	return coffertest.Start(t, coffertest.Options{DataDir: dataDir, Config: func(c *server.Config) {
		c.Dev = false
		c.UnsealKey = unseal
		c.DatabaseURL = dsn
	}})
}

// TestMigrationFromCleartextIndexes turns a store into what the previous
// version wrote (cleartext index keys, a keyring without an index key),
// checks that the names are then in the files, starts the new code on it,
// and checks that every lookup works and that no file holds a name.
func TestMigrationFromCleartextIndexes(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dataDir, unseal, dsn := coffertest.DataDir(t), randomUnsealKey(), ""
			open := func() store.Store {
				st, err := sqlite.Open(filepath.Join(dataDir, "coffer.db"))
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			files := func(needles map[string][]byte) []string { return filesHolding(t, dataDir, needles) }
			if backend == "postgres" {
				dsn = postgresDSN(t)
				open = func() store.Store {
					st, err := postgres.Open(context.Background(), dsn)
					if err != nil {
						t.Fatal(err)
					}
					return st
				}
				files = func(needles map[string][]byte) []string { return dumpHolding(pgDump(t, dsn), needles) }
			}
			env := startOn(t, dsn, dataDir, unseal)
			p := plantCanaries(t, env)
			env.Stop()

			raw := open()
			moved := legacyIndexes(t, raw, unseal)
			raw.Close()
			if moved < 7 {
				t.Fatalf("legacyIndexes wrote %d cleartext entries, want at least 7", moved)
			}
			before := files(p.needles())
			if !strings.Contains(strings.Join(before, "\n"), canarySecret) || !strings.Contains(strings.Join(before, "\n"), "fingerprint") {
				t.Fatalf("the old-format store does not show the names; the test would prove nothing. Found: %v", before)
			}

			env = startOn(t, dsn, dataDir, unseal)
			p.checkLookups(t, env)
			// Delete the API key by fingerprint: the migrated entry is found.
			if _, err := env.Identity(t).DeleteApiKey(context.Background(), identity.DeleteApiKeyRequest{UserId: &p.userID, Fingerprint: &p.fingerprint}); err != nil {
				t.Errorf("DeleteApiKey after migration: %v", err)
			}
			env.Stop()

			raw = open()
			defer raw.Close()
			for _, prefix := range []string{"identity/name/", "identity/apikey/", "secrets/name/"} {
				if n := countKeys(t, raw, prefix); n != 0 {
					t.Errorf("%d keys under %s remain after the migration", n, prefix)
				}
			}
			if n := countKeys(t, raw, "core/index-format"); n != 1 {
				t.Error("the migration left no format record")
			}
			if hits := files(p.needles()); len(hits) > 0 {
				t.Errorf("after the migration, planted names remain at rest:\n%s", strings.Join(hits, "\n"))
			}
		})
	}
}

func countKeys(t *testing.T, st store.Store, prefix string) int {
	t.Helper()
	n := 0
	err := st.View(context.Background(), func(r store.Reader) error {
		ents, err := r.List(prefix, "", 0)
		n = len(ents)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// legacyIndexes rewrites a store into the previous version's format: each
// blind name and API key index entry becomes its cleartext key again
// (identity/name/<kind>/[<parent>/]<lower(name)>, identity/apikey/<user>/<fp>,
// secrets/name/<vault>/<name>), derived from the records, the format record
// goes, and the keyring is sealed as a v1 keyring without its index key.
// It returns how many cleartext entries it wrote.
func legacyIndexes(t *testing.T, raw store.Store, unseal string) int {
	t.Helper()
	ctx := context.Background()
	root, err := barrier.ParseRootKey([]byte(unseal))
	if err != nil {
		t.Fatal(err)
	}
	b, err := barrier.Unseal(ctx, raw, root)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	written := 0
	err = b.Wrap(raw).Update(ctx, func(tx store.Tx) error {
		written = 0
		list := func(prefix string) ([]store.Entry, []map[string]string, error) {
			ents, err := tx.List(prefix, "", 0)
			if err != nil {
				return nil, nil, err
			}
			fields := make([]map[string]string, len(ents))
			for i, e := range ents {
				var m map[string]any
				if err := json.Unmarshal(e.Value, &m); err != nil {
					return nil, nil, fmt.Errorf("%s: %w", e.Key, err)
				}
				fields[i] = map[string]string{}
				for k, v := range m {
					if s, ok := v.(string); ok {
						fields[i][k] = s
					}
				}
			}
			return ents, fields, nil
		}
		put := func(key string, value []byte) error {
			written++
			return tx.Put(key, value)
		}
		idValue := func(id string) []byte { j, _ := json.Marshal(id); return j }
		// API keys: the same record under the cleartext fingerprint.
		ents, recs, err := list("identity/apikey-mac/")
		if err != nil {
			return err
		}
		for i, e := range ents {
			if err := put("identity/apikey/"+recs[i]["userId"]+"/"+recs[i]["fingerprint"], e.Value); err != nil {
				return err
			}
		}
		for _, k := range []struct{ prefix, kind string }{
			{"identity/user/", "user"}, {"identity/group/", "group"}, {"identity/dynamicgroup/", "group"},
			{"identity/compartment/", "compartment"}, {"identity/policy/", "policy"}, {"secrets/s/", "secret"},
		} {
			_, recs, err := list(k.prefix)
			if err != nil {
				return err
			}
			for _, r := range recs {
				var key string
				switch {
				case r["lifecycleState"] == "DELETED":
					continue
				case k.kind == "secret":
					key = "secrets/name/" + r["vaultId"] + "/" + r["secretName"]
				case k.kind == "compartment" || k.kind == "policy":
					key = "identity/name/" + k.kind + "/" + r["compartmentId"] + "/" + strings.ToLower(r["name"])
				default:
					key = "identity/name/" + k.kind + "/" + strings.ToLower(r["name"])
				}
				if err := put(key, idValue(r["id"])); err != nil {
					return err
				}
			}
		}
		for _, prefix := range []string{"identity/name-mac/", "secrets/name-mac/", "identity/apikey-mac/", "core/index-format"} {
			ents, err := tx.List(prefix, "", 0)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if err := tx.Delete(e.Key); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	downgradeKeyring(t, raw, root, unseal)
	return written
}

// downgradeKeyring seals the keyring as the previous version did: without
// the index key, under the v1 associated data. (The layout is barrier's:
// version | term | nonce | AES-256-GCM under the root key.)
func downgradeKeyring(t *testing.T, raw store.Store, _ barrier.RootKey, unseal string) {
	t.Helper()
	rootBytes, err := base64.StdEncoding.DecodeString(unseal)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(rootBytes)
	gcm, _ := cipher.NewGCM(block)
	err = raw.Update(context.Background(), func(tx store.Tx) error {
		ct, err := tx.Get(barrier.KeyringPath)
		if err != nil {
			return err
		}
		plain, err := gcm.Open(nil, ct[5:17], ct[17:], []byte("coffer/keyring/v3"))
		if err != nil {
			return fmt.Errorf("open v3 keyring: %w", err)
		}
		var kr map[string]any
		if err := json.Unmarshal(plain, &kr); err != nil {
			return err
		}
		if _, ok := kr["index"]; !ok {
			return errors.New("the keyring has no index key to drop")
		}
		delete(kr, "index")
		delete(kr, "backup") // v1 keyrings had no backup keys either
		delete(kr, "backupActive")
		plain, _ = json.Marshal(kr)
		out := append([]byte(nil), ct[:17]...)
		if _, err := rand.Read(out[5:17]); err != nil {
			return err
		}
		return tx.Put(barrier.KeyringPath, gcm.Seal(out, out[5:17], plain, []byte("coffer/keyring/v1")))
	})
	if err != nil {
		t.Fatal(err)
	}
}
