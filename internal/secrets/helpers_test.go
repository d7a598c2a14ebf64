package secrets

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/clocktest"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/secrets/secretstest"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

type env struct {
	s     *Service
	st    *memstore.Store
	ku    *secretstest.KeyUser
	clock *clocktest.Clock
	vault string
	key   string
	comp  string
	ctx   context.Context
}

func newEnv(t testing.TB) *env { t.Helper(); return newEnvWith(t, nil) }

// newEnvWith is newEnv with a chance to adjust the Config (limits).
func newEnvWith(t testing.TB, adjust func(*Config)) *env {
	t.Helper()
	e := &env{st: memstore.New(), ku: secretstest.NewKeyUser(), clock: clocktest.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
		vault: ocid.New(ocid.Vault, "test"), comp: ocid.New(ocid.Compartment, "test"), ctx: context.Background()}
	e.key = e.ku.AddKey(e.vault)
	names, err := blindindex.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: e.st, Keys: e.ku, Names: names, Region: "test", Now: e.clock.Now}
	if adjust != nil {
		adjust(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	return e
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func content(s string) *ContentDetails {
	return &ContentDetails{ContentType: ContentTypeBase64, Content: b64(s)}
}

func (e *env) createReq(name, value string) CreateSecretRequest {
	return CreateSecretRequest{CompartmentID: e.comp, VaultID: e.vault, KeyID: e.key, Name: name, Content: content(value)}
}

func (e *env) create(t testing.TB, name, value string) *Secret {
	t.Helper()
	sec, err := e.s.CreateSecret(e.ctx, e.createReq(name, value))
	if err != nil {
		t.Fatalf("CreateSecret(%s): %v", name, err)
	}
	return sec
}

func (e *env) put(t *testing.T, id, value string, stage Stage) *Secret {
	t.Helper()
	c := content(value)
	c.Stage = stage
	sec, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: c})
	if err != nil {
		t.Fatalf("UpdateSecret(content): %v", err)
	}
	return sec
}

func (e *env) promote(t *testing.T, id string, n int64) {
	t.Helper()
	if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, CurrentVersionNumber: &n}); err != nil {
		t.Fatalf("promote %d: %v", n, err)
	}
}

func (e *env) read(t *testing.T, id string, sel BundleSelector) string {
	t.Helper()
	b, err := e.s.GetSecretBundle(e.ctx, id, sel)
	if err != nil {
		t.Fatalf("GetSecretBundle(%+v): %v", sel, err)
	}
	defer b.Content.Zero()
	return string(b.Content.Bytes())
}

func wantKind(t *testing.T, err error, k errs.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %v", k)
	}
	if errs.KindOf(err) != k {
		t.Fatalf("got %v (kind %v), want kind %v", err, errs.KindOf(err), k)
	}
}

func ptr[T any](v T) *T { return &v }
