// Package changefeedtest is a fake change feed for tests: an HTTP server
// that speaks the feed's contract (long poll, cursor, reset, OCI-shaped
// errors), checks that every request is signed with the test key the way
// the OCI SDK signs, and lets a test publish changes or make the feed
// unavailable.
package changefeedtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/pkg/changefeed"
)

// Server is the fake feed. Create it with New.
type Server struct {
	URL      string // base URL, for a client's Host
	Provider common.ConfigurationProvider

	t   testing.TB
	pub *rsa.PublicKey

	mu     sync.Mutex
	items  []changefeed.Change
	wake   chan struct{} // closed and replaced on every Publish
	status int           // when non-zero, every request gets this status
	reset  bool          // the next answer to a cursor is a reset
	calls  int
	polled chan struct{} // receives when a long poll starts waiting
}

// New starts a fake feed, stopped when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	s := &Server{
		t:        t,
		pub:      &key.PublicKey,
		wake:     make(chan struct{}),
		polled:   make(chan struct{}, 100),
		Provider: common.NewRawConfigurationProvider("ocid1.tenancy.oc1..feedtest", "ocid1.user.oc1..feedtest", "us-ashburn-1", "aa:bb", keyPEM, nil),
	}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.mu.Lock()
		close(s.wake)
		s.wake = make(chan struct{})
		s.mu.Unlock()
		hs.Close()
	})
	s.URL = hs.URL
	return s
}

// Client returns a feed client signing with Provider and sending to the
// fake, as a secrets.SecretsClient's BaseClient would.
func (s *Server) Client() *changefeed.Client {
	s.t.Helper()
	base, err := common.NewClientWithConfig(s.Provider)
	if err != nil {
		s.t.Fatal(err)
	}
	base.Host = s.URL
	base.BasePath = "20190301"
	return changefeed.NewClient(base)
}

// Publish appends changes, numbering them, and wakes waiting polls.
func (s *Server) Publish(cs ...changefeed.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		c.Sequence = int64(len(s.items) + 1)
		if c.Time.IsZero() {
			c.Time = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		s.items = append(s.items, c)
	}
	close(s.wake)
	s.wake = make(chan struct{})
}

// ResetNext makes the next answer to a cursor a reset, and wakes waiting
// polls.
func (s *Server) ResetNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset = true
	close(s.wake)
	s.wake = make(chan struct{})
}

// SetStatus makes every request fail with status (404, 501, 500…); 0
// serves the feed again. Waiting polls are woken.
func (s *Server) SetStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
	close(s.wake)
	s.wake = make(chan struct{})
}

// Calls is the number of requests served.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Polling receives once each time a long poll starts waiting with nothing
// to answer: a test that publishes after it knows the follower is caught
// up.
func (s *Server) Polling() <-chan struct{} { return s.polled }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if err := s.verify(r); err != nil {
		s.t.Errorf("changefeedtest: request not signed like the SDK signs: %v", err)
		writeErr(w, http.StatusUnauthorized, "NotAuthenticated", "bad signature")
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/20190301"+changefeed.Path {
		writeErr(w, http.StatusNotFound, "NotAuthorizedOrNotFound", "no such route")
		return
	}
	q := r.URL.Query()
	wait := 30
	if v := q.Get("waitSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 60 {
			writeErr(w, http.StatusBadRequest, "InvalidParameter", "waitSeconds must be 0-60")
			return
		}
		wait = n
	}
	cursorText, hasCursor := q.Get("cursor"), q.Has("cursor")
	var cursor int64
	if hasCursor {
		n, err := strconv.ParseInt(cursorText, 10, 64)
		if err != nil || n < 0 {
			writeErr(w, http.StatusBadRequest, "InvalidParameter", "bad cursor")
			return
		}
		cursor = n
	}
	deadline := time.NewTimer(time.Duration(wait) * time.Second)
	defer deadline.Stop()
	notified := false
	for {
		s.mu.Lock()
		if !notified {
			s.calls++
		}
		if s.status != 0 {
			st := s.status
			s.mu.Unlock()
			writeErr(w, st, http.StatusText(st), "feed unavailable")
			return
		}
		end := int64(len(s.items))
		if !hasCursor {
			s.mu.Unlock()
			writeJSON(w, changefeed.Page{Items: []changefeed.Change{}, Cursor: strconv.FormatInt(end, 10)})
			return
		}
		if s.reset || cursor > end {
			s.reset = false
			s.mu.Unlock()
			writeJSON(w, changefeed.Page{Items: []changefeed.Change{}, Cursor: strconv.FormatInt(end, 10), Reset: true})
			return
		}
		if cursor < end {
			items := append([]changefeed.Change(nil), s.items[cursor:]...)
			s.mu.Unlock()
			writeJSON(w, changefeed.Page{Items: items, Cursor: strconv.FormatInt(end, 10)})
			return
		}
		wake := s.wake
		s.mu.Unlock()
		if !notified {
			notified = true
			select {
			case s.polled <- struct{}{}:
			default:
			}
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-deadline.C:
			writeJSON(w, changefeed.Page{Items: []changefeed.Change{}, Cursor: strconv.FormatInt(end, 10)})
			return
		}
	}
}

// verify checks the request's OCI signature (draft-cavage HTTP signatures,
// rsa-sha256) against the test key.
func (s *Server) verify(r *http.Request) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "Signature ")
	if !ok {
		return fmt.Errorf("no Signature authorization")
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("bad authorization parameter")
		}
		params[k] = strings.Trim(v, `"`)
	}
	if params["algorithm"] != "rsa-sha256" || params["version"] != "1" {
		return fmt.Errorf("algorithm %q version %q", params["algorithm"], params["version"])
	}
	if want := "ocid1.tenancy.oc1..feedtest/ocid1.user.oc1..feedtest/aa:bb"; params["keyId"] != want {
		return fmt.Errorf("keyId %q, want %q", params["keyId"], want)
	}
	headers := strings.Fields(params["headers"])
	var lines []string
	seen := map[string]bool{}
	for _, h := range headers {
		seen[h] = true
		switch h {
		case "(request-target)":
			lines = append(lines, h+": "+strings.ToLower(r.Method)+" "+r.URL.RequestURI())
		case "host":
			lines = append(lines, "host: "+r.Host)
		default:
			lines = append(lines, h+": "+r.Header.Get(h))
		}
	}
	for _, h := range []string{"date", "(request-target)", "host"} {
		if !seen[h] {
			return fmt.Errorf("header %s not signed", h)
		}
	}
	sig, err := base64.StdEncoding.DecodeString(params["signature"])
	if err != nil {
		return fmt.Errorf("signature not base64")
	}
	digest := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, digest[:], sig)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}
