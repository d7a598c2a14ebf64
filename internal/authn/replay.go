package authn

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"time"
)

// RequestSignature returns the decoded signature of r, a request Verify
// accepted, and the time in the date header that signature covers. The
// replay ledger identifies a request by it: RSASSA-PKCS1-v1_5 is
// deterministic, so the signature is a function of the key and the signing
// string (date, request target, host and, with a body, its length, type and
// hash), and Verify accepts exactly one encoding of it as a number below the
// modulus. The decoded bytes, not the base64 text, are what identify it:
// base64 has several spellings of one value (the unused bits of the last
// character), and a replayer must not get past the ledger by respelling.
func RequestSignature(r *http.Request) (sig []byte, date time.Time, err error) {
	params, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return nil, time.Time{}, err
	}
	sig, err = base64.StdEncoding.DecodeString(params.Signature)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("signature is not base64")
	}
	signed := make(map[string]bool, len(params.Headers))
	for _, h := range params.Headers {
		signed[h] = true
	}
	header, err := signedDateHeader(signed)
	if err != nil {
		return nil, time.Time{}, err
	}
	date, err = http.ParseTime(r.Header.Get(header))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("date header is not an HTTP date")
	}
	return sig, date, nil
}
