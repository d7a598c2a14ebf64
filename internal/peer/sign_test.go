package peer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	source  = "us-ashburn-1"   // serves
	replica = "eu-frankfurt-1" // pulls
	other   = "ap-tokyo-1"     // another configured peer
)

var t0 = time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)

// clock is a hand-moved clock for a Verifier.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// sourceVerifier is the source region's verifier, knowing the replica and
// another peer.
func sourceVerifier(t testing.TB, now func() time.Time) *Verifier {
	t.Helper()
	ps, err := NewPeers(source, []Peer{
		{Region: replica, Key: testIdentity(replica).PublicKey()},
		{Region: other, Key: testIdentity(other).PublicKey()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return NewVerifier(source, ps, now)
}

// wire signs a request as the replica would and returns it as the source's
// server reads it off the connection.
func wire(t *testing.T, id *Identity, method, target, from, to string, body []byte, date time.Time, tamper func(*http.Request)) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://source.example"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := id.SignRequest(req, from, to, body, date); err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		tamper(req)
	}
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSignRequestHeaders(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://source.example/coffer/v1/peer/pull", nil)
	body := []byte(`{"after":5}`)
	bodyHash := sha256.Sum256(body)
	nonce, err := testIdentity(replica).SignRequest(req, replica, source, body, t0.Add(1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get(HeaderDate); got != "2026-12-06T21:00:01Z" {
		t.Errorf("date %q", got)
	}
	if req.Header.Get(HeaderNonce) != nonce || len(nonce) != 22 || !validNonce(nonce) {
		t.Errorf("nonce %q", nonce)
	}
	if req.Header.Get(HeaderFrom) != replica || req.Header.Get(HeaderTo) != source {
		t.Error("from/to")
	}
	sig, ok := decodeSignature(req.Header.Get(HeaderSignature))
	want := requestString(replica, source, "POST", "/coffer/v1/peer/pull", "2026-12-06T21:00:01Z", nonce, body)
	pub := testIdentity(replica).PublicKey()
	if !ok || !ed25519.Verify(ed25519.PublicKey(pub.k[:]), want, sig) {
		t.Error("signature is not over the documented string")
	}
	if !strings.HasPrefix(string(want), "coffer-peer-request/v1\neu-frankfurt-1\nus-ashburn-1\nPOST\n/coffer/v1/peer/pull\n2026-12-06T21:00:01Z\n") ||
		!strings.HasSuffix(string(want), "\n"+nonce+"\n"+hex.EncodeToString(bodyHash[:])) {
		t.Errorf("signing string %q", want)
	}
	got, _ := io.ReadAll(req.Body)
	if !bytes.Equal(got, body) || req.ContentLength != int64(len(body)) {
		t.Error("body not set")
	}
	nonce2, _ := testIdentity(replica).SignRequest(req, replica, source, body, t0)
	if nonce2 == nonce {
		t.Error("nonce repeated")
	}
	if _, err := testIdentity(replica).SignRequest(req, "Bad", source, body, t0); err == nil {
		t.Error("bad from region signed")
	}
}

func TestVerifyRequestTampering(t *testing.T) {
	body := []byte(`{"after":5}`)
	const target = "/coffer/v1/peer/pull?after=5&limit=10"
	rep := testIdentity(replica)
	setHeader := func(name, value string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(name, value) }
	}
	for name, c := range map[string]struct {
		method, target string
		tamper         func(*http.Request)
		body           []byte // what the server read, if not body
		self           string // the verifier's region, if not source
		signer         *Identity
		want           error
	}{
		"intact":          {},
		"method":          {tamper: func(r *http.Request) { r.Method = "PUT" }, want: ErrBadSignature},
		"path":            {tamper: func(r *http.Request) { r.URL.Path = "/coffer/v1/peer/push" }, want: ErrBadSignature},
		"path escaping":   {tamper: func(r *http.Request) { r.URL.RawPath = "/coffer/v1/peer/%70ull" }, want: ErrBadSignature},
		"query":           {tamper: func(r *http.Request) { r.URL.RawQuery = "after=4&limit=10" }, want: ErrBadSignature},
		"query order":     {tamper: func(r *http.Request) { r.URL.RawQuery = "limit=10&after=5" }, want: ErrBadSignature},
		"query dropped":   {tamper: func(r *http.Request) { r.URL.RawQuery = "" }, want: ErrBadSignature},
		"query added":     {target: "/coffer/v1/peer/pull", tamper: func(r *http.Request) { r.URL.RawQuery = "x=1" }, want: ErrBadSignature},
		"empty query":     {target: "/coffer/v1/peer/pull", tamper: func(r *http.Request) { r.URL.ForceQuery = true }, want: ErrBadSignature},
		"body":            {body: []byte(`{"after":4}`), want: ErrBadSignature},
		"body emptied":    {body: []byte{}, want: ErrBadSignature},
		"date":            {tamper: setHeader(HeaderDate, "2026-12-06T21:00:01Z"), want: ErrBadSignature},
		"from known":      {tamper: setHeader(HeaderFrom, other), want: ErrBadSignature},
		"from unknown":    {tamper: setHeader(HeaderFrom, "sa-saopaulo-1"), want: ErrUnknownPeer},
		"from self":       {tamper: setHeader(HeaderFrom, source), want: ErrUnknownPeer},
		"to other":        {tamper: setHeader(HeaderTo, "sa-saopaulo-1"), self: "sa-saopaulo-1", want: ErrBadSignature},
		"to not us":       {self: "sa-saopaulo-1", want: ErrWrongRecipient},
		"nonce":           {tamper: setHeader(HeaderNonce, "AAAAAAAAAAAAAAAAAAAAAA"), want: ErrBadSignature},
		"signature":       {tamper: func(r *http.Request) { flipSig(r, 10) }, want: ErrBadSignature},
		"signature S":     {tamper: func(r *http.Request) { flipSig(r, 63) }, want: ErrBadSignature},
		"other key":       {signer: testIdentity(other), want: ErrBadSignature},
		"no from":         {tamper: func(r *http.Request) { r.Header.Del(HeaderFrom) }, want: ErrMalformed},
		"no to":           {tamper: func(r *http.Request) { r.Header.Del(HeaderTo) }, want: ErrMalformed},
		"no date":         {tamper: func(r *http.Request) { r.Header.Del(HeaderDate) }, want: ErrMalformed},
		"no nonce":        {tamper: func(r *http.Request) { r.Header.Del(HeaderNonce) }, want: ErrMalformed},
		"no signature":    {tamper: func(r *http.Request) { r.Header.Del(HeaderSignature) }, want: ErrMalformed},
		"two signatures":  {tamper: func(r *http.Request) { r.Header.Add(HeaderSignature, r.Header.Get(HeaderSignature)) }, want: ErrMalformed},
		"two nonces":      {tamper: func(r *http.Request) { r.Header.Add(HeaderNonce, r.Header.Get(HeaderNonce)) }, want: ErrMalformed},
		"date offset":     {tamper: setHeader(HeaderDate, "2026-12-06T22:00:00+01:00"), want: ErrMalformed},
		"date fraction":   {tamper: setHeader(HeaderDate, "2026-12-06T21:00:00.0Z"), want: ErrMalformed},
		"date lowercase":  {tamper: setHeader(HeaderDate, "2026-12-06t21:00:00z"), want: ErrMalformed},
		"nonce short":     {tamper: setHeader(HeaderNonce, "AAAAAAAAAAAAAAAAAAAAA"), want: ErrMalformed},
		"nonce padded":    {tamper: setHeader(HeaderNonce, "AAAAAAAAAAAAAAAAAAAAAA=="), want: ErrMalformed},
		"nonce std b64":   {tamper: setHeader(HeaderNonce, "AAAAAAAAAAAAAAAAAAAA+/"), want: ErrMalformed},
		"nonce bits":      {tamper: setHeader(HeaderNonce, "AAAAAAAAAAAAAAAAAAAAAB"), want: ErrMalformed},
		"signature short": {tamper: func(r *http.Request) { r.Header.Set(HeaderSignature, r.Header.Get(HeaderSignature)[4:]) }, want: ErrMalformed},
		"from shape":      {tamper: setHeader(HeaderFrom, "EU-FRANKFURT-1"), want: ErrMalformed},
		"to shape":        {tamper: setHeader(HeaderTo, "us ashburn"), want: ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			method, tgt, signer, self, got := "POST", target, rep, source, body
			if c.method != "" {
				method = c.method
			}
			if c.target != "" {
				tgt = c.target
			}
			if c.signer != nil {
				signer = c.signer
			}
			if c.self != "" {
				self = c.self
			}
			if c.body != nil {
				got = c.body
			}
			r := wire(t, signer, method, tgt, replica, source, body, t0, c.tamper)
			v := sourceVerifier(t, func() time.Time { return t0 })
			v.self = self
			res, err := v.VerifyRequest(r, got)
			if c.want == nil {
				if err != nil || res.From != replica || res.Nonce != r.Header.Get(HeaderNonce) || !res.Date.Equal(t0) {
					t.Fatalf("intact request: %+v %v", res, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if res != (Request{}) {
				t.Fatalf("failed verification returned %+v", res)
			}
			// No header value but a region name in the message.
			for _, h := range []string{HeaderDate, HeaderNonce, HeaderSignature} {
				if v := r.Header.Get(h); v != "" && strings.Contains(err.Error(), v) {
					t.Fatalf("error shows %s: %v", h, err)
				}
			}
		})
	}
}

func flipSig(r *http.Request, i int) {
	sig, _ := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
	sig[i] ^= 1
	r.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
}

func TestVerifyRequestReplay(t *testing.T) {
	v := sourceVerifier(t, func() time.Time { return t0 })
	r := wire(t, testIdentity(replica), "POST", "/p", replica, source, nil, t0, nil)
	if _, err := v.VerifyRequest(r, nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := v.VerifyRequest(r, nil); !errors.Is(err, ErrReplayed) {
			t.Fatalf("replay: %v, want ErrReplayed", err)
		}
	}
	// A request refused for its signature does not burn its nonce.
	good := wire(t, testIdentity(replica), "POST", "/p", replica, source, []byte("x"), t0, nil)
	if _, err := v.VerifyRequest(good, []byte("y")); !errors.Is(err, ErrBadSignature) {
		t.Fatal(err)
	}
	if _, err := v.VerifyRequest(good, []byte("x")); err != nil {
		t.Fatalf("after a forged copy: %v", err)
	}
}

func TestVerifyRequestSkew(t *testing.T) {
	for _, c := range []struct {
		offset time.Duration // server clock minus request date
		ok     bool
	}{
		{0, true},
		{MaxSkew, true},
		{-MaxSkew, true},
		{MaxSkew + time.Second, false},  // stale
		{-MaxSkew - time.Second, false}, // from the future
		{-24 * time.Hour, false},
		{365 * 24 * time.Hour, false},
	} {
		clk := &clock{now: t0.Add(c.offset)}
		v := sourceVerifier(t, clk.Now)
		_, err := v.VerifyRequest(wire(t, testIdentity(replica), "POST", "/p", replica, source, nil, t0, nil), nil)
		if c.ok && err != nil || !c.ok && !errors.Is(err, ErrStale) {
			t.Errorf("offset %s: %v", c.offset, err)
		}
	}
}

func TestVerifierLedgerBounded(t *testing.T) {
	clk := &clock{now: t0}
	v := sourceVerifier(t, clk.Now)
	v.max = 3
	rep := testIdentity(replica)
	send := func() (*http.Request, error) {
		r := wire(t, rep, "POST", "/p", replica, source, nil, clk.Now(), nil)
		_, err := v.VerifyRequest(r, nil)
		return r, err
	}
	first, err := send()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := send(); !errors.Is(err, ErrLedgerFull) {
		t.Fatalf("fourth request: %v, want ErrLedgerFull", err)
	}
	if _, err := v.VerifyRequest(first, nil); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay while full: %v, want ErrReplayed", err)
	}
	// Entries are kept for 2×MaxSkew, not less.
	clk.Add(2*MaxSkew - time.Second)
	if _, err := send(); !errors.Is(err, ErrLedgerFull) {
		t.Fatalf("before expiry: %v, want ErrLedgerFull", err)
	}
	clk.Add(time.Second)
	for range 3 {
		if _, err := send(); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
	}
	if len(v.seen) != 3 || len(v.fifo)-v.head != 3 {
		t.Fatalf("ledger holds %d (fifo %d)", len(v.seen), len(v.fifo)-v.head)
	}
}

// sourceServer serves the source region: it verifies, then lets answer
// write the response (signed unless answer says otherwise).
type sourceServer struct {
	*httptest.Server
	verifier *Verifier
	id       *Identity
	answer   func(w http.ResponseWriter, req Request, body []byte)
}

func newSourceServer(t *testing.T) *sourceServer {
	s := &sourceServer{verifier: sourceVerifier(t, time.Now), id: testIdentity(source)}
	s.answer = func(w http.ResponseWriter, req Request, body []byte) {
		out := []byte(fmt.Sprintf(`{"from":%q,"got":%s}`, req.From, body))
		s.id.SignResponse(w.Header(), source, req.From, req.Nonce, http.StatusOK, out)
		w.WriteHeader(http.StatusOK)
		w.Write(out)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" || r.Method != "POST" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		req, err := s.verifier.VerifyRequest(r, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		s.answer(w, req, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sourceServer) client(t *testing.T) *Client {
	u, _ := url.Parse(s.URL)
	return NewClient(testIdentity(replica), replica, Peer{Region: source, URL: u, Key: testIdentity(source).PublicKey()}, s.Server.Client())
}

func TestClientRoundTrip(t *testing.T) {
	s := newSourceServer(t)
	c := s.client(t)
	status, body, err := c.Do(context.Background(), "/coffer/v1/peer/pull?after=5", []byte(`{"a":1}`))
	if err != nil || status != 200 || string(body) != `{"from":"eu-frankfurt-1","got":{"a":1}}` {
		t.Fatalf("Do = %d %s %v", status, body, err)
	}
	// Exchange tells the nonce the source verified and bound its answer to.
	var seen string
	s.answer = func(w http.ResponseWriter, req Request, body []byte) {
		seen = req.Nonce
		s.id.SignResponse(w.Header(), source, req.From, req.Nonce, 200, nil)
	}
	resp, err := c.Exchange(context.Background(), "/p", nil)
	if err != nil || resp.Nonce == "" || resp.Nonce != seen || resp.Status != 200 || len(resp.Body) != 0 {
		t.Fatalf("Exchange = %+v %v (source saw nonce %q)", resp, err, seen)
	}
	// Signed errors are answers like any other.
	s.answer = func(w http.ResponseWriter, req Request, body []byte) {
		out := []byte(`{"code":"NotFound"}`)
		s.id.SignResponse(w.Header(), source, req.From, req.Nonce, 404, out)
		w.WriteHeader(404)
		w.Write(out)
	}
	status, body, err = c.Do(context.Background(), "/coffer/v1/peer/x", nil)
	if err != nil || status != 404 || string(body) != `{"code":"NotFound"}` {
		t.Fatalf("Do = %d %s %v", status, body, err)
	}
}

func TestClientConcurrent(t *testing.T) {
	s := newSourceServer(t)
	c := s.client(t)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 16 {
		wg.Go(func() {
			status, _, err := c.Do(context.Background(), "/p", fmt.Appendf(nil, `{"i":%d}`, i))
			if err != nil || status != 200 {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of 16 concurrent requests failed", failed.Load())
	}
}

func TestClientRefusesUnauthenticatedAnswers(t *testing.T) {
	for name, answer := range map[string]func(s *sourceServer) func(http.ResponseWriter, Request, []byte){
		"unsigned": func(s *sourceServer) func(http.ResponseWriter, Request, []byte) {
			return func(w http.ResponseWriter, req Request, body []byte) { w.Write([]byte(`{}`)) }
		},
		"other key": func(s *sourceServer) func(http.ResponseWriter, Request, []byte) {
			return func(w http.ResponseWriter, req Request, body []byte) {
				testIdentity(other).SignResponse(w.Header(), source, req.From, req.Nonce, 200, []byte(`{}`))
				w.Write([]byte(`{}`))
			}
		},
		"other nonce": func(s *sourceServer) func(http.ResponseWriter, Request, []byte) {
			return func(w http.ResponseWriter, req Request, body []byte) {
				s.id.SignResponse(w.Header(), source, req.From, "AAAAAAAAAAAAAAAAAAAAAA", 200, []byte(`{}`))
				w.Write([]byte(`{}`))
			}
		},
		"other body": func(s *sourceServer) func(http.ResponseWriter, Request, []byte) {
			return func(w http.ResponseWriter, req Request, body []byte) {
				s.id.SignResponse(w.Header(), source, req.From, req.Nonce, 200, []byte(`{}`))
				w.Write([]byte(`{"x":1}`))
			}
		},
		"other status": func(s *sourceServer) func(http.ResponseWriter, Request, []byte) {
			return func(w http.ResponseWriter, req Request, body []byte) {
				s.id.SignResponse(w.Header(), source, req.From, req.Nonce, 200, []byte(`{}`))
				w.WriteHeader(500)
				w.Write([]byte(`{}`))
			}
		},
		"other responder": func(s *sourceServer) func(http.ResponseWriter, Request, []byte) {
			return func(w http.ResponseWriter, req Request, body []byte) {
				testIdentity(other).SignResponse(w.Header(), other, req.From, req.Nonce, 200, []byte(`{}`))
				w.Write([]byte(`{}`))
			}
		},
		"other requester": func(s *sourceServer) func(http.ResponseWriter, Request, []byte) {
			return func(w http.ResponseWriter, req Request, body []byte) {
				s.id.SignResponse(w.Header(), source, other, req.Nonce, 200, []byte(`{}`))
				w.Write([]byte(`{}`))
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSourceServer(t)
			s.answer = answer(s)
			status, body, err := s.client(t).Do(context.Background(), "/p", []byte(`{}`))
			if !errors.Is(err, ErrUnauthenticatedPeer) || status != 0 || body != nil {
				t.Fatalf("Do = %d %q %v, want ErrUnauthenticatedPeer", status, body, err)
			}
			if !strings.Contains(err.Error(), "could not be authenticated") {
				t.Fatalf("message: %v", err)
			}
		})
	}
	// A verification failure on the source comes back unsigned: the
	// requester sees it as an unauthenticated answer with its status.
	s := newSourceServer(t)
	u, _ := url.Parse(s.URL)
	stranger := NewClient(testIdentity("stranger"), "sa-saopaulo-1", Peer{Region: source, URL: u, Key: testIdentity(source).PublicKey()}, s.Server.Client())
	_, _, err := stranger.Do(context.Background(), "/p", nil)
	if !errors.Is(err, ErrUnauthenticatedPeer) || !strings.Contains(err.Error(), "answered 401") {
		t.Fatalf("stranger: %v", err)
	}
}

func TestClientFollowsNoRedirect(t *testing.T) {
	var hits atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer elsewhere.Close()
	s := newSourceServer(t)
	s.answer = func(w http.ResponseWriter, req Request, body []byte) {
		http.Redirect(w, &http.Request{Method: "POST"}, elsewhere.URL+"/p", http.StatusTemporaryRedirect)
	}
	hc := s.Server.Client()
	var ourRedirectPolicyCalled bool
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { ourRedirectPolicyCalled = true; return nil }
	u, _ := url.Parse(s.URL)
	c := NewClient(testIdentity(replica), replica, Peer{Region: source, URL: u, Key: testIdentity(source).PublicKey()}, hc)
	_, _, err := c.Do(context.Background(), "/p", nil)
	if !errors.Is(err, ErrUnauthenticatedPeer) || !strings.Contains(err.Error(), "answered 307") {
		t.Fatalf("unsigned redirect: %v", err)
	}
	if hits.Load() != 0 || ourRedirectPolicyCalled {
		t.Fatal("redirect followed")
	}
	// A signed redirect is an answer, returned as such.
	s.answer = func(w http.ResponseWriter, req Request, body []byte) {
		s.id.SignResponse(w.Header(), source, req.From, req.Nonce, http.StatusTemporaryRedirect, nil)
		w.Header().Set("Location", elsewhere.URL+"/p")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
	status, _, err := c.Do(context.Background(), "/p", nil)
	if err != nil || status != http.StatusTemporaryRedirect || hits.Load() != 0 {
		t.Fatalf("signed redirect: %d %v (hits %d)", status, err, hits.Load())
	}
	if hc.CheckRedirect == nil {
		t.Fatal("NewClient changed the caller's http.Client")
	}
}

func TestClientMaxResponse(t *testing.T) {
	s := newSourceServer(t)
	s.answer = func(w http.ResponseWriter, req Request, body []byte) {
		out := bytes.Repeat([]byte("x"), 11)
		s.id.SignResponse(w.Header(), source, req.From, req.Nonce, 200, out)
		w.Write(out)
	}
	c := s.client(t)
	c.MaxResponse = 11
	if _, body, err := c.Do(context.Background(), "/p", nil); err != nil || len(body) != 11 {
		t.Fatalf("at the limit: %d %v", len(body), err)
	}
	c.MaxResponse = 10
	if _, _, err := c.Do(context.Background(), "/p", nil); err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestClientRefusesBadPaths(t *testing.T) {
	s := newSourceServer(t)
	c := s.client(t)
	for _, p := range []string{"", "p", "//evil.example/p", "/p#f", "/p\\q", "http://evil.example/p", "/\x00"} {
		if _, _, err := c.Do(context.Background(), p, nil); err == nil {
			t.Errorf("Do(%q) sent", p)
		}
	}
	noURL := NewClient(testIdentity(replica), replica, Peer{Region: source, Key: testIdentity(source).PublicKey()}, nil)
	if _, _, err := noURL.Do(context.Background(), "/p", nil); err == nil || !strings.Contains(err.Error(), "no URL") {
		t.Fatalf("peer without URL: %v", err)
	}
}

func TestVerifyResponseMalformed(t *testing.T) {
	id := testIdentity(source)
	resp := &http.Response{StatusCode: 200, Header: http.Header{}}
	id.SignResponse(resp.Header, source, replica, "n", 200, nil)
	if err := VerifyResponse(id.PublicKey(), resp, nil, source, replica, "n"); err != nil {
		t.Fatal(err)
	}
	resp.Header.Set(HeaderSignature, "not base64")
	if err := VerifyResponse(id.PublicKey(), resp, nil, source, replica, "n"); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	if err := VerifyResponse(PublicKey{}, resp, nil, source, replica, "n"); err == nil {
		t.Fatal("zero key verified")
	}
}

// fuzzSigner is the fixed replica key the fuzz verifier knows.
var fuzzSigner = testIdentity(replica)

func addFuzzSeed(f *testing.F, method, target, nonce string, body []byte) {
	date := t0.Format(dateLayout)
	sig := base64.StdEncoding.EncodeToString(fuzzSigner.sign(requestString(replica, source, method, target, date, nonce, body)))
	f.Add(method, target, replica, source, date, nonce, sig, body)
}

func FuzzVerifyRequest(f *testing.F) {
	addFuzzSeed(f, "POST", "/coffer/v1/peer/pull", "AAAAAAAAAAAAAAAAAAAAAA", []byte(`{}`))
	addFuzzSeed(f, "POST", "/coffer/v1/peer/pull?after=1", "abcdefghijklmnopqrstuv", nil)
	addFuzzSeed(f, "POST\n/x", "/y", "abcdefghijklmnopqrstuv", nil)
	f.Add("GET", "*", "", "", "", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, method, target, from, to, date, nonce, sig string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{}
		}
		r := &http.Request{Method: method, RequestURI: target, URL: u, Header: http.Header{}}
		for name, v := range map[string]string{HeaderFrom: from, HeaderTo: to, HeaderDate: date, HeaderNonce: nonce, HeaderSignature: sig} {
			r.Header[name] = []string{v}
		}
		v := sourceVerifier(t, func() time.Time { return t0.Add(time.Minute) })
		got, err := v.VerifyRequest(r, body)
		if err != nil {
			if got != (Request{}) {
				t.Fatal("error with a result")
			}
			return
		}
		// Ed25519 signing is deterministic: the one signature that passes
		// without a forgery is the fixed key's over these very fields.
		want := base64.StdEncoding.EncodeToString(fuzzSigner.sign(requestString(from, to, method, target, date, nonce, body)))
		if from != replica || to != source || sig != want || got.From != from || got.Nonce != nonce {
			t.Fatalf("accepted a request not signed by the peer: %q %q %q %q %q %q %q", method, target, from, to, date, nonce, sig)
		}
		if _, err := v.VerifyRequest(r, body); !errors.Is(err, ErrReplayed) {
			t.Fatalf("replay accepted: %v", err)
		}
	})
}
