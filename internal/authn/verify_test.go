package authn

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
)

type oneKey struct {
	id  APIKeyID
	pub *rsa.PublicKey
}

func (k oneKey) LookupAPIKey(_ context.Context, id APIKeyID) (*rsa.PublicKey, *authz.Principal, error) {
	if id != k.id {
		return nil, nil, errors.New("unknown key")
	}
	return k.pub, &authz.Principal{ID: id.UserID}, nil
}

// signTS signs r the way the TypeScript SDK does: x-date instead of date,
// its own header order, parameters in its order, percent-encoded path.
func signTS(t *testing.T, r *http.Request, body []byte, key *rsa.PrivateKey, keyID string, signBody bool) {
	t.Helper()
	r.Header.Set("x-date", time.Now().UTC().Format(http.TimeFormat))
	headers := []string{"x-date", "(request-target)", "host"}
	if signBody {
		sum := sha256.Sum256(body)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		r.Header.Set("x-content-sha256", base64.StdEncoding.EncodeToString(sum[:]))
		headers = append(headers, "content-type", "content-length", "x-content-sha256")
	}
	var lines []string
	for _, h := range headers {
		switch h {
		case "(request-target)":
			lines = append(lines, h+": "+strings.ToLower(r.Method)+" "+r.RequestURI)
		case "host":
			lines = append(lines, "host: "+r.Host)
		default:
			lines = append(lines, h+": "+r.Header.Get(h))
		}
	}
	digest := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", `Signature version="1",keyId="`+keyID+`",algorithm="rsa-sha256",headers="`+
		strings.Join(headers, " ")+`",signature="`+base64.StdEncoding.EncodeToString(sig)+`"`)
}

func TestVerifyTypeScriptStyle(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	id := APIKeyID{TenancyID: "ocid1.tenancy.oc1..t", UserID: "ocid1.user.oc1..u", Fingerprint: "aa:bb"}
	v := &Verifier{Keys: oneKey{id: id, pub: &key.PublicKey}}
	keyID := id.TenancyID + "/" + id.UserID + "/" + id.Fingerprint

	// GET with a percent-encoded path segment, as TS sends it.
	get := httptest.NewRequest(http.MethodGet, "http://coffer.test/20160918/users/ocid1.user.oc1..u/apiKeys/aa%3Abb", nil)
	signTS(t, get, nil, key, keyID, false)
	if p, err := v.Verify(context.Background(), get, nil); err != nil || p.ID != id.UserID {
		t.Fatalf("TS GET: %v", err)
	}

	body := []byte(`{"displayName":"x"}`)
	post := httptest.NewRequest(http.MethodPost, "http://coffer.test/20180608/vaults", strings.NewReader(string(body)))
	signTS(t, post, body, key, keyID, true)
	if _, err := v.Verify(context.Background(), post, body); err != nil {
		t.Fatalf("TS POST: %v", err)
	}
	// The same request with another body fails.
	if _, err := v.Verify(context.Background(), post, []byte(`{"displayName":"y"}`)); !errors.Is(err, ErrNotAuthenticated) {
		t.Fatalf("TS POST with changed body: %v", err)
	}
	// A POST that does not sign the body headers fails.
	bare := httptest.NewRequest(http.MethodPost, "http://coffer.test/20180608/vaults", nil)
	// A POST whose signature is valid but leaves the body headers out.
	signTS(t, bare, nil, key, keyID, false)
	if _, err := v.Verify(context.Background(), bare, nil); !errors.Is(err, ErrNotAuthenticated) {
		t.Fatalf("POST without body headers signed: %v", err)
	}
}
