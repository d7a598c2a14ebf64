package coffertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
)

// Post sends body as JSON to url, dated date and signed as p with the
// SDK's request signer, and returns the status and the answer: for
// Coffer's own administrator APIs, which no SDK client has, and for
// requests a test signs with a key of its choosing.
func Post(t testing.TB, url string, p common.KeyProvider, date time.Time, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return Signed(t, common.DefaultRequestSigner(p), http.MethodPost, url, b, date)
}

// Signed sends a request with body (JSON; nil for none), dated date and
// signed by signer, and returns the status and the answer: for requests no
// SDK client would send, such as malformed ones.
func Signed(t testing.TB, signer common.HTTPRequestSigner, method, url string, body []byte, date time.Time) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Date", date.UTC().Format(http.TimeFormat))
	if err := signer.Sign(req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, rb
}
