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
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Date", date.UTC().Format(http.TimeFormat))
	if err := common.DefaultRequestSigner(p).Sign(req); err != nil {
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
