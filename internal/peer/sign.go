package peer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The headers of a signed request, and of a signed response (From, To and
// Signature).
const (
	HeaderFrom      = "Coffer-Peer-From"
	HeaderTo        = "Coffer-Peer-To"
	HeaderDate      = "Coffer-Peer-Date"
	HeaderNonce     = "Coffer-Peer-Nonce"
	HeaderSignature = "Coffer-Peer-Signature"
)

// MaxSkew is how far a request's date may be from the recipient's clock,
// either way.
const MaxSkew = 5 * time.Minute

// MaxNonces bounds the nonces a Verifier remembers; when that many were
// seen within 2×MaxSkew it refuses new requests (ErrLedgerFull) rather
// than forget one early and let its request be replayed.
const MaxNonces = 100_000

const (
	requestContext  = "coffer-peer-request/v1"
	responseContext = "coffer-peer-response/v1"
	dateLayout      = "2006-01-02T15:04:05Z"
	nonceBytes      = 16
)

// Errors of VerifyRequest and VerifyResponse. Each comes wrapped with a
// message that names no header value but a region.
var (
	// ErrMalformed: a header is missing, repeated or not of its shape.
	ErrMalformed = errors.New("peer: malformed signed message")
	// ErrWrongRecipient: the request is addressed to another region.
	ErrWrongRecipient = errors.New("peer: request addressed to another region")
	// ErrUnknownPeer: the sender is no configured peer.
	ErrUnknownPeer = errors.New("peer: unknown peer")
	// ErrStale: the date is more than MaxSkew from the clock.
	ErrStale = errors.New("peer: request date outside the allowed skew")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("peer: signature does not verify")
	// ErrReplayed: the nonce was seen before from this peer.
	ErrReplayed = errors.New("peer: request replayed")
	// ErrLedgerFull: MaxNonces requests arrived within 2×MaxSkew.
	ErrLedgerFull = errors.New("peer: too many requests to remember their nonces")
)

// Request is what VerifyRequest established about a request.
type Request struct {
	From  string // the sender's region
	Nonce string // to bind the response (SignResponse) and any envelope to
	Date  time.Time
}

// SignRequest signs req, a request from region from to region to with
// body, dated now: it sets the five headers and sets req.Body,
// req.GetBody and req.ContentLength from body. The signed target is
// req.URL.RequestURI(), which is what net/http's client sends. It returns
// the nonce, which the response must be bound to.
func (id *Identity) SignRequest(req *http.Request, from, to string, body []byte, now time.Time) (nonce string, err error) {
	if err := CheckRegion(from); err != nil {
		return "", fmt.Errorf("sign peer request: from: %w", err)
	}
	if err := CheckRegion(to); err != nil {
		return "", fmt.Errorf("sign peer request: to: %w", err)
	}
	if req.Method == "" || req.URL == nil {
		return "", errors.New("sign peer request: no method or URL")
	}
	var n [nonceBytes]byte
	if _, err := io.ReadFull(rand.Reader, n[:]); err != nil {
		return "", fmt.Errorf("sign peer request: nonce: %w", err)
	}
	nonce = base64.RawURLEncoding.EncodeToString(n[:])
	date := now.UTC().Format(dateLayout)
	msg := requestString(from, to, req.Method, req.URL.RequestURI(), date, nonce, body)
	sig := id.sign(msg)

	req.Header.Set(HeaderFrom, from)
	req.Header.Set(HeaderTo, to)
	req.Header.Set(HeaderDate, date)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	req.ContentLength = int64(len(body))
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	return nonce, nil
}

func requestString(from, to, method, target, date, nonce string, body []byte) []byte {
	h := sha256.Sum256(body)
	return []byte(requestContext + "\n" + from + "\n" + to + "\n" + method + "\n" + target + "\n" +
		date + "\n" + nonce + "\n" + hex.EncodeToString(h[:]))
}

func responseString(responder, requester, nonce string, status int, body []byte) []byte {
	h := sha256.Sum256(body)
	return []byte(responseContext + "\n" + responder + "\n" + requester + "\n" + nonce + "\n" +
		strconv.Itoa(status) + "\n" + hex.EncodeToString(h[:]))
}

// Verifier checks the requests that reach one deployment. It is safe for
// concurrent use.
type Verifier struct {
	self  string
	peers *Peers
	now   func() time.Time
	max   int // MaxNonces; tests lower it

	mu   sync.Mutex
	seen map[seenKey]struct{}
	fifo []seenEntry // in the order seen; expired from the front
	head int
}

type seenKey struct{ from, nonce string }

type seenEntry struct {
	key     seenKey
	expires time.Time
}

// NewVerifier makes the verifier of region self (peers.Self()), which
// accepts requests from peers, with now as its clock (time.Now if nil).
func NewVerifier(self string, peers *Peers, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{self: self, peers: peers, now: now, max: MaxNonces, seen: map[seenKey]struct{}{}}
}

// VerifyRequest checks r, whose body the caller read into body (within its
// own size limit). The checks run in this order: headers well formed
// (ErrMalformed), addressed to this region (ErrWrongRecipient), from a
// configured peer (ErrUnknownPeer), dated within MaxSkew (ErrStale),
// signed by that peer (ErrBadSignature), and its nonce new (ErrReplayed,
// ErrLedgerFull). Only a request that verifies takes room in the ledger.
func (v *Verifier) VerifyRequest(r *http.Request, body []byte) (Request, error) {
	var zero Request
	h, err := headers(r.Header, HeaderFrom, HeaderTo, HeaderDate, HeaderNonce, HeaderSignature)
	if err != nil {
		return zero, err
	}
	from, to, date, nonce, sig64 := h[0], h[1], h[2], h[3], h[4]
	if CheckRegion(from) != nil {
		return zero, fmt.Errorf("%w: %s is not a region name", ErrMalformed, HeaderFrom)
	}
	if CheckRegion(to) != nil {
		return zero, fmt.Errorf("%w: %s is not a region name", ErrMalformed, HeaderTo)
	}
	at, err := time.Parse(dateLayout, date)
	if err != nil || at.Format(dateLayout) != date {
		return zero, fmt.Errorf("%w: %s is not an RFC 3339 UTC time in seconds", ErrMalformed, HeaderDate)
	}
	if !validNonce(nonce) {
		return zero, fmt.Errorf("%w: %s is not 16 bytes in unpadded base64url", ErrMalformed, HeaderNonce)
	}
	sig, ok := decodeSignature(sig64)
	if !ok {
		return zero, fmt.Errorf("%w: %s is not an Ed25519 signature in base64", ErrMalformed, HeaderSignature)
	}
	if to != v.self {
		return zero, fmt.Errorf("%w: request for %s reached %s", ErrWrongRecipient, to, v.self)
	}
	p, ok := v.peers.Lookup(from)
	if !ok {
		return zero, fmt.Errorf("%w: %s", ErrUnknownPeer, from)
	}
	now := v.now()
	if d := now.Sub(at); d > MaxSkew || d < -MaxSkew {
		return zero, fmt.Errorf("%w: request from %s is dated %s from this server's clock (at most %s)",
			ErrStale, from, d.Round(time.Second), MaxSkew)
	}
	target := requestTarget(r)
	if r.Method == "" || strings.ContainsAny(r.Method, " \r\n") || target == "" || strings.ContainsAny(target, " \r\n") {
		return zero, fmt.Errorf("%w: request line", ErrMalformed)
	}
	msg := requestString(from, to, r.Method, target, date, nonce, body)
	if !p.Key.verify(msg, sig) {
		return zero, fmt.Errorf("%w: request claiming to be from %s", ErrBadSignature, from)
	}
	if err := v.remember(seenKey{from, nonce}, now); err != nil {
		return zero, fmt.Errorf("%w (from %s)", err, from)
	}
	return Request{From: from, Nonce: nonce, Date: at}, nil
}

// requestTarget is the target as the client sent it: the request line's
// own text on a server, independent of what routing did to r.URL. A
// reverse proxy in front must pass it unchanged.
func requestTarget(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	if r.URL == nil {
		return ""
	}
	return r.URL.RequestURI()
}

func (v *Verifier) remember(k seenKey, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, dup := v.seen[k]; dup {
		return ErrReplayed
	}
	for v.head < len(v.fifo) && !now.Before(v.fifo[v.head].expires) {
		delete(v.seen, v.fifo[v.head].key)
		v.fifo[v.head] = seenEntry{}
		v.head++
	}
	if v.head > len(v.fifo)/2 {
		v.fifo = append(v.fifo[:0], v.fifo[v.head:]...)
		v.head = 0
	}
	if len(v.seen) >= v.max {
		return ErrLedgerFull
	}
	v.seen[k] = struct{}{}
	v.fifo = append(v.fifo, seenEntry{key: k, expires: now.Add(2 * MaxSkew)})
	return nil
}

// headers returns the one value of each name, or ErrMalformed.
func headers(h http.Header, names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		vs := h.Values(n)
		switch {
		case len(vs) == 0 || vs[0] == "":
			return nil, fmt.Errorf("%w: header %s is missing", ErrMalformed, n)
		case len(vs) > 1:
			return nil, fmt.Errorf("%w: header %s is repeated", ErrMalformed, n)
		}
		out[i] = vs[0]
	}
	return out, nil
}

func validNonce(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(nonceBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == nonceBytes && base64.RawURLEncoding.EncodeToString(b) == s
}

func decodeSignature(s string) ([]byte, bool) {
	if len(s) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
		return nil, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != ed25519.SignatureSize || base64.StdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// SignResponse signs a response to the request whose nonce is nonce, from
// region responder to region requester, with status and body: it sets the
// From, To and Signature headers on h (before WriteHeader).
func (id *Identity) SignResponse(h http.Header, responder, requester, nonce string, status int, body []byte) {
	sig := id.sign(responseString(responder, requester, nonce, status, body))
	h.Set(HeaderFrom, responder)
	h.Set(HeaderTo, requester)
	h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
}

// VerifyResponse checks that resp, whose body the caller read into body,
// was signed with key by region responder for requester's request with
// nonce: ErrMalformed when a header is missing or off shape or names other
// regions, ErrBadSignature when the signature does not verify.
func VerifyResponse(key PublicKey, resp *http.Response, body []byte, responder, requester, nonce string) error {
	h, err := headers(resp.Header, HeaderFrom, HeaderTo, HeaderSignature)
	if err != nil {
		return err
	}
	if h[0] != responder || h[1] != requester {
		return fmt.Errorf("%w: response is not from %s to %s", ErrMalformed, responder, requester)
	}
	sig, ok := decodeSignature(h[2])
	if !ok {
		return fmt.Errorf("%w: %s is not an Ed25519 signature in base64", ErrMalformed, HeaderSignature)
	}
	if !key.verify(responseString(responder, requester, nonce, resp.StatusCode, body), sig) {
		return fmt.Errorf("%w: response claiming to be from %s", ErrBadSignature, responder)
	}
	return nil
}
