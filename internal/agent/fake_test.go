package agent

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/secrets"
)

// svcErr is an SDK-style service error.
type svcErr struct{ status int }

func (e svcErr) Error() string           { return fmt.Sprintf("service error %d", e.status) }
func (e svcErr) GetHTTPStatusCode() int  { return e.status }
func (e svcErr) GetMessage() string      { return "" }
func (e svcErr) GetCode() string         { return "" }
func (e svcErr) GetOpcRequestID() string { return "" }

var _ common.ServiceError = svcErr{}

type fakeVersion struct {
	content string
	version int64
}

// fakeBackend is an in-memory Secrets service: secrets by OCID (current
// version only) and names by vault.
type fakeBackend struct {
	mu      sync.Mutex
	current map[string]fakeVersion
	names   map[string]string // vault/name -> OCID
	down    error             // returned by every call while set
	calls   int
}

func newFake() *fakeBackend {
	return &fakeBackend{current: map[string]fakeVersion{}, names: map[string]string{}}
}

// put creates or rotates a secret: each call is a new version.
func (b *fakeBackend) put(id, content string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.current[id].version + 1
	b.current[id] = fakeVersion{content: content, version: v}
	return v
}

func (b *fakeBackend) name(vault, name, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.names[vault+"/"+name] = id
}

func (b *fakeBackend) setDown(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = err
}

func (b *fakeBackend) bundle(id string) (secrets.SecretBundle, *http.Response, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.down != nil {
		return secrets.SecretBundle{}, nil, b.down
	}
	s, ok := b.current[id]
	if !ok {
		return secrets.SecretBundle{}, &http.Response{StatusCode: 404, Header: http.Header{}}, svcErr{404}
	}
	enc := base64.StdEncoding.EncodeToString([]byte(s.content))
	v, sid := s.version, id
	return secrets.SecretBundle{
		SecretId:            &sid,
		VersionNumber:       &v,
		SecretBundleContent: secrets.Base64SecretBundleContentDetails{Content: &enc},
	}, &http.Response{StatusCode: 200, Header: http.Header{}}, nil
}

func (b *fakeBackend) GetSecretBundle(_ context.Context, req secrets.GetSecretBundleRequest) (secrets.GetSecretBundleResponse, error) {
	bundle, raw, err := b.bundle(*req.SecretId)
	return secrets.GetSecretBundleResponse{RawResponse: raw, SecretBundle: bundle}, err
}

func (b *fakeBackend) GetSecretBundleByName(_ context.Context, req secrets.GetSecretBundleByNameRequest) (secrets.GetSecretBundleByNameResponse, error) {
	b.mu.Lock()
	id, ok := b.names[*req.VaultId+"/"+*req.SecretName]
	b.mu.Unlock()
	if !ok {
		return secrets.GetSecretBundleByNameResponse{RawResponse: &http.Response{StatusCode: 404}}, svcErr{404}
	}
	bundle, raw, err := b.bundle(id)
	return secrets.GetSecretBundleByNameResponse{RawResponse: raw, SecretBundle: bundle}, err
}
