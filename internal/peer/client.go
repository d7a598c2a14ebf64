package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultMaxResponse is Client.MaxResponse unless the caller sets another.
const DefaultMaxResponse = 64 << 20

// Client makes signed requests to one peer and accepts only answers that
// peer signed for them.
type Client struct {
	// MaxResponse bounds the response body read; a longer one is an error.
	MaxResponse int64

	id   *Identity
	self string
	peer Peer
	hc   *http.Client
	now  func() time.Time
}

// NewClient returns a client of the deployment of region selfRegion, with
// identity self, for peer p, over a copy of hc (http.DefaultClient when
// nil) that follows no redirect. Timeouts come from hc and the context.
func NewClient(self *Identity, selfRegion string, p Peer, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if p.URL != nil {
		p.URL = cloneURL(p.URL)
	}
	return &Client{MaxResponse: DefaultMaxResponse, id: self, self: selfRegion, peer: p, hc: &c, now: time.Now}
}

// ErrUnauthenticatedPeer wraps what VerifyResponse found wrong with an
// answer: the peer could not be authenticated, and nothing of the answer
// may be trusted.
var ErrUnauthenticatedPeer = errors.New("peer could not be authenticated")

// Response is a peer's authenticated answer.
type Response struct {
	Status int
	Body   []byte
	// Nonce is the request's, to which the answer is bound: open the
	// envelopes in Body with ExchangeContext(peer, self, Nonce).
	Nonce string
}

// Do is Exchange returning the status and body only.
func (c *Client) Do(ctx context.Context, path string, body []byte) (status int, respBody []byte, err error) {
	resp, err := c.Exchange(ctx, path, body)
	if err != nil {
		return 0, nil, err
	}
	return resp.Status, resp.Body, nil
}

// Exchange POSTs body (JSON) to the peer's URL followed by path (which
// starts with "/" and may carry a query), signed, and returns the answer
// once its signature verifies, whatever the status. A 3xx answer is
// returned, not followed, and like any other must be signed.
func (c *Client) Exchange(ctx context.Context, path string, body []byte) (*Response, error) {
	if c.peer.URL == nil {
		return nil, fmt.Errorf("peer %s: no URL configured", c.peer.Region)
	}
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.ContainsAny(path, "#\\") {
		return nil, fmt.Errorf("peer %s: request path must start with one \"/\" and hold no fragment", c.peer.Region)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.peer.URL.String()+path, nil)
	if err != nil {
		return nil, fmt.Errorf("peer %s: build request: %w", c.peer.Region, err)
	}
	if req.URL.Host != c.peer.URL.Host {
		return nil, fmt.Errorf("peer %s: request path changes the host", c.peer.Region)
	}
	req.Header.Set("Content-Type", "application/json")
	nonce, err := c.id.SignRequest(req, c.self, c.peer.Region, body, c.now())
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", c.peer.Region, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", c.peer.Region, err)
	}
	defer resp.Body.Close()
	max := c.MaxResponse
	if max <= 0 {
		max = DefaultMaxResponse
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(resp.Body, max+1)); err != nil {
		return nil, fmt.Errorf("peer %s: read response: %w", c.peer.Region, err)
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("peer %s: response larger than %d bytes", c.peer.Region, max)
	}
	if err := VerifyResponse(c.peer.Key, resp, buf.Bytes(), c.peer.Region, c.self, nonce); err != nil {
		return nil, fmt.Errorf("peer %s answered %d: %w: %w", c.peer.Region, resp.StatusCode, ErrUnauthenticatedPeer, err)
	}
	return &Response{Status: resp.StatusCode, Body: buf.Bytes(), Nonce: nonce}, nil
}
