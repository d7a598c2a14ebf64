// Package console serves Coffer's web console under /console/: a login
// with the console password an administrator set (CreateOrResetUIPassword),
// sessions in the store, and the console's own small JSON API, on which
// every action goes through the same authorization and audit as the OCI
// API, as the logged-in user.
//
// # Sessions
//
// A login checks the user name and password (internal/identity: argon2id,
// compared in constant time; an unknown user costs one hash as a wrong
// password does) and makes a session: a 256-bit random id, sent only as the
// cookie coffer_session (HttpOnly, SameSite=Strict, Path=/console/, Secure
// when the request came over TLS or the public origin is https), and stored under the SHA-256 of the id
// in the server's store, so every node sharing the store accepts it. A
// session ends after IdleTimeout without a request (30 min), after
// AbsoluteTimeout in any case (12 h), at logout, and when the user's
// password is reset, the user is blocked or deleted (the session carries
// the password's stamp, checked on every request).
//
// Failed logins are throttled before any hash is computed (token buckets;
// 429 with Retry-After): per client address, per user name from that
// address, and under a much larger ceiling per user name from anywhere;
// an address the user logged in from lately answers only to its per-name
// budget (loginThrottle): guessing from one address cannot lock a user
// out.
//
// # Requests
//
// Routes are ociapi routes on an ociapi.API whose Verifier is the session
// (Handler.Verify): the pipeline, the log line, metrics, usage counting
// and Call.Authorize with its audit event are the API's own. A change
// (any method but GET and HEAD) needs the session's CSRF token in the
// X-Coffer-CSRF header and an Origin (or else Referer) of the console's
// own origin (exactly Options.Origin when set, for a TLS-terminating
// proxy; X-Forwarded-* headers are never trusted); a GET changes nothing. Every response under /console/ has a
// strict Content-Security-Policy (no inline script or style, no framing),
// nosniff, no referrer and Cache-Control: no-store (Secure).
//
// An action of the console is the OCI operation it performs, under its
// OCI name (GET /console/api/compartments is ListCompartments), so
// policies, explain and the audit log treat it as the same call made with
// an API key. docs/console.md has the design.
package console

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/store"
)

// Defaults of Options.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	// DefaultNameFailures failed logins per user name from one client
	// address, then one more per DefaultFailureRefill.
	DefaultNameFailures = 5
	// DefaultNameCeiling failed logins per user name from all addresses
	// together (the user's known addresses exempt).
	DefaultNameCeiling = 100
	// DefaultAddrFailures failed logins per client address (IPv6: /64).
	DefaultAddrFailures  = 20
	DefaultFailureRefill = time.Minute
	// DefaultCompartmentPage is the page size (the API's limit) the
	// compartment tree is read in.
	DefaultCompartmentPage = 1000
	// DefaultKnownAddress is how long an address the user logged in from
	// stays exempt from the per-name ceiling.
	DefaultKnownAddress = 30 * 24 * time.Hour
)

// CSRFHeader carries the session's CSRF token on every change.
const CSRFHeader = "X-Coffer-CSRF"

// ContentSecurityPolicy is sent with every console response: only the
// console's own scripts, styles and connections, nothing inline, no
// plugins, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Users checks console logins and gives a session its principal
// (*identity.Service).
type Users interface {
	CheckUIPassword(ctx context.Context, userName string, password []byte) (identity.ConsoleUser, error)
	ConsolePrincipal(ctx context.Context, userID, stamp string) (*authz.Principal, error)
}

// Compartments lists compartments (*identity.Service).
type Compartments interface {
	TenancyID(ctx context.Context) (string, error)
	ListCompartments(ctx context.Context, in identity.ListCompartmentsInput) ([]identity.Compartment, string, error)
}

// Options configure a Handler. Zero durations and counts take the
// defaults.
type Options struct {
	Users        Users
	Compartments Compartments
	// Store keeps the sessions: the server's store above the barrier.
	Store           store.Store
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// NameFailures are per user name and client address, NameCeiling per
	// user name from any address, AddrFailures per address; a user's
	// known addresses (those he logged in from within KnownAddress)
	// answer for his name to NameFailures only.
	NameFailures  int
	NameCeiling   int
	AddrFailures  int
	FailureRefill time.Duration
	KnownAddress  time.Duration
	// CompartmentPage is the page size the compartment tree is read in
	// (0: DefaultCompartmentPage).
	CompartmentPage int
	// Origin is the console's public origin (ParseOrigin's form), when
	// browsers reach it through a TLS-terminating proxy: the origin check
	// accepts exactly it, and the cookie is Secure when it is https.
	// Empty: the origin the request was sent to, Secure over TLS.
	// X-Forwarded-* headers are never consulted.
	Origin string
	Now    func() time.Time // nil: time.Now
	Log    *slog.Logger     // nil: discard
}

// Handler serves the console.
type Handler struct {
	users        Users
	compartments Compartments
	sessions     *sessions
	throttle     *loginThrottle
	origin       string
	// compartmentPage is the page size of ListCompartments.
	compartmentPage int
	now             func() time.Time
	log             *slog.Logger
}

// New returns a console Handler.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.IdleTimeout = cmp(o.IdleTimeout, DefaultIdleTimeout)
	o.AbsoluteTimeout = cmp(o.AbsoluteTimeout, DefaultAbsoluteTimeout)
	o.FailureRefill = cmp(o.FailureRefill, DefaultFailureRefill)
	if o.NameFailures <= 0 {
		o.NameFailures = DefaultNameFailures
	}
	if o.CompartmentPage <= 0 {
		o.CompartmentPage = DefaultCompartmentPage
	}
	if o.NameCeiling <= 0 {
		o.NameCeiling = DefaultNameCeiling
	}
	if o.AddrFailures <= 0 {
		o.AddrFailures = DefaultAddrFailures
	}
	o.KnownAddress = cmp(o.KnownAddress, DefaultKnownAddress)
	return &Handler{
		users: o.Users, compartments: o.Compartments, now: o.Now, log: o.Log, origin: o.Origin,
		compartmentPage: o.CompartmentPage,
		sessions:        &sessions{st: o.Store, now: o.Now, idle: o.IdleTimeout, absolute: o.AbsoluteTimeout},
		throttle:        newLoginThrottle(o),
	}
}

func cmp(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Routes returns the console's routes, for an ociapi.API whose Verifier is
// h and which has a PublicLimiter. Register them through Mux, so every
// response carries the console's headers.
func (h *Handler) Routes() []ociapi.Route {
	return []ociapi.Route{
		{Pattern: "GET /console/{$}", Operation: "ConsolePage", Public: true, Handler: asset("index.html", "text/html; charset=utf-8")},
		{Pattern: "GET /console/app.js", Operation: "ConsolePage", Public: true, Handler: asset("app.js", "text/javascript; charset=utf-8")},
		{Pattern: "GET /console/app.css", Operation: "ConsolePage", Public: true, Handler: asset("app.css", "text/css; charset=utf-8")},
		{Pattern: "POST /console/login", Operation: "ConsoleLogin", Public: true, Handler: h.login},
		{Pattern: "POST /console/logout", Operation: "ConsoleLogout", Handler: h.logout},
		{Pattern: "GET /console/session", Operation: "ConsoleSession", Handler: h.session},
		// The console's API: each route is an OCI operation, authorized
		// and audited under its name.
		{Pattern: "GET /console/api/compartments", Operation: "ListCompartments", Handler: h.listCompartments},
	}
}

//go:embed assets
var assets embed.FS

func asset(name, contentType string) ociapi.HandlerFunc {
	body, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic("console: missing asset " + name)
	}
	return func(c *ociapi.Call) error {
		c.ReplyBytes(http.StatusOK, contentType, body)
		return nil
	}
}

// Mux registers handlers on an ociapi.Mux with the console's headers.
type Mux struct{ ociapi.Mux }

// Handle implements ociapi.Mux.
func (m Mux) Handle(pattern string, h http.Handler) { m.Mux.Handle(pattern, Secure(h)) }

// Secure sets the headers every console response carries.
func Secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// NotFound answers a path under /console/ that is no console route, with
// the console's headers.
var NotFound = Secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	ociapi.WriteError(w, r, errs.E(errs.NoRoute, "no console page or action at %s %s", r.Method, r.URL.Path))
}))

// ExpireSessions deletes the sessions past their timeouts, for the
// server's background jobs; it returns how many.
func (h *Handler) ExpireSessions(ctx context.Context) (int, error) { return h.sessions.expire(ctx) }

// sessionInfo is what the console's script learns of its session.
type sessionInfo struct {
	UserName  string `json:"userName"`
	UserID    string `json:"userId"`
	CSRFToken string `json:"csrfToken"`
	// TenancyID is the root compartment, where the pages start.
	TenancyID string `json:"tenancyId"`
}

// info is what the login and GET /console/session answer.
func (h *Handler) info(ctx context.Context, rec session) (sessionInfo, error) {
	tenancy, err := h.compartments.TenancyID(ctx)
	if err != nil {
		return sessionInfo{}, err
	}
	return sessionInfo{UserName: rec.UserName, UserID: rec.UserID, CSRFToken: rec.CSRF, TenancyID: tenancy}, nil
}

// sameOrigin reports whether a request's Origin, or when it has none its
// Referer, is the console's origin: the public origin when one is set
// (Options.Origin), else the one the request was sent to. A request with
// neither header is not.
func (h *Handler) sameOrigin(r *http.Request) bool {
	self := h.origin
	if self == "" {
		self = requestOrigin(r.Host, r.TLS != nil)
	}
	if o := r.Header.Get("Origin"); o != "" {
		return strings.ToLower(o) == self
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && strings.ToLower(u.Scheme+"://"+u.Host) == self
	}
	return false
}

// secureCookie reports whether the session cookie is Secure: the request
// came over TLS, or the public origin is https (a TLS-terminating proxy).
func (h *Handler) secureCookie(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(h.origin, "https://")
}

func changes(method string) bool { return method != http.MethodGet && method != http.MethodHead }

// cookieID is the session id of a request's cookie.
func cookieID(r *http.Request) (sessionID, bool) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return sessionID{}, false
	}
	return parseSessionID(ck.Value)
}

// Verify implements ociapi.Verifier: the session of the request's cookie
// gives the principal; a change also needs the session's CSRF token and
// the console's own origin.
func (h *Handler) Verify(ctx context.Context, r *http.Request, _ []byte) (*authz.Principal, error) {
	id, ok := cookieID(r)
	if !ok {
		return nil, errs.E(errs.Unauthenticated, "no console session cookie")
	}
	rec, err := h.sessions.get(ctx, id)
	if errors.Is(err, errNoSession) {
		return nil, errs.E(errs.Unauthenticated, "the console session is unknown or expired")
	} else if err != nil {
		return nil, err
	}
	if changes(r.Method) {
		if !h.sameOrigin(r) {
			return nil, errs.E(errs.Forbidden, "a console change must come from the console's own origin (Origin or Referer)")
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(rec.CSRF)) != 1 {
			return nil, errs.E(errs.Forbidden, "a console change needs the session's CSRF token in the %s header", CSRFHeader)
		}
	}
	p, err := h.users.ConsolePrincipal(ctx, rec.UserID, rec.Stamp)
	if errors.Is(err, identity.ErrSessionEnded) {
		if err := h.sessions.delete(ctx, id); err != nil {
			return nil, err
		}
		return nil, errs.E(errs.Unauthenticated, "the console session ended: the user's password was reset, or the user blocked or deleted")
	}
	return p, err
}

func (h *Handler) login(c *ociapi.Call) error {
	if !h.sameOrigin(c.R) {
		return errs.E(errs.Forbidden, "a console login must come from the console's own origin (Origin or Referer)")
	}
	req, err := decodeLogin(c.R.Header.Get("Content-Type"), c.Body)
	if err != nil {
		return err
	}
	defer clear(req.Password)
	u, err := h.checkPassword(c, req.UserName, req.Password)
	if errors.Is(err, identity.ErrBadLogin) {
		return errs.E(errs.Unauthenticated, "console login failed: wrong user name or password")
	}
	if err != nil {
		return err
	}
	id, rec, err := h.sessions.create(c.Context(), u.UserID, u.UserName, u.Stamp)
	if err != nil {
		return err
	}
	http.SetCookie(c.W, &http.Cookie{Name: CookieName, Value: id.encode(), Path: "/console/", HttpOnly: true,
		Secure: h.secureCookie(c.R), SameSite: http.SameSiteStrictMode, MaxAge: int(h.sessions.absolute / time.Second)})
	h.log.Info("console login", "request_id", c.RequestID, "user", u.UserID)
	info, err := h.info(c.Context(), rec)
	if err != nil {
		return err
	}
	return c.Reply("", info)
}

func throttled(c *ociapi.Call, wait time.Duration, what string) error {
	secs := int(wait/time.Second) + 1
	c.W.Header().Set("Retry-After", strconv.Itoa(secs))
	return errs.E(errs.TooManyRequests, "too many failed console logins from %s; retry after %d s", what, secs)
}

// checkPassword checks a user name and console password under the login
// throttle, which is asked before any hash: identity.ErrBadLogin for a
// wrong pair (counted as a failure), the throttle's 429, or the server's
// own error (counting nothing: it was no guess).
func (h *Handler) checkPassword(c *ociapi.Call, userName string, password []byte) (identity.ConsoleUser, error) {
	now := h.now()
	pass, ok, wait, what := h.throttle.admit(strings.ToLower(userName), ociapi.ClientKey(c.R.RemoteAddr), now)
	if !ok {
		return identity.ConsoleUser{}, throttled(c, wait, what)
	}
	u, err := h.users.CheckUIPassword(c.Context(), userName, password)
	if errors.Is(err, identity.ErrBadLogin) {
		h.throttle.failed(pass, now)
		return identity.ConsoleUser{}, err
	}
	if err != nil {
		h.throttle.release(pass)
		return identity.ConsoleUser{}, err
	}
	h.throttle.succeeded(pass, now)
	return u, nil
}

func (h *Handler) logout(c *ociapi.Call) error {
	if id, ok := cookieID(c.R); ok {
		if err := h.sessions.delete(c.Context(), id); err != nil {
			return err
		}
	}
	http.SetCookie(c.W, &http.Cookie{Name: CookieName, Value: "", Path: "/console/", HttpOnly: true,
		Secure: h.secureCookie(c.R), SameSite: http.SameSiteStrictMode, MaxAge: -1})
	return c.ReplyEmpty(http.StatusNoContent, "")
}

func (h *Handler) session(c *ociapi.Call) error {
	id, _ := cookieID(c.R) // Verify accepted it
	rec, err := h.sessions.get(c.Context(), id)
	if errors.Is(err, errNoSession) {
		return errs.E(errs.Unauthenticated, "the console session ended")
	} else if err != nil {
		return err
	}
	info, err := h.info(c.Context(), rec)
	if err != nil {
		return err
	}
	return c.Reply("", info)
}

// compartment is a compartment as the console shows it.
type compartment struct {
	ID             string    `json:"id"`
	ParentID       string    `json:"compartmentId"`
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	LifecycleState string    `json:"lifecycleState"`
	TimeCreated    time.Time `json:"timeCreated"`
}

// maxCompartmentPages bounds the pages listCompartments reads: a store
// that kept answering a next page would otherwise hold it forever.
const maxCompartmentPages = 10_000

// listCompartments is ListCompartments of the whole tenancy as the user:
// authorized on the tenancy, as the API's compartmentIdInSubtree=true. It
// follows the API's paging (each page's next-page token, as opc-next-page
// and page) to the end, so the tree holds every compartment however many
// there are.
func (h *Handler) listCompartments(c *ociapi.Call) error {
	tenancy, err := h.compartments.TenancyID(c.Context())
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: tenancy}); err != nil {
		return err
	}
	var all []identity.Compartment
	page := ""
	for n := 0; ; n++ {
		if n == maxCompartmentPages {
			return fmt.Errorf("console: list compartments: more than %d pages of %d", maxCompartmentPages, h.compartmentPage)
		}
		items, next, err := h.compartments.ListCompartments(c.Context(), identity.ListCompartmentsInput{ParentID: tenancy, Subtree: true,
			ListOptions: identity.ListOptions{Limit: h.compartmentPage, Page: page, SortBy: "NAME"}})
		if err != nil {
			return fmt.Errorf("console: list compartments (page %d): %w", n+1, err)
		}
		all = append(all, items...)
		if next == "" {
			break
		}
		if next == page {
			return fmt.Errorf("console: list compartments: page %d names itself as the next", n+1)
		}
		page = next
	}
	return c.ReplyList(ociapi.Models(all, func(v identity.Compartment) compartment {
		return compartment{ID: v.ID, ParentID: v.ParentID, Name: v.Name, Description: v.Description,
			LifecycleState: v.State, TimeCreated: v.TimeCreated}
	}), "")
}
