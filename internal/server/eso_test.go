package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
)

// esoStore is what External Secrets Operator's Oracle provider
// (providers/v1/oracle in external-secrets) builds from a SecretStore: a
// raw configuration provider from the store's user, tenancy, fingerprint and
// private key, and three clients that it points at the store's region with
// SetRegion, and nothing else: it has no endpoint field. The calls below
// are the ones that provider makes, in its order.
type esoStore struct {
	secrets     secrets.SecretsClient
	kmsVault    keymanagement.KmsVaultClient
	vaults      vault.VaultsClient
	vault       string
	compartment string
	key         string
}

func newESOStore(t *testing.T, r *coffertest.Region, p common.ConfigurationProvider, vaultID, compartment, keyID string) *esoStore {
	t.Helper()
	s := &esoStore{vault: vaultID, compartment: compartment, key: keyID}
	var err error
	if s.secrets, err = secrets.NewSecretsClientWithConfigurationProvider(p); err != nil {
		t.Fatal(err)
	}
	if s.kmsVault, err = keymanagement.NewKmsVaultClientWithConfigurationProvider(p); err != nil {
		t.Fatal(err)
	}
	if s.vaults, err = vault.NewVaultsClientWithConfigurationProvider(p); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*common.BaseClient{&s.secrets.BaseClient, &s.kmsVault.BaseClient, &s.vaults.BaseClient} {
		// The provider's own step: the region, no Host.
		c.Host = ""
		r.Route(c) // the stand-in for wildcard DNS; no retries, so a failure shows at once
	}
	s.secrets.SetRegion(r.RegionName)
	s.kmsVault.SetRegion(r.RegionName)
	s.vaults.SetRegion(r.RegionName)
	return s
}

// validate is the provider's Validate: GetVault. NotAuthorizedOrNotFound
// means "unknown" to ESO, not an error.
func (s *esoStore) validate(ctx context.Context) error {
	_, err := s.kmsVault.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: &s.vault})
	return err
}

// getSecret is GetSecret: the bundle by name at a stage ("" for none),
// decoded.
func (s *esoStore) getSecret(ctx context.Context, name, stage string) (string, error) {
	resp, err := s.secrets.GetSecretBundleByName(ctx, secrets.GetSecretBundleByNameRequest{
		VaultId: &s.vault, SecretName: &name, Stage: secrets.GetSecretBundleByNameStageEnum(stage)})
	if err != nil {
		return "", err
	}
	return decodeESOBundle(resp.SecretBundle)
}

func decodeESOBundle(b secrets.SecretBundle) (string, error) {
	c, ok := b.SecretBundleContent.(secrets.Base64SecretBundleContentDetails)
	if !ok {
		return "", errors.New("unexpected secret bundle content")
	}
	v, err := base64.StdEncoding.DecodeString(*c.Content)
	return string(v), err
}

// getAllSecrets is GetAllSecrets (dataFrom.find): ListSecrets over every
// page, then the bundle of each live secret whose name matches the regular
// expression (or, with no expression, that carries one of the freeform
// tags).
func (s *esoStore) getAllSecrets(ctx context.Context, nameRE string, tags map[string]string) (map[string]string, int, error) {
	var page *string
	var all []vault.SecretSummary
	pages := 0
	for {
		resp, err := s.vaults.ListSecrets(ctx, vault.ListSecretsRequest{CompartmentId: &s.compartment, Page: page, VaultId: &s.vault})
		if err != nil {
			return nil, pages, err
		}
		pages++
		all = append(all, resp.Items...)
		if page = resp.OpcNextPage; page == nil {
			break
		}
	}
	out := map[string]string{}
	for _, sum := range all {
		match := false
		if nameRE != "" {
			match = regexp.MustCompile(nameRE).MatchString(*sum.SecretName)
		}
		for k, v := range tags {
			if sum.FreeformTags[k] == v {
				match = true
			}
		}
		if !match || sum.TimeOfDeletion != nil {
			continue
		}
		v, err := s.getSecret(ctx, *sum.SecretName, "")
		if err != nil {
			return nil, pages, err
		}
		out[*sum.SecretName] = v
	}
	return out, pages, nil
}

// pushSecret is PushSecret: look the secret up by name; create it on 404,
// update it when its content differs, do nothing when it is equal. It
// returns what it did.
func (s *esoStore) pushSecret(ctx context.Context, name, value string) (string, error) {
	enc := base64.StdEncoding.EncodeToString([]byte(value))
	resp, err := s.secrets.GetSecretBundleByName(ctx, secrets.GetSecretBundleByNameRequest{SecretName: &name, VaultId: &s.vault})
	var se common.ServiceError
	switch {
	case errors.As(err, &se) && se.GetHTTPStatusCode() == http.StatusNotFound:
		_, err = s.vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
			CompartmentId: &s.compartment, KeyId: &s.key, SecretName: &name, VaultId: &s.vault,
			SecretContent: vault.Base64SecretContentDetails{Content: &enc}}})
		return "created", err
	case err != nil:
		return "", err
	}
	current, err := decodeESOBundle(resp.SecretBundle)
	if err != nil {
		return "", err
	}
	if current == value {
		return "unchanged", nil
	}
	_, err = s.vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: resp.SecretId,
		UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vault.Base64SecretContentDetails{Content: &enc}}})
	return "updated", err
}

// deleteSecret is DeleteSecret: nothing for a missing secret or one
// already pending deletion, else ScheduleSecretDeletion, with the store's
// deletionGracePeriod when it has one (1 to 30 days).
func (s *esoStore) deleteSecret(ctx context.Context, name string, grace time.Duration) (string, error) {
	resp, err := s.secrets.GetSecretBundleByName(ctx, secrets.GetSecretBundleByNameRequest{SecretName: &name, VaultId: &s.vault})
	var se common.ServiceError
	switch {
	case errors.As(err, &se) && se.GetHTTPStatusCode() == http.StatusNotFound:
		return "absent", nil
	case err != nil:
		return "", err
	case resp.TimeOfDeletion != nil:
		return "pending", nil
	}
	req := vault.ScheduleSecretDeletionRequest{SecretId: resp.SecretId}
	if grace > 0 {
		req.ScheduleSecretDeletionDetails = vault.ScheduleSecretDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: time.Now().Add(grace)}}
	}
	_, err = s.vaults.ScheduleSecretDeletion(ctx, req)
	return "scheduled", err
}

// TestESOOracleProvider replays External Secrets Operator's Oracle provider
// against a region-mode server, with clients addressed by region only, as
// the README's ClusterSecretStore configures it, under the README's policy.
func TestESOOracleProvider(t *testing.T) {
	r := coffertest.StartRegion(t, realmDomain)
	r.UseInProcess(t)
	ctx := context.Background()
	comp := tenancy(t, r.Provider)

	// The administrator: a vault, a key, the operator's user and group and
	// the README's policy.
	adminVaults, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(r.Provider)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(&adminVaults.BaseClient)
	v, err := adminVaults.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &comp, DisplayName: common.String("eso"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatal(err)
	}
	mgmt, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(r.Provider, *v.ManagementEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(&mgmt.BaseClient)
	k, err := mgmt.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: &comp, DisplayName: common.String("eso"), ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
		KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)}}})
	if err != nil {
		t.Fatal(err)
	}
	ic, err := identity.NewIdentityClientWithConfigurationProvider(r.Provider)
	if err != nil {
		t.Fatal(err)
	}
	r.Route(&ic.BaseClient)
	operator := r.NewUser(t, "eso-operator")
	operatorID, err := operator.UserOCID()
	if err != nil {
		t.Fatal(err)
	}
	g, err := ic.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &comp, Name: common.String("external-secrets"), Description: common.String("External Secrets Operator")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{
		UserId: &operatorID, GroupId: g.Id}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &comp, Name: common.String("external-secrets"), Description: common.String("ESO"),
		Statements: esoPolicy(*v.Id, *k.Id)}}); err != nil {
		t.Fatal(err)
	}

	// Secrets written by the administrator: app-db with two versions, and
	// enough tagged secrets for ListSecrets to need pages.
	admin := newESOStore(t, r, r.Provider, *v.Id, comp, *k.Id)
	if _, err := admin.pushSecret(ctx, "app-db", "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.pushSecret(ctx, "app-db", "v2"); err != nil {
		t.Fatal(err)
	}
	const perTeam = 60
	for i := range 2 * perTeam {
		team := []string{"a", "b"}[i%2]
		name := fmt.Sprintf("team-%s-%03d", team, i)
		content := base64.StdEncoding.EncodeToString([]byte("value-" + name))
		if _, err := admin.vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
			CompartmentId: &comp, VaultId: v.Id, KeyId: k.Id, SecretName: &name, FreeformTags: map[string]string{"team": team},
			SecretContent: vault.Base64SecretContentDetails{Content: &content}}}); err != nil {
			t.Fatalf("CreateSecret %s: %v", name, err)
		}
	}

	eso := newESOStore(t, r, operator, *v.Id, comp, *k.Id)
	if want := "https://secrets.vaults." + r.RegionName + ".oci." + r.Domain; eso.secrets.Host != want {
		t.Fatalf("the SDK built %s for the region, want %s", eso.secrets.Host, want)
	}
	if err := eso.validate(ctx); err != nil {
		t.Fatalf("Validate (GetVault): %v", err)
	}

	// GetSecret: no stage is CURRENT; LATEST is the newest; PREVIOUS the one before.
	for stage, want := range map[string]string{"": "v2", "CURRENT": "v2", "LATEST": "v2", "PREVIOUS": "v1"} {
		if got, err := eso.getSecret(ctx, "app-db", stage); err != nil || got != want {
			t.Errorf("GetSecretBundleByName app-db stage %q: %q, %v; want %q", stage, got, err, want)
		}
	}

	// GetAllSecrets by name pattern and by freeform tag.
	byName, pages, err := eso.getAllSecrets(ctx, "^team-a-", nil)
	if err != nil {
		t.Fatalf("find by name: %v", err)
	}
	if pages < 2 || len(byName) != perTeam || byName["team-a-000"] != "value-team-a-000" {
		t.Fatalf("find by name: %d secrets over %d pages, want %d over at least 2", len(byName), pages, perTeam)
	}
	byTag, _, err := eso.getAllSecrets(ctx, "", map[string]string{"team": "b"})
	if err != nil || len(byTag) != perTeam || byTag["team-b-001"] != "value-team-b-001" {
		t.Fatalf("find by tag: %d secrets, %v; want %d", len(byTag), err, perTeam)
	}

	// PushSecret: created, unchanged, updated.
	for _, step := range []struct{ value, want string }{{"p1", "created"}, {"p1", "unchanged"}, {"p2", "updated"}} {
		if did, err := eso.pushSecret(ctx, "pushed", step.value); err != nil || did != step.want {
			t.Fatalf("PushSecret %q: %s, %v; want %s", step.value, did, err, step.want)
		}
	}
	if got, err := eso.getSecret(ctx, "pushed", ""); err != nil || got != "p2" {
		t.Fatalf("pushed secret reads %q, %v", got, err)
	}
	pushed, err := eso.secrets.GetSecretBundleByName(ctx, secrets.GetSecretBundleByNameRequest{SecretName: common.String("pushed"), VaultId: v.Id})
	if err != nil {
		t.Fatal(err)
	}
	versions, err := admin.vaults.ListSecretVersions(ctx, vault.ListSecretVersionsRequest{SecretId: pushed.SecretId})
	if err != nil || len(versions.Items) != 2 {
		t.Fatalf("pushed secret has %d versions, %v; want 2 (an equal push writes nothing)", len(versions.Items), err)
	}

	// DeleteSecret, with ESO's shortest grace period (one day) and with
	// none (OCI's default); a deleted secret drops out of find.
	if did, err := eso.deleteSecret(ctx, "team-a-000", 24*time.Hour); err != nil || did != "scheduled" {
		t.Fatalf("DeleteSecret with a one-day grace: %s, %v", did, err)
	}
	if did, err := eso.deleteSecret(ctx, "pushed", 0); err != nil || did != "scheduled" {
		t.Fatalf("DeleteSecret: %s, %v", did, err)
	}
	// As in OCI, a secret pending deletion has no bundle (404), so a second
	// delete finds nothing to do (external-secrets#6771).
	if did, err := eso.deleteSecret(ctx, "pushed", 0); err != nil || did != "absent" {
		t.Fatalf("DeleteSecret again: %s, %v; want absent", did, err)
	}
	if did, err := eso.deleteSecret(ctx, "never-there", 0); err != nil || did != "absent" {
		t.Fatalf("DeleteSecret of a missing secret: %s, %v", did, err)
	}
	if byName, _, err = eso.getAllSecrets(ctx, "^team-a-", nil); err != nil || len(byName) != perTeam-1 {
		t.Fatalf("find after a deletion: %d, %v; want %d", len(byName), err, perTeam-1)
	}

	// Without `read vaults` the store's validation cannot tell; ESO reports
	// "unknown" on NotAuthorizedOrNotFound, and reads still work.
	reader := r.NewUser(t, "eso-reader")
	readerID, _ := reader.UserOCID()
	rg, err := ic.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &comp, Name: common.String("secret-readers"), Description: common.String("reads only")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{UserId: &readerID, GroupId: rg.Id}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &comp, Name: common.String("secret-readers"), Description: common.String("reads only"),
		Statements: []string{
			"Allow group secret-readers to read secret-bundles in tenancy where target.vault.id = '" + *v.Id + "'",
			"Allow group secret-readers to use keys in tenancy where target.key.id = '" + *k.Id + "'",
		}}}); err != nil {
		t.Fatal(err)
	}
	narrow := newESOStore(t, r, reader, *v.Id, comp, *k.Id)
	var se common.ServiceError
	if err := narrow.validate(ctx); !errors.As(err, &se) || se.GetCode() != "NotAuthorizedOrNotFound" {
		t.Fatalf("Validate without read vaults: %v, want NotAuthorizedOrNotFound", err)
	}
	if got, err := narrow.getSecret(ctx, "app-db", ""); err != nil || got != "v2" {
		t.Fatalf("read without read vaults: %q, %v", got, err)
	}
}

// esoPolicy is the README's policy for the operator's group: read and
// write secrets in one vault, use of its key for their content, use of the
// vault (VAULT_CREATE_SECRET, for PushSecret; it includes read, which the
// store's validation needs), and inspect secrets for dataFrom.find:
// ListSecrets is authorized on the compartment, where no vault is the
// target, so a where clause on the vault cannot grant it (as in OCI).
func esoPolicy(vaultID, keyID string) []string {
	return []string{
		"Allow group external-secrets to use vaults in tenancy where target.vault.id = '" + vaultID + "'",
		"Allow group external-secrets to inspect secrets in tenancy",
		"Allow group external-secrets to manage secret-family in tenancy where target.vault.id = '" + vaultID + "'",
		"Allow group external-secrets to use keys in tenancy where target.key.id = '" + keyID + "'",
	}
}
