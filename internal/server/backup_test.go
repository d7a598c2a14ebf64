package server_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsvault"
	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/internal/server"
)

// parServer stands in for an Object Storage pre-authenticated request: it
// keeps what is PUT to it.
type parServer struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (p *parServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		http.Error(w, "PUT only", http.StatusMethodNotAllowed)
		return
	}
	b, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.files[r.URL.Path] = b
	p.mu.Unlock()
}

func (p *parServer) get(t *testing.T, path string) []byte {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.files[path]
	if !ok {
		t.Fatalf("nothing was PUT to %s", path)
	}
	return b
}

func mgmtClient(t *testing.T, p common.ConfigurationProvider, endpoint string) keymanagement.KmsManagementClient {
	t.Helper()
	c, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(p, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&c.BaseClient, endpoint)
	return c
}

func cryptoClient(t *testing.T, p common.ConfigurationProvider, endpoint string) keymanagement.KmsCryptoClient {
	t.Helper()
	c, err := keymanagement.NewKmsCryptoClientWithConfigurationProvider(p, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&c.BaseClient, endpoint)
	return c
}

func wantServiceError(t *testing.T, what string, err error, status int, contains string) {
	t.Helper()
	se, ok := common.IsServiceError(err)
	if !ok || se.GetHTTPStatusCode() != status || !strings.Contains(se.GetMessage(), contains) {
		t.Fatalf("%s: %v, want %d containing %q", what, err, status, contains)
	}
}

func restoreVault(ctx context.Context, vc keymanagement.KmsVaultClient, compartment string, blob []byte, md5sum *string) (keymanagement.RestoreVaultFromFileResponse, error) {
	return vc.RestoreVaultFromFile(ctx, keymanagement.RestoreVaultFromFileRequest{CompartmentId: &compartment,
		ContentLength: common.Int64(int64(len(blob))), ContentMd5: md5sum,
		RestoreVaultFromFileDetails: io.NopCloser(bytes.NewReader(blob))})
}

func restoreKey(ctx context.Context, mc keymanagement.KmsManagementClient, blob []byte) (keymanagement.RestoreKeyFromFileResponse, error) {
	return mc.RestoreKeyFromFile(ctx, keymanagement.RestoreKeyFromFileRequest{ContentLength: common.Int64(int64(len(blob))),
		RestoreKeyFromFileDetails: io.NopCloser(bytes.NewReader(blob))})
}

func parLocation(uri string) keymanagement.BackupLocationUri {
	return keymanagement.BackupLocationUri{Uri: common.String(uri)}
}

// TestBackupRestoreSDK drives BackupVault, BackupKey, RestoreVaultFromFile
// and RestoreKeyFromFile through the official Go SDK: the backup goes to
// a pre-authenticated request URI the operator allowed, and restores into
// a second Coffer that imported the first's backup key; the restored key
// decrypts what was encrypted before the backup.
func TestBackupRestoreSDK(t *testing.T) {
	ctx := context.Background()
	par := &parServer{files: map[string][]byte{}}
	ps := httptest.NewServer(par)
	defer ps.Close()
	a := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.BackupURIPrefixes = []string{ps.URL + "/par/"} }})
	b := coffertest.Start(t, coffertest.Options{})
	tenA, tenB := a.Tenancy(t), b.Tenancy(t)
	vcA, vcB := vaultClient(t, a, a.Provider), vaultClient(t, b, b.Provider)

	v, err := vcA.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &tenA, DisplayName: common.String("backed-up"), VaultType: keymanagement.CreateVaultDetailsVaultTypeVirtualPrivate}})
	if err != nil {
		t.Fatal(err)
	}
	mcA := mgmtClient(t, a.Provider, *v.ManagementEndpoint)
	wk, err := mcA.GetWrappingKey(ctx, keymanagement.GetWrappingKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keyprotect.ParseRSAPublicKeyPEM(*wk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	canary := []byte("CANARY-KEY-MATERIAL-0123456789ab")
	wrapped, err := keyprotect.Wrap(keyprotect.RSAOAEPSHA256Wrap, pub, canary)
	if err != nil {
		t.Fatal(err)
	}
	k, err := mcA.ImportKey(ctx, keymanagement.ImportKeyRequest{ImportKeyDetails: keymanagement.ImportKeyDetails{
		CompartmentId: &tenA, DisplayName: common.String("imported"), ProtectionMode: keymanagement.ImportKeyDetailsProtectionModeSoftware,
		KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)},
		WrappedImportKey: &keymanagement.WrappedImportKey{KeyMaterial: common.String(base64.StdEncoding.EncodeToString(wrapped)),
			WrappingAlgorithm: keymanagement.WrappedImportKeyWrappingAlgorithmSha256}}})
	if err != nil {
		t.Fatal(err)
	}
	hsmKey, err := mcA.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: &tenA, DisplayName: common.String("emulated-hsm"),
		KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)}}})
	if err != nil {
		t.Fatal(err)
	}
	ccA := cryptoClient(t, a.Provider, *v.CryptoEndpoint)
	plain := base64.StdEncoding.EncodeToString([]byte("encrypted before the backup"))
	enc, err := ccA.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: k.Id, Plaintext: &plain}})
	if err != nil {
		t.Fatal(err)
	}
	encHSM, err := ccA.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: hsmKey.Id, Plaintext: &plain}})
	if err != nil {
		t.Fatal(err)
	}

	// Refusals before anything is written.
	_, err = vcA.BackupVault(ctx, keymanagement.BackupVaultRequest{VaultId: v.Id, BackupVaultDetails: keymanagement.BackupVaultDetails{
		BackupLocation: keymanagement.BackupLocationBucket{Namespace: common.String("n"), BucketName: common.String("b"), ObjectName: common.String("o")}}})
	wantServiceError(t, "BackupVault to a BUCKET", err, 400, "no Object Storage")
	_, err = vcA.BackupVault(ctx, keymanagement.BackupVaultRequest{VaultId: v.Id, BackupVaultDetails: keymanagement.BackupVaultDetails{
		BackupLocation: parLocation(ps.URL + "/elsewhere/o")}})
	wantServiceError(t, "BackupVault outside the prefix", err, 400, "--backup-uri-prefix")
	bv, err := vcB.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &tenB, DisplayName: common.String("b"), VaultType: keymanagement.CreateVaultDetailsVaultTypeVirtualPrivate}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = vcB.BackupVault(ctx, keymanagement.BackupVaultRequest{VaultId: bv.Id, BackupVaultDetails: keymanagement.BackupVaultDetails{
		BackupLocation: parLocation(ps.URL + "/par/o")}})
	wantServiceError(t, "BackupVault without the flag", err, 400, "--backup-uri-prefix")

	// The backup, with the keys.
	got, err := vcA.BackupVault(ctx, keymanagement.BackupVaultRequest{VaultId: v.Id, BackupVaultDetails: keymanagement.BackupVaultDetails{
		BackupLocation: parLocation(ps.URL + "/par/vault.bak"), IsIncludeKeys: common.Bool(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if got.LifecycleState != keymanagement.VaultLifecycleStateActive || *got.Id != *v.Id {
		t.Fatalf("BackupVault answered %s %s", *got.Id, got.LifecycleState)
	}
	blob := par.get(t, "/par/vault.bak")
	for _, c := range [][]byte{canary, []byte(base64.StdEncoding.EncodeToString(canary))} {
		if bytes.Contains(blob, c) {
			t.Fatal("the backup file holds key material in clear")
		}
		if strings.Contains(a.Logs.String(), string(c)) {
			t.Fatal("the server logged key material")
		}
	}

	// Not yet: B does not hold A's backup key.
	_, err = restoreVault(ctx, vcB, tenB, blob, nil)
	wantServiceError(t, "restore under a foreign backup key", err, 400, "does not hold")

	// Share the backup key: export from A, import into B.
	const pass = "correct horse battery staple"
	status, body := coffertest.Post(t, a.URL+sysapi.ExportBackupKeyPath, a.Provider, time.Now(), sysapi.ExportBackupKeyRequest{Passphrase: pass})
	var exp sysapi.BackupKeyResponse
	if status != 200 || json.Unmarshal(body, &exp) != nil || exp.File == "" {
		t.Fatalf("export backup key: %d %s", status, body)
	}
	if strings.Contains(a.Logs.String(), pass) {
		t.Fatal("the passphrase is in the log")
	}
	status, body = coffertest.Post(t, b.URL+sysapi.ImportBackupKeyPath, b.Provider, time.Now(), sysapi.ImportBackupKeyRequest{File: exp.File, Passphrase: "wrong passphrase!!"})
	if status != 400 {
		t.Fatalf("import with a wrong passphrase: %d %s", status, body)
	}
	status, body = coffertest.Post(t, b.URL+sysapi.ImportBackupKeyPath, b.Provider, time.Now(), sysapi.ImportBackupKeyRequest{File: exp.File, Passphrase: pass})
	if status != 200 {
		t.Fatalf("import backup key: %d %s", status, body)
	}

	// Damaged files are refused, and nothing is stored.
	tampered := bytes.Clone(blob)
	tampered[len(tampered)-5] ^= 1
	_, err = restoreVault(ctx, vcB, tenB, tampered, nil)
	wantServiceError(t, "tampered backup", err, 400, "damaged")
	_, err = restoreVault(ctx, vcB, tenB, blob[:len(blob)/2], nil)
	wantServiceError(t, "truncated backup", err, 400, "damaged")
	_, err = restoreVault(ctx, vcB, tenB, []byte("not a backup"), nil)
	wantServiceError(t, "not a backup", err, 400, "not a Coffer backup")
	_, err = restoreVault(ctx, vcB, tenB, blob, common.String(base64.StdEncoding.EncodeToString(make([]byte, 16))))
	wantServiceError(t, "wrong content-md5", err, 400, "content-md5")
	if _, err := vcB.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id}); err == nil {
		t.Fatal("a refused restore stored the vault")
	}

	// The restore: same OCIDs, ACTIVE, restoredFromVaultId, new endpoints.
	sum := md5.Sum(blob)
	rv, err := restoreVault(ctx, vcB, tenB, blob, common.String(base64.StdEncoding.EncodeToString(sum[:])))
	if err != nil {
		t.Fatal(err)
	}
	if *rv.Id != *v.Id || rv.LifecycleState != keymanagement.VaultLifecycleStateActive || rv.RestoredFromVaultId == nil || *rv.RestoredFromVaultId != *v.Id ||
		*rv.CompartmentId != tenB || *rv.ManagementEndpoint == *v.ManagementEndpoint {
		t.Fatalf("restored vault: %+v", rv.Vault)
	}
	if rv.OpcContentMd5 == nil || *rv.OpcContentMd5 != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("opc-content-md5 = %v", rv.OpcContentMd5)
	}
	ccB := cryptoClient(t, b.Provider, *rv.CryptoEndpoint)
	for _, c := range []struct {
		key *string
		ct  *string
	}{{k.Id, enc.Ciphertext}, {hsmKey.Id, encHSM.Ciphertext}} {
		dec, err := ccB.Decrypt(ctx, keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{KeyId: c.key, Ciphertext: c.ct}})
		if err != nil || *dec.Plaintext != plain {
			t.Fatalf("decrypt on the restored key %s: %v", *c.key, err)
		}
	}
	mcB := mgmtClient(t, b.Provider, *rv.ManagementEndpoint)
	rk, err := mcB.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: k.Id})
	if err != nil || rk.RestoredFromKeyId == nil || *rk.RestoredFromKeyId != *k.Id || *rk.CompartmentId != tenB || *rk.CurrentKeyVersion != *k.CurrentKeyVersion {
		t.Fatalf("restored key: %+v %v", rk.Key, err)
	}
	coffertest.NextSecond() // the same request again
	_, err = restoreVault(ctx, vcB, tenB, blob, nil)
	wantServiceError(t, "restore over an existing vault", err, 409, "already exists")

	// A key backup, restored into the (restored) vault on B after the
	// key's deletion there is impossible (7 days), so: 409 while it exists.
	_, err = mcA.BackupKey(ctx, keymanagement.BackupKeyRequest{KeyId: k.Id, BackupKeyDetails: keymanagement.BackupKeyDetails{
		BackupLocation: parLocation(ps.URL + "/par/key.bak")}})
	if err != nil {
		t.Fatal(err)
	}
	keyBlob := par.get(t, "/par/key.bak")
	_, err = restoreKey(ctx, mcB, keyBlob)
	wantServiceError(t, "restore over an existing key", err, 409, "already exists")
	_, err = restoreVault(ctx, vcB, tenB, keyBlob, nil)
	wantServiceError(t, "a key backup as a vault backup", err, 400, "not of a vault")

	// A vault backed up without its keys, and a key of it backed up
	// alone, restored one after the other.
	v2, err := vcA.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &tenA, DisplayName: common.String("second"), VaultType: keymanagement.CreateVaultDetailsVaultTypeVirtualPrivate}})
	if err != nil {
		t.Fatal(err)
	}
	mcA2 := mgmtClient(t, a.Provider, *v2.ManagementEndpoint)
	k2, err := mcA2.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: &tenA, DisplayName: common.String("k2"), ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
		KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmRsa, Length: common.Int(256)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vcA.BackupVault(ctx, keymanagement.BackupVaultRequest{VaultId: v2.Id, BackupVaultDetails: keymanagement.BackupVaultDetails{
		BackupLocation: parLocation(ps.URL + "/par/v2.bak")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := mcA2.BackupKey(ctx, keymanagement.BackupKeyRequest{KeyId: k2.Id, BackupKeyDetails: keymanagement.BackupKeyDetails{
		BackupLocation: parLocation(ps.URL + "/par/k2.bak")}}); err != nil {
		t.Fatal(err)
	}
	rv2, err := restoreVault(ctx, vcB, tenB, par.get(t, "/par/v2.bak"), nil)
	if err != nil {
		t.Fatal(err)
	}
	mcB2 := mgmtClient(t, b.Provider, *rv2.ManagementEndpoint)
	if keys, err := mcB2.ListKeys(ctx, keymanagement.ListKeysRequest{CompartmentId: &tenB}); err != nil || len(keys.Items) != 0 {
		t.Fatalf("a vault backed up without keys restored keys: %v %v", keys.Items, err)
	}
	// On another vault's endpoint the key backup is refused.
	_, err = restoreKey(ctx, mcB, par.get(t, "/par/k2.bak"))
	wantServiceError(t, "key restore on another vault's endpoint", err, 400, "restore it on that vault")
	rk2, err := restoreKey(ctx, mcB2, par.get(t, "/par/k2.bak"))
	if err != nil {
		t.Fatal(err)
	}
	if *rk2.Id != *k2.Id || rk2.LifecycleState != keymanagement.KeyLifecycleStateEnabled || *rk2.CompartmentId != tenB {
		t.Fatalf("restored key: %+v", rk2.Key)
	}

	// Object Storage restores are refused with a clear 400.
	_, err = vcB.RestoreVaultFromObjectStore(ctx, keymanagement.RestoreVaultFromObjectStoreRequest{CompartmentId: &tenB,
		RestoreVaultFromObjectStoreDetails: keymanagement.RestoreVaultFromObjectStoreDetails{BackupLocation: parLocation(ps.URL + "/par/o")}})
	wantServiceError(t, "RestoreVaultFromObjectStore", err, 400, "use RestoreVaultFromFile")
	_, err = mcB2.RestoreKeyFromObjectStore(ctx, keymanagement.RestoreKeyFromObjectStoreRequest{
		RestoreKeyFromObjectStoreDetails: keymanagement.RestoreKeyFromObjectStoreDetails{BackupLocation: parLocation(ps.URL + "/par/o")}})
	wantServiceError(t, "RestoreKeyFromObjectStore", err, 400, "use RestoreKeyFromFile")

	// The download route answers with a backup that restores like the
	// uploaded one (here: refused, the vault exists).
	status, dl := coffertest.Post(t, a.URL+strings.Replace(kmsvault.DownloadVaultBackupPath, "{vaultId}", *v2.Id, 1), a.Provider, time.Now(), map[string]any{})
	if status != 200 || !bytes.HasPrefix(dl, []byte("COFFERBK")) {
		t.Fatalf("download: %d %.80q", status, dl)
	}
	_, err = restoreVault(ctx, vcB, tenB, dl, nil)
	wantServiceError(t, "restore of the downloaded backup", err, 409, "already exists")
}

// TestBackupRestoreNotAuthorized: a user no policy allows anything gets
// the 404 of every denial, from every backup and restore operation.
func TestBackupRestoreNotAuthorized(t *testing.T) {
	ctx := context.Background()
	env := coffertest.Start(t, coffertest.Options{})
	ten := env.Tenancy(t)
	nobody := env.NewUser(t, "backup-nobody")
	vc := vaultClient(t, env, env.Provider)
	v, err := vc.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &ten, DisplayName: common.String("v"), VaultType: keymanagement.CreateVaultDetailsVaultTypeVirtualPrivate}})
	if err != nil {
		t.Fatal(err)
	}
	mc := mgmtClient(t, env.Provider, *v.ManagementEndpoint)
	k, err := mc.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: &ten, DisplayName: common.String("k"), ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
		KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)}}})
	if err != nil {
		t.Fatal(err)
	}
	path := strings.Replace(kmsvault.DownloadVaultBackupPath, "{vaultId}", *v.Id, 1)
	status, blob := coffertest.Post(t, env.URL+path, env.Provider, time.Now(), map[string]any{"isIncludeKeys": true})
	if status != 200 {
		t.Fatalf("admin download: %d %s", status, blob)
	}
	status, keyBlob := coffertest.Post(t, *v.ManagementEndpoint+"/coffer/v1/kms/keys/"+*k.Id+"/backup", env.Provider, time.Now(), map[string]any{})
	if status != 200 {
		t.Fatalf("admin key download: %d %s", status, keyBlob)
	}

	nvc := vaultClient(t, env, nobody)
	nmc := mgmtClient(t, nobody, *v.ManagementEndpoint)
	loc := parLocation("https://objectstorage.example.com/p/x/o")
	_, err = nvc.BackupVault(ctx, keymanagement.BackupVaultRequest{VaultId: v.Id, BackupVaultDetails: keymanagement.BackupVaultDetails{BackupLocation: loc}})
	wantServiceError(t, "BackupVault as nobody", err, 400, "--backup-uri-prefix") // the location is checked first
	_, err = nmc.BackupKey(ctx, keymanagement.BackupKeyRequest{KeyId: k.Id, BackupKeyDetails: keymanagement.BackupKeyDetails{BackupLocation: loc}})
	wantServiceError(t, "BackupKey as nobody", err, 400, "--backup-uri-prefix")
	_, err = restoreVault(ctx, nvc, ten, blob, nil)
	wantServiceError(t, "RestoreVaultFromFile as nobody", err, 404, "")
	_, err = restoreKey(ctx, nmc, keyBlob)
	wantServiceError(t, "RestoreKeyFromFile as nobody", err, 404, "")
	if status, body := coffertest.Post(t, env.URL+path, nobody, time.Now(), map[string]any{}); status != 404 {
		t.Errorf("download as nobody: %d %s", status, body)
	}
	if status, body := coffertest.Post(t, env.URL+sysapi.ExportBackupKeyPath, nobody, time.Now(), sysapi.ExportBackupKeyRequest{Passphrase: "correct horse battery staple"}); status != 404 {
		t.Errorf("export backup key as nobody: %d %s", status, body)
	}
}
