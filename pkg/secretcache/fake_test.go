package secretcache

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/secrets"

	"github.com/coffer-vault/coffer/internal/clocktest"
)

// newFakeClock is the clock of the tests: it stands still until moved.
func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
}

// fakeSecret is one secret's current state in the fake backend.
type fakeSecret struct {
	content  string
	version  int64
	expiry   time.Time
	metadata map[string]any
}

// svcErr is an SDK-style service error.
type svcErr struct{ status int }

func (e svcErr) Error() string           { return fmt.Sprintf("service error %d", e.status) }
func (e svcErr) GetHTTPStatusCode() int  { return e.status }
func (e svcErr) GetMessage() string      { return "" }
func (e svcErr) GetCode() string         { return "" }
func (e svcErr) GetOpcRequestID() string { return "" }

var _ common.ServiceError = svcErr{}

// fakeBackend is an in-memory Secrets service that counts calls.
type fakeBackend struct {
	mu       sync.Mutex
	secrets  map[string]*fakeSecret // by OCID
	names    map[string]string      // vault + "/" + name -> OCID
	calls    map[string]int         // by OCID
	total    int
	failWith []error       // errors returned by the next calls, in order
	failAll  error         // returned by every call while set
	gate     chan struct{} // when set, calls block until it is closed
	retryHdr string        // Retry-After sent with failures
	called   chan string   // when set, receives the OCID of each call
	lastID   secrets.GetSecretBundleRequest
	lastName secrets.GetSecretBundleByNameRequest
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{secrets: map[string]*fakeSecret{}, names: map[string]string{}, calls: map[string]int{}}
}

func (b *fakeBackend) put(id string, content string, version int64) *fakeSecret {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &fakeSecret{content: content, version: version}
	b.secrets[id] = s
	return s
}

func (b *fakeBackend) name(vault, name, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.names[vault+"/"+name] = id
}

func (b *fakeBackend) set(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f()
}

func (b *fakeBackend) count(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[id]
}

func (b *fakeBackend) totalCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

func (b *fakeBackend) bundle(ctx context.Context, id string) (secrets.SecretBundle, *http.Response, error) {
	b.mu.Lock()
	b.calls[id]++
	b.total++
	gate, called := b.gate, b.called
	b.mu.Unlock()
	if called != nil {
		called <- id
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return secrets.SecretBundle{}, nil, ctx.Err()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if len(b.failWith) > 0 {
		err, b.failWith = b.failWith[0], b.failWith[1:]
	} else if b.failAll != nil {
		err = b.failAll
	}
	if err != nil {
		h := http.Header{}
		if b.retryHdr != "" {
			h.Set("Retry-After", b.retryHdr)
		}
		return secrets.SecretBundle{}, &http.Response{StatusCode: 500, Header: h}, err
	}
	s, ok := b.secrets[id]
	if !ok {
		return secrets.SecretBundle{}, &http.Response{StatusCode: 404, Header: http.Header{}}, svcErr{404}
	}
	enc := base64.StdEncoding.EncodeToString([]byte(s.content))
	v := s.version
	sid := id
	bundle := secrets.SecretBundle{
		SecretId:            &sid,
		VersionNumber:       &v,
		SecretBundleContent: secrets.Base64SecretBundleContentDetails{Content: &enc},
		Stages:              []secrets.SecretBundleStagesEnum{secrets.SecretBundleStagesCurrent, secrets.SecretBundleStagesLatest},
		Metadata:            s.metadata,
	}
	if !s.expiry.IsZero() {
		bundle.TimeOfExpiry = &common.SDKTime{Time: s.expiry}
	}
	return bundle, &http.Response{StatusCode: 200, Header: http.Header{}}, nil
}

func (b *fakeBackend) GetSecretBundle(ctx context.Context, req secrets.GetSecretBundleRequest) (secrets.GetSecretBundleResponse, error) {
	b.mu.Lock()
	b.lastID = req
	b.mu.Unlock()
	bundle, raw, err := b.bundle(ctx, *req.SecretId)
	return secrets.GetSecretBundleResponse{RawResponse: raw, SecretBundle: bundle}, err
}

func (b *fakeBackend) GetSecretBundleByName(ctx context.Context, req secrets.GetSecretBundleByNameRequest) (secrets.GetSecretBundleByNameResponse, error) {
	b.mu.Lock()
	b.lastName = req
	id, ok := b.names[*req.VaultId+"/"+*req.SecretName]
	b.mu.Unlock()
	if !ok {
		return secrets.GetSecretBundleByNameResponse{RawResponse: &http.Response{StatusCode: 404}}, svcErr{404}
	}
	bundle, raw, err := b.bundle(ctx, id)
	return secrets.GetSecretBundleByNameResponse{RawResponse: raw, SecretBundle: bundle}, err
}
