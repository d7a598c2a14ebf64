package federation_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/common/auth"
	"github.com/oracle/oci-go-sdk/v65/identity"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"

	"github.com/coffer-vault/coffer/internal/agent"
	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/federation"
	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/server"
)

var ctx = context.Background()

const canary = "CANARY-instance-principal-7f3a"

func newKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubPEM(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// instanceDir issues a certificate for an instance through the admin API
// (signed as admin, dated date) and writes the identity directory the
// metadata stand-in serves.
func instanceDir(t testing.TB, env *coffertest.Env, instanceID, compartment string, validity time.Duration, date time.Time) string {
	t.Helper()
	key := newKey(t)
	status, body := coffertest.Post(t, env.URL+federation.CertificatesPath, env.Provider, date, federation.CreateDetails{
		InstanceID: instanceID, CompartmentID: compartment, PublicKey: pubPEM(t, key), ValidityInSeconds: int64(validity / time.Second),
	})
	if status != 200 {
		t.Fatalf("CreateInstanceCertificate: %d %s", status, body)
	}
	var c federation.Certificate
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	region, err := env.Provider.Region()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		federation.CertFile:         c.Certificate,
		federation.IntermediateFile: c.IntermediateCertificate,
		federation.KeyFile:          string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		federation.RegionFile:       region,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// useInstance serves dir as the metadata service and points the SDK at
// it and at Coffer's federation endpoint.
func useInstance(t *testing.T, env *coffertest.Env, dir string) {
	t.Helper()
	md := httptest.NewServer(federation.MetadataHandler(dir, ""))
	t.Cleanup(md.Close)
	t.Setenv("OCI_METADATA_BASE_URL", md.URL+federation.MetadataBasePath)
	t.Setenv("OCI_SDK_AUTH_CLIENT_REGION_URL", env.URL)
	t.Setenv("OCI_SDK_AUTH_CLIENT_CIRCUIT_BREAKER_ENABLED", "false")
	t.Setenv("OCI_SDK_DEFAULT_CIRCUITBREAKER_ENABLED", "false")
}

// instanceSecrets builds the SDK's instance principal provider and a
// SecretsClient on Coffer; building the client federates.
func instanceSecrets(t *testing.T, env *coffertest.Env) (common.ConfigurationProvider, sdksecrets.SecretsClient, error) {
	t.Helper()
	p, err := auth.InstancePrincipalConfigurationProvider()
	if err != nil {
		t.Fatalf("instance principal provider: %v", err)
	}
	c, err := sdksecrets.NewSecretsClientWithConfigurationProvider(p)
	if err != nil {
		return p, c, err
	}
	coffertest.Configure(&c.BaseClient, env.URL)
	return p, c, nil
}

type setup struct {
	f                   *vaultstest.Fixture
	clock               *keystest.Clock
	apps, other         string
	secretID            string
	identity            identity.IdentityClient
	instanceApps, instB string
}

func start(t *testing.T) *setup {
	t.Helper()
	clock := keystest.NewClock()
	f := vaultstest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.Now = clock.Now }})
	s := &setup{f: f, clock: clock, instanceApps: "ocid1.instance.oc1.local.apps1", instB: "ocid1.instance.oc1.local.other1"}
	s.secretID = *f.CreateSecret(t, "db-password", canary).Id
	ic := f.Env.Identity(t)
	s.identity = ic
	for _, name := range []string{"apps", "other"} {
		c, err := ic.CreateCompartment(ctx, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
			CompartmentId: &f.Tenancy, Name: common.String(name), Description: common.String(name)}})
		if err != nil {
			t.Fatalf("CreateCompartment: %v", err)
		}
		if name == "apps" {
			s.apps = *c.Id
		} else {
			s.other = *c.Id
		}
	}
	f.Env.AllowDynamicGroup(t, "app-instances", "ANY {instance.compartment.id = '"+s.apps+"'}",
		"read secret-family in tenancy", "use keys in tenancy")
	return s
}

func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	se, ok := common.IsServiceError(err)
	if !ok || se.GetHTTPStatusCode() != status {
		t.Fatalf("got %v, want a %d service error", err, status)
	}
}

// TestInstancePrincipalEndToEnd: the unmodified SDK's instance principal
// provider, fed by the metadata stand-in, federates with Coffer and reads a
// secret as a member of a dynamic group; an instance elsewhere is refused;
// its token is bound to its session key.
func TestInstancePrincipalEndToEnd(t *testing.T) {
	s := start(t)
	env := s.f.Env

	useInstance(t, env, instanceDir(t, env, s.instanceApps, s.apps, 0, time.Now()))
	p, sc, err := instanceSecrets(t, env)
	if err != nil {
		t.Fatalf("secrets client as an instance: %v", err)
	}
	if tenancy, err := p.TenancyOCID(); err != nil || tenancy != s.f.Tenancy {
		t.Errorf("the SDK read tenancy %q from the certificate, %v", tenancy, err)
	}
	resp, err := sc.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: &s.secretID})
	if err != nil {
		t.Fatalf("GetSecretBundle as an instance: %v", err)
	}
	if got := vaultstest.Decode(t, resp.SecretBundle); got != canary {
		t.Fatalf("content %q", got)
	}

	// The token is bound to the session key: the same keyId signed with
	// another key is 401, with the session key it is 200.
	keyID, err := p.KeyID()
	if err != nil || !strings.HasPrefix(keyID, "ST$") {
		t.Fatalf("keyId %q, %v", keyID, err)
	}
	session, err := p.PrivateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	get := func(k *rsa.PrivateKey) int {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/20190301/secretbundles/"+s.secretID, nil)
		req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		if err := common.DefaultRequestSigner(stKey{keyID, k}).Sign(req); err != nil {
			t.Fatal(err)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if got := get(session); got != 200 {
		t.Errorf("token with its session key: %d", got)
	}
	if got := get(newKey(t)); got != 401 {
		t.Errorf("token with another key: %d, want 401", got)
	}

	// An instance may not issue certificates (404, as every denial).
	if status, body := coffertest.Post(t, env.URL+federation.CertificatesPath, stKey{keyID, session}, time.Now(), federation.CreateDetails{
		InstanceID: s.instanceApps, CompartmentID: s.apps, PublicKey: pubPEM(t, session)}); status != 404 {
		t.Errorf("instance issuing a certificate: %d %s", status, body)
	}

	// An instance in another compartment matches no dynamic group.
	useInstance(t, env, instanceDir(t, env, s.instB, s.other, 0, time.Now()))
	_, sc, err = instanceSecrets(t, env)
	if err != nil {
		t.Fatalf("secrets client as the other instance: %v", err)
	}
	_, err = sc.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: &s.secretID})
	wantStatus(t, err, 404)

	// The agent, with auth instance_principal, renders the secret.
	useInstance(t, env, instanceDir(t, env, s.instanceApps, s.apps, 0, time.Now()))
	dir := t.TempDir()
	cfg := `{"auth": {"type": "instance_principal"}, "endpoint": "` + env.URL + `",
	  "files": [{"path": "db", "secret": {"id": "` + s.secretID + `"}}]}`
	path := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	plan, err := agent.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	client, err := agent.NewSecretsClient(plan.Source())
	if err != nil {
		t.Fatalf("agent client as an instance: %v", err)
	}
	a := agent.New(plan, client, agent.Options{})
	defer a.Close()
	if err := a.Refresh(ctx); err != nil {
		t.Fatalf("agent refresh: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "db")); err != nil || string(b) != canary {
		t.Errorf("agent wrote %q, %v", b, err)
	}

	if strings.Contains(env.Logs.String(), canary) {
		t.Error("the secret reached the server log")
	}
}

type stKey struct {
	keyID string
	key   *rsa.PrivateKey
}

func (k stKey) KeyID() (string, error)                  { return k.keyID, nil }
func (k stKey) PrivateRSAKey() (*rsa.PrivateKey, error) { return k.key, nil }

// TestFederationRefusesCertificates: a tampered, foreign or expired
// certificate is refused at federation (401), so building the SDK client
// fails.
func TestFederationRefusesCertificates(t *testing.T) {
	s := start(t)
	env := s.f.Env

	good := instanceDir(t, env, s.instanceApps, s.apps, 0, time.Now())
	certPEM, err := os.ReadFile(filepath.Join(good, federation.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	// Tampered: one bit of the signature flipped.
	tampered := t.TempDir()
	copyDir(t, good, tampered)
	der := bytes.Clone(block.Bytes)
	der[len(der)-3] ^= 1
	writePEM(t, filepath.Join(tampered, federation.CertFile), der)

	// Forged: another instance's subject, signed by a CA of our own that
	// copies the names of Coffer's intermediate, served as intermediate.
	forged := t.TempDir()
	copyDir(t, good, forged)
	key, _ := os.ReadFile(filepath.Join(good, federation.KeyFile))
	kb, _ := pem.Decode(key)
	leafKey, _ := x509.ParsePKCS1PrivateKey(kb.Bytes)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := *leaf
	tmpl.SerialNumber = big.NewInt(7)
	tmpl.Subject = pkix.Name{CommonName: s.instB, OrganizationalUnit: []string{"opc-certtype:instance", "opc-compartment:" + s.apps, "opc-instance:" + s.instB, "opc-tenant:" + s.f.Tenancy}}
	interBlock, _ := pem.Decode(mustRead(t, filepath.Join(good, federation.IntermediateFile)))
	inter, _ := x509.ParseCertificate(interBlock.Bytes)
	fakeInter := *inter
	fakeInter.SerialNumber = big.NewInt(8)
	fakeInter.PublicKey, fakeInter.SubjectKeyId, fakeInter.AuthorityKeyId = &caKey.PublicKey, nil, nil
	tmpl.AuthorityKeyId = nil
	fakeDER, err := x509.CreateCertificate(rand.Reader, &fakeInter, &fakeInter, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	fake, _ := x509.ParseCertificate(fakeDER)
	forgedDER, err := x509.CreateCertificate(rand.Reader, &tmpl, fake, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(forged, federation.CertFile), forgedDER)
	writePEM(t, filepath.Join(forged, federation.IntermediateFile), fakeDER)

	// Expired: issued two hours ago (server time) for one hour.
	s.clock.Advance(-2 * time.Hour)
	expired := instanceDir(t, env, s.instanceApps, s.apps, time.Hour, s.clock.Now())
	s.clock.Advance(2 * time.Hour)

	for name, dir := range map[string]string{"tampered": tampered, "forged": forged, "expired": expired} {
		t.Run(name, func(t *testing.T) {
			useInstance(t, env, dir)
			_, _, err := instanceSecrets(t, env)
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("client built with a %s certificate: %v", name, err)
			}
		})
	}
	// The good directory still works, so the refusals are the
	// certificates' fault.
	useInstance(t, env, good)
	if _, _, err := instanceSecrets(t, env); err != nil {
		t.Fatalf("good certificate: %v", err)
	}

	// A certificate whose compartment is deleted no longer federates.
	gone, err := s.identity.CreateCompartment(ctx, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
		CompartmentId: &s.f.Tenancy, Name: common.String("gone"), Description: common.String("deleted")}})
	if err != nil {
		t.Fatal(err)
	}
	goneDir := instanceDir(t, env, "ocid1.instance.oc1.local.gone", *gone.Id, 0, time.Now())
	if _, err := s.identity.DeleteCompartment(ctx, identity.DeleteCompartmentRequest{CompartmentId: gone.Id}); err != nil {
		t.Fatal(err)
	}
	useInstance(t, env, goneDir)
	if _, _, err := instanceSecrets(t, env); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("instance of a deleted compartment: %v", err)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	for _, name := range []string{federation.CertFile, federation.KeyFile, federation.IntermediateFile, federation.RegionFile} {
		if err := os.WriteFile(filepath.Join(to, name), mustRead(t, filepath.Join(from, name)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func writePEM(t testing.TB, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCreateInstanceCertificate: authorization and validation of the admin
// API, and what the certificate says.
func TestCreateInstanceCertificate(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	tenancy := keystest.Tenancy(t, env)
	key := newKey(t)
	url := env.URL + federation.CertificatesPath
	good := federation.CreateDetails{InstanceID: "ocid1.instance.oc1.local.i", CompartmentID: tenancy, PublicKey: pubPEM(t, key), ValidityInSeconds: 3600}
	status, body := coffertest.Post(t, url, env.Provider, time.Now(), good)
	if status != 200 {
		t.Fatalf("admin: %d %s", status, body)
	}
	var c federation.Certificate
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	pb, _ := pem.Decode([]byte(c.Certificate))
	leaf, err := x509.ParseCertificate(pb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.PublicKey.(*rsa.PublicKey).Equal(&key.PublicKey) || time.Until(leaf.NotAfter) > time.Hour || time.Until(leaf.NotAfter) < 59*time.Minute ||
		!leaf.NotAfter.Equal(c.TimeExpires) {
		t.Errorf("leaf key or validity wrong: %v %v", leaf.NotAfter, c.TimeExpires)
	}
	// One value per RDN, as in OCI's certificates.
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(leaf.RawSubject, &rdns); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rdn := range rdns {
		if len(rdn) != 1 {
			t.Errorf("multi-valued RDN %v", rdn)
		}
		for _, atv := range rdn {
			got = append(got, atv.Value.(string))
		}
	}
	want := []string{good.InstanceID, "opc-certtype:instance", "opc-compartment:" + tenancy, "opc-instance:" + good.InstanceID, "opc-tenant:" + tenancy}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("subject %q, want %q", got, want)
	}
	ib, _ := pem.Decode([]byte(c.IntermediateCertificate))
	rb, _ := pem.Decode([]byte(c.CACertificate))
	inter, _ := x509.ParseCertificate(ib.Bytes)
	root, _ := x509.ParseCertificate(rb.Bytes)
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("chain: %v", err)
	}

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	for name, d := range map[string]federation.CreateDetails{
		"missing instance":  {CompartmentID: tenancy, PublicKey: good.PublicKey},
		"bad instance":      {InstanceID: "i-1", CompartmentID: tenancy, PublicKey: good.PublicKey},
		"unknown compart":   {InstanceID: good.InstanceID, CompartmentID: "ocid1.compartment.oc1..none", PublicKey: good.PublicKey},
		"bad pem":           {InstanceID: good.InstanceID, CompartmentID: tenancy, PublicKey: "nope"},
		"ecdsa key":         {InstanceID: good.InstanceID, CompartmentID: tenancy, PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}))},
		"validity too long": {InstanceID: good.InstanceID, CompartmentID: tenancy, PublicKey: good.PublicKey, ValidityInSeconds: 400 * 86400},
		"negative validity": {InstanceID: good.InstanceID, CompartmentID: tenancy, PublicKey: good.PublicKey, ValidityInSeconds: -1},
		// Times 1e9 this wraps to exactly an hour.
		"validity wraps": {InstanceID: good.InstanceID, CompartmentID: tenancy, PublicKey: good.PublicKey, ValidityInSeconds: 3600 + 1<<55},
	} {
		if status, body := coffertest.Post(t, url, env.Provider, time.Now(), d); status != 400 {
			t.Errorf("%s: %d %s, want 400", name, status, body)
		}
	}

	// A user without manage dynamic-groups is refused (404).
	dev := env.NewUser(t, "dev")
	if status, body := coffertest.Post(t, url, dev, time.Now(), good); status != 404 {
		t.Errorf("user without rights: %d %s, want 404", status, body)
	}
	// An API-key signature is not a federation request (401).
	if status, body := coffertest.Post(t, env.URL+federation.FederationPath, env.Provider, time.Now(), map[string]string{}); status != 401 {
		t.Errorf("federation signed with an API key: %d %s", status, body)
	}

	// The CA is in the store: a certificate outlives a restart.
	addr := strings.TrimPrefix(env.URL, "http://")
	env.Stop()
	env2 := coffertest.Start(t, coffertest.Options{DataDir: env.DataDir, Listen: addr})
	status, body = coffertest.Post(t, env2.URL+federation.CertificatesPath, env2.Provider, time.Now(), good)
	if status != 200 {
		t.Fatalf("after restart: %d %s", status, body)
	}
	var c2 federation.Certificate
	json.Unmarshal(body, &c2)
	if c2.CACertificate != c.CACertificate || c2.IntermediateCertificate != c.IntermediateCertificate {
		t.Error("the CA changed across a restart")
	}
}

// TestMetadataHandler: the stand-in answers as OCI's metadata service does
// for the SDK.
func TestMetadataHandler(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, federation.CertFile), []byte("CERT"), 0o600)
	os.WriteFile(filepath.Join(dir, federation.RegionFile), []byte("local\n"), 0o600)
	for _, tc := range []struct {
		region, path, auth string
		status             int
		body               string
	}{
		{"", "/opc/v2/instance/region", "Bearer Oracle", 200, "local"},
		{"us-ashburn-1", "/opc/v2/instance/region", "Bearer Oracle", 200, "us-ashburn-1"},
		{"", "/opc/v2/identity/cert.pem", "Bearer Oracle", 200, "CERT"},
		{"", "/opc/v2/identity/cert.pem", "", 401, ""},
		{"", "/opc/v2/identity/cert.pem", "Bearer Other", 401, ""},
		{"", "/opc/v2/identity/key.pem", "Bearer Oracle", 404, ""},
		{"", "/opc/v2/identity/../../etc/passwd", "Bearer Oracle", 404, ""},
		{"", "/opc/v1/identity/cert.pem", "Bearer Oracle", 404, ""},
	} {
		h := federation.MetadataHandler(dir, tc.region)
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status || (tc.status == 200 && w.Body.String() != tc.body) {
			t.Errorf("%s %s (%q): %d %q", tc.region, tc.path, tc.auth, w.Code, w.Body.String())
		}
	}
}

// An instance asks why it may or may not read a secret
// (ExplainOwnAuthorization), signing as itself: one the dynamic group
// matches is told it is allowed and which dynamic group grants it; an
// instance elsewhere, which may not see the secret, learns nothing.
func TestInstanceExplainsOwnDecision(t *testing.T) {
	s := start(t)
	env := s.f.Env
	body := []byte(`{"operation":"GetSecretBundle","secretId":"` + s.secretID + `"}`)
	ask := func() (int, []byte) {
		t.Helper()
		p, _, err := instanceSecrets(t, env)
		if err != nil {
			t.Fatal(err)
		}
		coffertest.NextSecond()
		return coffertest.Signed(t, common.DefaultRequestSigner(p), http.MethodPost, env.URL+identityapi.ExplainOwnPath, body, time.Now())
	}
	useInstance(t, env, instanceDir(t, env, s.instanceApps, s.apps, 0, time.Now()))
	status, b := ask()
	var ans identityapi.ExplainResponse
	if status != http.StatusOK || json.Unmarshal(b, &ans) != nil || !ans.Allowed || len(ans.DynamicGroups) != 1 || ans.DynamicGroups[0] != "app-instances" {
		t.Fatalf("the matching instance: %d %s", status, b)
	}
	useInstance(t, env, instanceDir(t, env, s.instB, s.other, 0, time.Now()))
	if status, b := ask(); status != http.StatusNotFound || !bytes.Contains(b, []byte("NotAuthorizedOrNotFound")) {
		t.Fatalf("the other instance: %d %s", status, b)
	}
}
