// Package authn authenticates requests: it verifies draft-cavage HTTP
// signatures exactly as the official OCI SDKs produce them (Go and
// TypeScript differ in header names and order) and resolves the signing key
// to a principal.
//
// Every failure is ErrNotAuthenticated to the caller; the reason is returned
// wrapped for the operator's log, and never includes the signature, the key
// or a token.
package authn

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotAuthenticated is the one error a caller learns: 401 NotAuthenticated.
var ErrNotAuthenticated = errors.New("authn: not authenticated")

// maxAuthorizationLen bounds the Authorization header we parse. A Go SDK
// header is under 600 bytes; session tokens make it a few KiB.
const maxAuthorizationLen = 16 << 10

// SignatureParams are the parameters of a `Signature` Authorization header.
type SignatureParams struct {
	KeyID     string
	Algorithm string
	Headers   []string // lowercased, in the order to sign
	Signature string   // base64, as sent
}

// ParseAuthorization parses `Signature k="v",k="v",...` in any parameter
// order. Unknown parameters are ignored; duplicates are refused.
func ParseAuthorization(header string) (SignatureParams, error) {
	var p SignatureParams
	if len(header) > maxAuthorizationLen {
		return p, errors.New("authorization header too long")
	}
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Signature") {
		return p, errors.New("authorization scheme is not Signature")
	}
	seen := map[string]bool{}
	var headers string
	for rest = strings.TrimLeft(rest, " "); rest != ""; {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return p, errors.New("malformed signature parameter")
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = rest[eq+1:]
		if len(rest) == 0 || rest[0] != '"' {
			return p, fmt.Errorf("signature parameter %q is not quoted", name)
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return p, fmt.Errorf("signature parameter %q is not terminated", name)
		}
		value := rest[1 : 1+end]
		rest = strings.TrimLeft(rest[2+end:], " ")
		if rest != "" {
			if rest[0] != ',' {
				return p, errors.New("signature parameters must be separated by commas")
			}
			rest = strings.TrimLeft(rest[1:], " ")
		}
		if seen[name] {
			return p, fmt.Errorf("duplicate signature parameter %q", name)
		}
		seen[name] = true
		switch name {
		case "keyid":
			p.KeyID = value
		case "algorithm":
			p.Algorithm = value
		case "headers":
			headers = value
		case "signature":
			p.Signature = value
		}
	}
	if p.KeyID == "" || p.Signature == "" {
		return p, errors.New("signature is missing keyId or signature")
	}
	if !seen["headers"] {
		headers = "date" // draft-cavage default
	}
	for _, h := range strings.Fields(headers) {
		p.Headers = append(p.Headers, strings.ToLower(h))
	}
	if len(p.Headers) == 0 {
		return p, errors.New("signature names no headers")
	}
	return p, nil
}

// APIKeyID is the parsed keyId of a user API key: tenancy/user/fingerprint.
type APIKeyID struct {
	TenancyID, UserID, Fingerprint string
}

// ParseKeyID splits a user API keyId. Session-token keyIds (ST$...) are not
// API keys and are refused here.
func ParseKeyID(keyID string) (APIKeyID, error) {
	if strings.HasPrefix(keyID, "ST$") {
		return APIKeyID{}, errors.New("session-token key ids are not supported")
	}
	parts := strings.Split(keyID, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return APIKeyID{}, errors.New("keyId is not tenancy/user/fingerprint")
	}
	return APIKeyID{TenancyID: parts[0], UserID: parts[1], Fingerprint: parts[2]}, nil
}
