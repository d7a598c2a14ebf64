package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
)

// The requests of a run are built by the official SDK clients themselves
// (GetSecretBundle, Encrypt) with their default signer,
// common.DefaultRequestSigner, and captured at the dispatcher instead of
// being sent: so they carry exactly the headers, date, body digest and
// signature the SDK sends, and are serialized with (*http.Request).Write,
// as net/http's transport writes them. Each is signed once, just before
// its row, and replayed; the server allows a 5-minute clock skew and
// does not refuse a replayed signature.

// capture is an SDK dispatcher that serializes the signed request rather
// than sending it, and answers with an empty JSON object.
type capture struct {
	raw []byte
}

func (c *capture) Do(req *http.Request) (*http.Response, error) {
	var b bytes.Buffer
	if err := req.Write(&b); err != nil {
		return nil, err
	}
	c.raw = b.Bytes()
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader("{}")),
		Request: req,
	}, nil
}

// adminProvider is the dev administrator's SDK configuration
// (DIR/oci/config, profile DEFAULT). The file provider reads and parses
// the PEM key for every request it signs; this one parses it once, which
// changes how fast the bench signs, not what it signs.
func adminProvider(t testing.TB, configPath string) common.ConfigurationProvider {
	t.Helper()
	p := common.CustomProfileConfigProvider(configPath, "DEFAULT")
	key, err := p.PrivateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	keyID, err := p.KeyID()
	if err != nil {
		t.Fatal(err)
	}
	return cachedKey{ConfigurationProvider: p, key: key, keyID: keyID}
}

type cachedKey struct {
	common.ConfigurationProvider
	key   *rsa.PrivateKey
	keyID string
}

func (c cachedKey) PrivateRSAKey() (*rsa.PrivateKey, error) { return c.key, nil }
func (c cachedKey) KeyID() (string, error)                  { return c.keyID, nil }

// noRetry turns off the SDK's retries: a captured request is final.
func noRetry(c *common.BaseClient, host string, dispatcher common.HTTPRequestDispatcher, p common.ConfigurationProvider) {
	c.Host = host
	c.HTTPClient = dispatcher
	c.Signer = common.DefaultRequestSigner(p)
	nr := common.NoRetryPolicy()
	c.SetCustomClientConfiguration(common.CustomClientConfiguration{RetryPolicy: &nr})
}

// signAll makes n SDK calls in parallel: newCall returns, once per
// goroutine, a function (over a client of its own) that makes call i.
func signAll(t testing.TB, n int, newCall func() func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call := newCall()
			for i := w; i < n; i += workers {
				if err := call(i); err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
}

// bundleRequests signs n GetSecretBundle requests for host (a URL),
// request i reading ids[i%len(ids)] with opc-request-id
// "bench-<tag>-<i>", so that all n differ.
func bundleRequests(t testing.TB, p common.ConfigurationProvider, host string, ids []string, n int, tag string) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	signAll(t, n, func() func(int) error {
		client, err := sdksecrets.NewSecretsClientWithConfigurationProvider(p)
		if err != nil {
			return func(int) error { return err }
		}
		c := &capture{}
		noRetry(&client.BaseClient, host, c, p)
		return func(i int) error {
			c.raw = nil
			_, err := client.GetSecretBundle(context.Background(), sdksecrets.GetSecretBundleRequest{
				SecretId:     common.String(ids[i%len(ids)]),
				OpcRequestId: common.String(fmt.Sprintf("bench-%s-%06d", tag, i)),
			})
			if c.raw == nil {
				return fmt.Errorf("sign GetSecretBundle: %v", err)
			}
			out[i] = c.raw
			return nil
		}
	})
	return out
}

// encryptRequests signs n Encrypt requests of 1 KiB random plaintexts
// under keyID for the vault's crypto endpoint (a URL).
func encryptRequests(t testing.TB, p common.ConfigurationProvider, endpoint, keyID string, n int, tag string) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	signAll(t, n, func() func(int) error {
		client, err := keymanagement.NewKmsCryptoClientWithConfigurationProvider(p, endpoint)
		if err != nil {
			return func(int) error { return err }
		}
		c := &capture{}
		noRetry(&client.BaseClient, endpoint, c, p)
		plain := make([]byte, 1024)
		return func(i int) error {
			if _, err := rand.Read(plain); err != nil {
				return err
			}
			c.raw = nil
			_, err := client.Encrypt(context.Background(), keymanagement.EncryptRequest{
				EncryptDataDetails: keymanagement.EncryptDataDetails{
					KeyId:     common.String(keyID),
					Plaintext: common.String(base64.StdEncoding.EncodeToString(plain)),
				},
				OpcRequestId: common.String(fmt.Sprintf("bench-%s-%06d", tag, i)),
			})
			if c.raw == nil {
				return fmt.Errorf("sign Encrypt: %v", err)
			}
			out[i] = c.raw
			return nil
		}
	})
	return out
}
