package vaultsapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/server"
)

// recorder allows everything except the operations in deny, and records
// every request it is asked about.
type recorder struct {
	mu   sync.Mutex
	reqs []authz.Request
	deny map[string]bool
}

func (r *recorder) Authorize(_ context.Context, req authz.Request) (authz.Decision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return authz.Decision{Allowed: !r.deny[req.Operation], Reason: "test"}, nil
}

func (r *recorder) last(op string) (authz.Request, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.reqs) - 1; i >= 0; i-- {
		if r.reqs[i].Operation == op {
			return r.reqs[i], true
		}
	}
	return authz.Request{}, false
}

// TestAuthorizationRequests checks what the policy engine is asked: every
// secret operation names the secret, its vault and its key with the key's
// compartment; content updates are flagged; a denial hides content.
func TestAuthorizationRequests(t *testing.T) {
	rec := &recorder{deny: map[string]bool{}}
	f := vaultstest.Start(t, coffertest.Options{Config: func(cfg *server.Config) { cfg.Authorizer = rec }})
	s := f.CreateSecret(t, "watched", "CANARY-authz-content")

	create, ok := rec.last("CreateSecret")
	if !ok || create.CompartmentID != f.Tenancy || create.Vault == nil || create.Vault.ID != *f.Vault.Id ||
		create.Key == nil || create.Key.ID != f.KeyID || create.Key.CompartmentID != f.Tenancy ||
		create.Secret == nil || create.Secret.Name != "watched" || create.Secret.VaultID != *f.Vault.Id {
		t.Fatalf("CreateSecret asked %+v", create)
	}

	if _, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id}); err != nil {
		t.Fatal(err)
	}
	read, _ := rec.last("GetSecretBundle")
	if read.Secret == nil || read.Secret.ID != *s.Id || read.Secret.KeyID != f.KeyID || read.Key == nil ||
		read.Key.CompartmentID != f.Tenancy || read.Key.VaultID != *f.Vault.Id || read.Vault == nil {
		t.Fatalf("GetSecretBundle asked %+v", read)
	}

	if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{Description: common.String("d")}}); err != nil {
		t.Fatal(err)
	}
	if u, _ := rec.last("UpdateSecret"); u.Vars[iam.VarUpdatesContent] != "" {
		t.Fatalf("metadata update flagged as content: %v", u.Vars)
	}
	if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vaultstest.Content("CANARY-authz-2")}}); err != nil {
		t.Fatal(err)
	}
	if u, _ := rec.last("UpdateSecret"); u.Vars[iam.VarUpdatesContent] != "true" || u.Key == nil || u.Key.ID != f.KeyID {
		t.Fatalf("content update asked %+v", u)
	}

	// Denied: the same 404 as a missing secret, for every read path.
	rec.mu.Lock()
	rec.deny["GetSecretBundle"], rec.deny["GetSecretBundleByName"], rec.deny["GetSecret"], rec.deny["UpdateSecret"] = true, true, true, true
	rec.mu.Unlock()
	_, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	keystest.NotFound(t, err)
	_, err = f.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String("watched"), VaultId: f.Vault.Id})
	keystest.NotFound(t, err)
	_, err = f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: s.Id})
	keystest.NotFound(t, err)
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vaultstest.Content("CANARY-denied")}})
	keystest.NotFound(t, err)
	// The denied update wrote nothing.
	list, err := f.Vaults.ListSecretVersions(ctx, vault.ListSecretVersionsRequest{SecretId: s.Id})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("versions after a denied update: %d %v", len(list.Items), err)
	}
}

// TestByNameAuthorizesBeforeOpening: a caller denied GetSecretBundleByName
// must get the plain 404 even when opening the secret would have failed
// differently (here: its key is disabled), so a guessed name reveals nothing.
func TestByNameAuthorizesBeforeOpening(t *testing.T) {
	rec := &recorder{deny: map[string]bool{"GetSecretBundleByName": true}}
	f := vaultstest.Start(t, coffertest.Options{Config: func(cfg *server.Config) { cfg.Authorizer = rec }})
	f.CreateSecret(t, "guessable", "CANARY-byname")
	if _, err := f.Vault.Mgmt.DisableKey(context.Background(), keymanagement.DisableKeyRequest{KeyId: common.String(f.KeyID)}); err != nil {
		t.Fatal(err)
	}
	_, err := f.Secrets.GetSecretBundleByName(context.Background(), sdksecrets.GetSecretBundleByNameRequest{
		SecretName: common.String("guessable"), VaultId: f.Vault.Id})
	keystest.WantError(t, err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	_, err = f.Secrets.GetSecretBundleByName(context.Background(), sdksecrets.GetSecretBundleByNameRequest{
		SecretName: common.String("no-such-secret"), VaultId: f.Vault.Id})
	keystest.WantError(t, err, http.StatusNotFound, "NotAuthorizedOrNotFound")
}
