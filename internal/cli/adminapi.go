package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/pkg/securefile"
)

// maxAdminAnswer bounds what is read of an administrator API's answer.
const maxAdminAnswer = 64 << 10

// adminClient calls Coffer's own administrator APIs, which no SDK client
// has (instance certificates, resource principal tokens, seal, rotate).
// The SDK's base client signs each request with the configuration's
// credentials and applies the SDK's TLS settings (OCI_DEFAULT_CERTS_PATH)
// and the CLI's retry options, as for every other command.
type adminClient struct {
	g        *globals
	endpoint string
	provider common.ConfigurationProvider
}

// newAdminClient needs --endpoint (or COFFER_ENDPOINT) and the OCI
// configuration. why, if not empty, tells the user why the endpoint is
// needed.
func newAdminClient(g *globals, why string) (*adminClient, error) {
	endpoint := g.regionalEndpoint()
	if endpoint == "" {
		if why != "" {
			return nil, usageErrorf("pass --endpoint or set %s: %s", envEndpoint, why)
		}
		return nil, usageErrorf("pass --endpoint or set %s", envEndpoint)
	}
	p, err := g.configProvider()
	if err != nil {
		return nil, err
	}
	return &adminClient{g: g, endpoint: endpoint, provider: p}, nil
}

// post sends in as JSON to path and decodes the JSON answer into out. A
// refusal is the SDK's service error, which reportError prints as for any
// command; what names the call in the other errors. The answer's bytes are
// cleared after decoding: some carry credentials.
func (c *adminClient) post(ctx context.Context, path, what string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	bc, err := common.NewClientWithConfig(c.provider)
	if err != nil {
		return &configError{fmt.Errorf("client: %w", err)}
	}
	c.g.configure(&bc, c.endpoint)
	resp, err := postJSON(ctx, &bc, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswer))
	defer clear(rb)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return fmt.Errorf("%s: the server's answer is not JSON: %w", what, err)
	}
	return nil
}

// postJSON POSTs body, JSON, to path through bc, signed as the SDK's
// clients sign, and returns the answer (a refusal is the SDK's service
// error).
func postJSON(ctx context.Context, bc *common.BaseClient, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(body))
	return bc.Call(ctx, req)
}

// checkOutputDir refuses, as a usage error naming flag, a dir that is not
// an existing directory. Commands check it before they ask the server for
// anything, so a typo costs nothing.
func checkOutputDir(flag, dir string) error {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageErrorf("%s %s is not a directory", flag, dir)
	}
	return nil
}

// dirFile is one file for writeFiles.
type dirFile struct {
	name string
	data []byte
}

// writeFiles writes files into dir in order, each created 0600 and
// replaced atomically (securefile.Write), and stops at the first failure.
// It returns how many were written, so a caller can say which. Callers
// order the files so that a partial write is harmless: a private key
// before what it unlocks.
func writeFiles(dir string, files ...dirFile) (int, error) {
	for i, f := range files {
		if _, err := securefile.Write(filepath.Join(dir, f.name), f.data, securefile.Options{}); err != nil {
			return i, err // securefile names the file
		}
	}
	return len(files), nil
}

// newWorkloadKey generates a workload's RSA-2048 key (an instance's key,
// a resource principal's session key) and returns it with its public half
// as PEM PUBLIC KEY, which is all the server is sent. what names the key
// in errors.
func newWorkloadKey(what string) (*rsa.PrivateKey, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})), nil
}
