package coffertest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/internal/server"
)

// Region is a dev server in region mode: SDK clients reach it with a
// configuration provider and a region only, no Host, as they reach OCI.
type Region struct {
	*Env
	// Domain is the realm domain the SDKs put into URLs (with the
	// listener's port); RegionName is the region.
	Domain, RegionName string
	// Metadata is the OCI_REGION_METADATA value; CAFile the dev CA, which
	// CAPool trusts.
	Metadata string
	CAFile   string
	CAPool   *x509.CertPool
	// Addr is the listener; Dial sends every connection there, whatever
	// host name it was for: the stand-in for wildcard DNS.
	Addr string
}

// StartRegion runs a dev server with --realm-domain domain and --region
// local and stops it when the test ends.
func StartRegion(t testing.TB, domain string) *Region {
	t.Helper()
	env := Start(t, Options{Config: func(c *server.Config) { c.RealmDomain = domain }})
	pem, err := os.ReadFile(env.Server.CAFile())
	if err != nil {
		t.Fatalf("read dev CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("dev CA: no certificate")
	}
	r := &Region{
		Env: env, RegionName: env.Server.Region(), Metadata: env.Server.RegionMetadata(),
		CAFile: env.Server.CAFile(), CAPool: pool,
	}
	u := env.URL[len("https://"):]
	r.Addr = u
	_, port, _ := net.SplitHostPort(u)
	r.Domain = net.JoinHostPort(domain, port)
	return r
}

// Vars is the environment a separate program needs to use the region with
// the official SDKs: the region metadata, the CA bundle for Go
// (OCI_DEFAULT_CERTS_PATH) and Node (NODE_EXTRA_CA_CERTS), and the config
// file.
func (r *Region) Vars() []string {
	return []string{
		"OCI_REGION_METADATA=" + r.Metadata,
		"OCI_DEFAULT_CERTS_PATH=" + r.CAFile,
		"NODE_EXTRA_CA_CERTS=" + r.CAFile,
		"OCI_CONFIG_FILE=" + r.Server.ConfigPath,
	}
}

// Dial connects to the server whatever address it is asked for.
func (r *Region) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, r.Addr)
}

// UseInProcess lets SDK clients made in this test process find the
// region: the SDK reads OCI_REGION_METADATA once per process, so in a test
// the realm domain comes from OCI_DEFAULT_REALM instead, which the Go SDK
// reads whenever a client is made for a region it does not know. It also
// points OCI_DEFAULT_CERTS_PATH at the dev CA. It sets environment
// variables, so the test must not be parallel.
func (r *Region) UseInProcess(t testing.TB) {
	t.Helper()
	t.Setenv("OCI_DEFAULT_REALM", r.Domain)
	t.Setenv("OCI_DEFAULT_CERTS_PATH", r.CAFile)
}

// Route makes an SDK client's connections go to the server, keeping
// everything else of the SDK's own transport (its TLS configuration from
// OCI_DEFAULT_CERTS_PATH included), and turns off retries. It changes
// neither Host nor the endpoint: those come from the region. The client
// must not have sent a request yet.
func (r *Region) Route(client *common.BaseClient) {
	RouteDial(client, r.Dial)
	client.SetCustomClientConfiguration(common.CustomClientConfiguration{
		RetryPolicy: ptr(common.NoRetryPolicy()),
	})
}

// RouteDial replaces only the dialer of the SDK's transport: the SDK
// builds its http.Transport lazily from the TLS configuration it read, and
// TransportTemplate is its hook for that step.
func RouteDial(client *common.BaseClient, dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	hc, ok := client.HTTPClient.(*http.Client)
	if !ok {
		panic("coffertest: SDK client without its default http.Client")
	}
	w, ok := hc.Transport.(*common.OciHTTPTransportWrapper)
	if !ok {
		panic("coffertest: SDK client without its default transport")
	}
	w.TransportTemplate = func(cfg *tls.Config) (http.RoundTripper, error) {
		t, err := common.DefaultTransport(cfg)
		if err != nil {
			return nil, err
		}
		t.DialContext = dial
		return t, nil
	}
}
