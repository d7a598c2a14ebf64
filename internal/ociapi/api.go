// Package ociapi is the OCI wire layer's shared machinery: routing an
// operation to its handler, request ids, body limits, signature
// authentication, JSON decoding with field-naming errors, OCI error bodies
// from one table, etags, opc-retry-token replay, pagination headers and one
// log line per request. The per-service handlers live in subpackages
// (kmsvault, ...) and call the domain packages; none of this touches SQL.
package ociapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/audit"
	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/usage"
)

// DefaultMaxBody is the largest request body accepted when API.MaxBody is 0.
const DefaultMaxBody = 1 << 20

// PublicMaxBody is the largest request body a Public route accepts: anyone
// who reaches the listener may send one.
const PublicMaxBody = 4 << 10

// Verifier authenticates a request whose body has been read.
type Verifier interface {
	Verify(ctx context.Context, r *http.Request, body []byte) (*authz.Principal, error)
}

// API holds what every handler shares.
type API struct {
	Verifier    Verifier
	Authorizer  authz.Authorizer
	RetryTokens *RetryTokens // nil disables opc-retry-token replay
	Log         *slog.Logger
	// Audit receives one event per authorization decision; a failure to
	// record fails the request.
	Audit   audit.Sink
	MaxBody int64
	// Limiter throttles each principal; nil means no limit.
	Limiter *RateLimiter
	// Observer is told about every finished request (metrics); may be nil.
	Observer Observer
	// Replay refuses exact copies of signed requests that change
	// something; nil accepts them.
	Replay *ReplayGuard
	// AuthFail throttles failed authentication per client address; nil
	// means no limit.
	AuthFail *AuthFailLimiter
	// PublicLimiter throttles each client address on Public routes
	// (grouped as AuthFailLimiter groups them); Register refuses a Public
	// route without one.
	PublicLimiter *RateLimiter
	// Usage counts every finished request of a signed route by principal,
	// operation, secret and outcome (`coffer usage`); nil counts nothing.
	Usage UsageCounter
}

// UsageCounter counts finished requests. It is called on every request,
// so it must be cheap and must not block on I/O (usage.Counter).
type UsageCounter interface {
	Count(at time.Time, call usage.Call)
}

// Observer receives one call per finished request. decision is "allow",
// "deny" or "" when the request never reached authorization.
type Observer interface {
	ObserveRequest(operation string, status int, decision string, latency time.Duration)
}

// HandlerFunc serves one operation.
type HandlerFunc func(c *Call) error

// Route describes one operation.
type Route struct {
	Pattern   string // a net/http pattern, e.g. "GET /20180608/vaults/{vaultId}"
	Operation string // the OCI operation name, e.g. "GetVault"
	// RetryToken marks operations whose opc-retry-token is honoured.
	RetryToken bool
	// ReadOnly marks a POST, PUT or DELETE operation that changes nothing,
	// so the ReplayGuard lets copies of it through (GET and HEAD are never
	// guarded). It is for the crypto data plane (Encrypt, Decrypt,
	// GenerateDataEncryptionKey, Sign, Verify, ExportKey) and reads sent as
	// POST (GetSecretBundleByName, ExplainAuthorization): a copy of one
	// yields only a response the replayer cannot read, and recording each
	// would put a ledger write on the hottest path. Everything else is
	// guarded by default, so a new operation is safe unless marked.
	ReadOnly bool
	// Public marks an operation anyone may call, without a signature: the
	// operator's seal status, init and unseal, which answer before any
	// identity exists. Its body is bounded by PublicMaxBody and each
	// client address by API.PublicLimiter; there is no principal, so no
	// authorization, replay guard or retry token.
	Public bool
	// MaxBody, when set, replaces the API's body limit for this route (the
	// restore operations take backup files larger than a JSON body).
	MaxBody int64
	Handler HandlerFunc
}

// Mux is what routes register on.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register adds routes to mux, each wrapped in the request pipeline.
func (a *API) Register(mux Mux, routes ...Route) {
	for _, rt := range routes {
		if rt.Public && a.PublicLimiter == nil {
			panic("ociapi: public route " + rt.Operation + " registered without a PublicLimiter")
		}
		mux.Handle(rt.Pattern, a.wrap(rt))
	}
}

type ctxKey int

const vaultKey ctxKey = 1

// WithVault records the vault whose endpoint a request arrived on.
func WithVault(ctx context.Context, vaultID string) context.Context {
	return context.WithValue(ctx, vaultKey, vaultID)
}

// Call is one request in flight.
type Call struct {
	W         http.ResponseWriter
	R         *http.Request
	Body      []byte
	Principal *authz.Principal
	RequestID string
	Operation string
	// VaultID is the vault whose management or crypto endpoint the request
	// arrived on; empty on the main endpoint.
	VaultID string

	api       *API
	decision  string
	replied   bool
	status    int
	principal string
	// secret is the OCID of the secret the request was authorized on:
	// from the loaded record, never from the request's own text.
	secret string
	// failure is why the request failed or was refused, for its log line.
	failure string
}

// Context returns the request's context.
func (c *Call) Context() context.Context { return c.R.Context() }

// Decode decodes the JSON body into v.
func (c *Call) Decode(v any) error { return DecodeJSON(c.Body, v) }

// DecodeOptional decodes the body into v when there is one; an empty body
// leaves v unchanged.
func (c *Call) DecodeOptional(v any) error {
	if len(c.Body) == 0 {
		return nil
	}
	return DecodeJSON(c.Body, v)
}

// Authorize asks the authorizer about req (Principal and Operation are
// filled in). A denial is the same 404 a missing resource gets; the reason
// goes to the audit log only.
func (c *Call) Authorize(req authz.Request) error {
	req.Principal = c.Principal
	req.Operation = c.Operation
	d, err := c.api.Authorizer.Authorize(c.Context(), req)
	if err != nil {
		return fmt.Errorf("authorize %s: %w", c.Operation, err)
	}
	ev := audit.Event{
		Time: time.Now().UTC(), RequestID: c.RequestID, Operation: c.Operation,
		Principal: c.principal, Compartment: req.CompartmentID, Allowed: d.Allowed,
	}
	if c.Principal != nil {
		ev.PrincipalType = string(c.Principal.Type)
	}
	ev.Targets = audit.Targets{Vault: resourceID(req.Vault), Key: resourceID(req.Key), Secret: resourceID(req.Secret)}
	c.secret = ev.Targets.Secret
	if !d.Allowed {
		ev.Reason, ev.Missing, ev.Suggestion = d.Reason, d.Missing, d.Suggestion
	}
	if c.api.Audit != nil {
		if err := c.api.Audit.Record(c.Context(), ev); err != nil {
			// Nothing happens unaudited.
			return fmt.Errorf("record audit event: %w", err)
		}
	}
	if !d.Allowed {
		c.decision = "deny"
		return NotAuthorizedOrNotFound()
	}
	c.decision = "allow"
	return nil
}

// Allowed asks the authorizer whether the caller may perform operation on
// req's targets, recording nothing: for filtering what a call returns (the
// change feed's items), where the call itself was authorized and audited
// once by Authorize. It never decides a request on its own.
func (c *Call) Allowed(operation string, req authz.Request) (bool, error) {
	req.Principal = c.Principal
	req.Operation = operation
	d, err := c.api.Authorizer.Authorize(c.Context(), req)
	if err != nil {
		return false, fmt.Errorf("authorize %s for %s: %w", operation, c.Operation, err)
	}
	return d.Allowed, nil
}

func resourceID(r *authz.Resource) string {
	if r == nil {
		return ""
	}
	return r.ID
}

// Reply writes v as JSON with status 200 and, when etag is not empty, an
// etag header.
func (c *Call) Reply(etag string, v any) error { return c.ReplyStatus(http.StatusOK, etag, v) }

// ReplyStatus writes v as JSON with the given status.
func (c *Call) ReplyStatus(status int, etag string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", c.Operation, err)
	}
	c.ReplyJSON(status, etag, body)
	return nil
}

// ReplyJSON writes body, JSON the handler encoded itself (on the hot paths
// where reflection shows in the profile), with the given status.
func (c *Call) ReplyJSON(status int, etag string, body []byte) {
	if etag != "" {
		c.W.Header().Set("etag", etag)
	}
	c.W.Header().Set("Content-Type", "application/json")
	c.W.Header().Set("Content-Length", strconv.Itoa(len(body)))
	c.W.WriteHeader(status)
	_, _ = c.W.Write(body)
	c.replied, c.status = true, status
}

// ReplyBinary writes body as application/octet-stream with status 200,
// uncached (a backup file).
func (c *Call) ReplyBinary(body []byte) {
	c.W.Header().Set("Content-Type", "application/octet-stream")
	c.W.Header().Set("Content-Length", strconv.Itoa(len(body)))
	c.W.Header().Set("Cache-Control", "no-store")
	c.W.WriteHeader(http.StatusOK)
	_, _ = c.W.Write(body)
	c.replied, c.status = true, http.StatusOK
}

// ReplyBytes writes body with the given status and Content-Type (the
// console's page and its assets).
func (c *Call) ReplyBytes(status int, contentType string, body []byte) {
	c.W.Header().Set("Content-Type", contentType)
	c.W.Header().Set("Content-Length", strconv.Itoa(len(body)))
	c.W.WriteHeader(status)
	_, _ = c.W.Write(body)
	c.replied, c.status = true, status
}

// ReplyEmpty writes a response with no body (operations without a response
// model), with an etag header when etag is not empty.
func (c *Call) ReplyEmpty(status int, etag string) error {
	if etag != "" {
		c.W.Header().Set("etag", etag)
	}
	c.W.WriteHeader(status)
	c.replied, c.status = true, status
	return nil
}

// ReplyList writes a list page: a bare JSON array and opc-next-page when
// there is a next page.
func (c *Call) ReplyList(items any, next string) error {
	if next != "" {
		c.W.Header().Set("opc-next-page", next)
	}
	return c.Reply("", items)
}

// Models converts domain items to their SDK models, for ReplyList.
func Models[T, M any](items []T, model func(T) M) []M {
	out := make([]M, 0, len(items))
	for _, v := range items {
		out = append(out, model(v))
	}
	return out
}

// IfMatch returns the if-match header.
func (c *Call) IfMatch() string { return c.R.Header.Get("if-match") }

// Query returns a query parameter.
func (c *Call) Query(name string) string { return c.R.URL.Query().Get(name) }

// QueryInt returns an integer query parameter; absent is 0.
func (c *Call) QueryInt(name string) (int, error) {
	s := c.Query(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errs.E(errs.Invalid, "query parameter %s must be an integer", name)
	}
	return n, nil
}

// PathValue returns a path wildcard.
func (c *Call) PathValue(name string) string { return c.R.PathValue(name) }

func (a *API) maxBody() int64 {
	if a.MaxBody > 0 {
		return a.MaxBody
	}
	return DefaultMaxBody
}

func (a *API) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &Call{W: w, R: r, RequestID: requestID(r), Operation: rt.Operation, api: a}
		if v, ok := r.Context().Value(vaultKey).(string); ok {
			c.VaultID = v
		}
		w.Header().Set("opc-request-id", c.RequestID)
		defer func() {
			if p := recover(); p != nil {
				// The panic value may hold request data; log only its type
				// and the stack.
				a.Log.Error("panic serving request", "request_id", c.RequestID, "operation", c.Operation,
					"panic_type", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
				if !c.replied {
					a.writeError(c, errs.E(errs.Internal, "internal error"))
				}
			}
			latency := time.Since(start)
			a.logRequest(c, latency)
			if a.Observer != nil {
				a.Observer.ObserveRequest(c.Operation, c.status, c.decision, latency)
			}
			if a.Usage != nil && !rt.Public {
				a.Usage.Count(start, usage.Call{Principal: c.principal, Operation: c.Operation, Secret: c.secret, Outcome: c.outcome()})
			}
		}()
		if err := a.serve(c, rt); err != nil {
			a.writeError(c, err)
		}
	})
}

// outcome sorts a finished request for usage: refused by policy, answered,
// or failed otherwise.
func (c *Call) outcome() usage.Outcome {
	switch {
	case c.decision == "deny":
		return usage.Denied
	case c.status > 0 && c.status < 400:
		return usage.OK
	}
	return usage.Failed
}

// logRequest writes the request's one log line. A request that reached
// authorization is already at INFO as its audit event, so its line drops to
// DEBUG unless it failed on the server's side; every other request
// (unauthenticated, throttled, replayed, malformed) has this line alone.
// Why it failed or was refused rides on the same line, not a second one.
func (a *API) logRequest(c *Call, latency time.Duration) {
	level := slog.LevelInfo
	switch {
	case c.status >= 500:
		level = slog.LevelError
	case c.decision != "":
		level = slog.LevelDebug
	}
	ctx := c.R.Context()
	if !a.Log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", c.RequestID), slog.String("operation", c.Operation),
		slog.String("method", c.R.Method), slog.Int("status", c.status),
		slog.Float64("latency_ms", latencyMillis(latency)), slog.String("principal", c.principal),
		slog.String("decision", c.decision),
	}
	if c.failure != "" {
		attrs = append(attrs, slog.String("error", c.failure))
	}
	a.Log.LogAttrs(ctx, level, "request", attrs...)
}

// latencyMillis is d in milliseconds to the microsecond: what a reader of a
// log compares (1.234), not integer nanoseconds.
func latencyMillis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// readBody reads the request body, up to limit bytes, into c.Body.
func (c *Call) readBody(limit int64) error {
	r := c.R
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.W, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errs.E(errs.TooLarge, "the request body is larger than %d bytes", limit)
		}
		return errs.Wrap(errs.CannotParse, err, "the request body could not be read")
	}
	c.Body = body
	return nil
}

// servePublic serves a Public route: the address's rate, the small body,
// the handler.
func (a *API) servePublic(c *Call, rt Route) error {
	if ok, wait := a.PublicLimiter.Allow(clientKey(c.R.RemoteAddr).String(), time.Now()); !ok {
		secs := retryAfter(wait)
		c.W.Header().Set("Retry-After", strconv.Itoa(secs))
		return errs.E(errs.TooManyRequests, "too many requests from this address; retry after %d s", secs)
	}
	if err := c.readBody(PublicMaxBody); err != nil {
		return err
	}
	return rt.Handler(c)
}

func (a *API) serve(c *Call, rt Route) error {
	if rt.Public {
		return a.servePublic(c, rt)
	}
	r := c.R
	pass, ok, wait := a.AuthFail.Admit(r.RemoteAddr, time.Now())
	if !ok {
		// Before reading the body or checking the signature: that work is
		// what a flood of bad signatures costs.
		secs := retryAfter(wait)
		c.W.Header().Set("Retry-After", strconv.Itoa(secs))
		return errs.E(errs.TooManyRequests, "too many failed authentications from this address; retry after %d s", secs)
	}
	limit := a.maxBody()
	if rt.MaxBody > 0 {
		limit = rt.MaxBody
	}
	if err := c.readBody(limit); err != nil {
		return err
	}
	p, err := a.Verifier.Verify(r.Context(), r, c.Body)
	if err != nil {
		a.AuthFail.Failed(r.RemoteAddr, pass, time.Now())
		return err
	}
	c.Principal = p
	c.principal = p.ID
	a.AuthFail.Succeeded(pass)
	if ok, wait := a.Limiter.Allow(p.ID, time.Now()); !ok {
		secs := retryAfter(wait)
		c.W.Header().Set("Retry-After", strconv.Itoa(secs))
		return errs.E(errs.TooManyRequests, "too many requests from this principal; retry after %d s", secs)
	}
	if a.Replay == nil || rt.ReadOnly || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return a.run(c, rt)
	}
	id, at, err := a.Replay.claim(c)
	if errors.Is(err, ErrReplayed) && rt.RetryToken && a.RetryTokens != nil && r.Header.Get("opc-retry-token") != "" {
		if ok, terr := a.RetryTokens.Answered(c, r.Header.Get("opc-retry-token")); terr != nil || ok {
			return terr
		}
	}
	if err != nil {
		if errors.Is(err, errRecentCopy) {
			c.W.Header().Set("Retry-After", "1")
			return errs.E(errs.TooManyRequests, recentCopyMessage)
		}
		if errors.Is(err, ErrReplayed) {
			a.AuthFail.Failed(r.RemoteAddr, AuthPass{}, time.Now())
		}
		return err
	}
	succeeded := false
	defer func() {
		// Also on a panic: the request failed, and may be retried.
		if !succeeded {
			if err := a.Replay.release(c.Context(), id, at); err != nil {
				a.Log.Warn("replay ledger", "request_id", c.RequestID, "error", err.Error())
			}
		}
	}()
	err = a.run(c, rt)
	succeeded = err == nil && c.status < 400
	return err
}

// retryAfter is a Retry-After in whole seconds, rounded up.
func retryAfter(wait time.Duration) int { return int(wait/time.Second) + 1 }

// run runs the handler, under the opc-retry-token when there is one.
func (a *API) run(c *Call, rt Route) error {
	r := c.R
	if rt.RetryToken && a.RetryTokens != nil {
		if token := r.Header.Get("opc-retry-token"); token != "" {
			return a.RetryTokens.Do(c, token, rt.Handler)
		}
	}
	return rt.Handler(c)
}

func (a *API) writeError(c *Call, err error) {
	status, body := classify(err)
	// Logged once, on the request's line (logRequest).
	c.failure = err.Error()
	if c.replied {
		return
	}
	if status == http.StatusTooManyRequests && c.W.Header().Get("Retry-After") == "" {
		c.W.Header().Set("Retry-After", "1")
	}
	b, _ := json.Marshal(body)
	c.W.Header().Set("Content-Type", "application/json")
	c.W.Header().Set("Content-Length", strconv.Itoa(len(b)))
	c.W.WriteHeader(status)
	_, _ = c.W.Write(b)
	c.replied, c.status = true, status
}

// WriteError writes an OCI error body for requests that never reach a
// route (unknown paths, the health check's neighbours).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	id := requestID(r)
	w.Header().Set("opc-request-id", id)
	status, body := classify(err)
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// requestID echoes a well-formed client opc-request-id or makes one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("opc-request-id"); id != "" && len(id) <= 98 && isTokenSafe(id) {
		return id
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isTokenSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/' || c == ':') {
			return false
		}
	}
	return true
}
