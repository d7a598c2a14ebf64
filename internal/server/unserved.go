package server

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ociapi/operations"
)

// unrouted answers, on one endpoint, a request no route matched. It looks
// the path up in the table of OCI operations (internal/ociapi/operations):
//
//   - an OCI operation Coffer does not serve: 501 MethodNotImplemented
//     naming it, at once. The SDKs' default retry policies never retry
//     (501, MethodNotImplemented), the Go SDK's circuit breaker does not
//     count it, and it is not one of the errors retried for eventual
//     consistency after an identity write (oci-behaviours.md#unserved-operations);
//   - an operation Coffer serves on another endpoint: 404 NotFound saying
//     where;
//   - a method OCI does not define on an operation's path: 405
//     MethodNotAllowed naming what the path serves, with Allow;
//   - anything else: 404 NotFound, as a typo'd path is no operation.
type unrouted struct {
	endpoint operations.Endpoint
	// served holds the routes Coffer serves, by endpoint, method and path
	// template (routeKey); set before the server goes live, read-only after.
	served map[string]bool
	log    *slog.Logger
	obs    ociapi.Observer
}

func routeKey(endpoint, method, path string) string {
	return endpoint + " " + method + " " + path
}

// servedRoutes indexes routes by routeKey.
func servedRoutes(routes []RouteInfo) map[string]bool {
	m := make(map[string]bool, len(routes))
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		m[routeKey(rt.Endpoint, method, path)] = true
	}
	return m
}

func (u *unrouted) isServed(op operations.Operation) bool {
	return u.served[routeKey(op.Endpoint.String(), op.Method, op.Path)]
}

func (u *unrouted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	op, err := u.classify(r.Method, r.URL.Path, operations.Match(r.URL.EscapedPath()), w.Header())
	ociapi.WriteError(w, r, err)
	if op == nil {
		return
	}
	// An unserved operation is worth a count: they say what the programs
	// using Coffer miss. Anyone may send these requests, unsigned, so the
	// log line is at debug level: no log flood from outside.
	status := http.StatusNotImplemented
	u.log.Debug("unserved operation", "operation", op.Name, "method", op.Method, "path", op.Path,
		"endpoint", u.endpoint.String(), "opc-request-id", w.Header().Get("opc-request-id"))
	if u.obs != nil {
		u.obs.ObserveRequest(op.Name, status, "", time.Since(start))
	}
}

// classify returns the error for a request (method, decoded path) whose
// path matched ops; op is the unserved OCI operation it names, if any.
// It may set the Allow header.
func (u *unrouted) classify(method, path string, ops []operations.Operation, h http.Header) (op *operations.Operation, err error) {
	var elsewhere *operations.Operation
	for i := range ops {
		o := &ops[i]
		if o.Method != method {
			continue
		}
		if o.Endpoint == u.endpoint {
			if u.isServed(*o) {
				// The mux should have matched it; say no more than before.
				return nil, noRoute(method, path)
			}
			return o, errs.E(errs.NotImplemented, "Coffer does not serve %s (%s %s)", o.Name, o.Method, o.Path)
		}
		elsewhere = o
	}
	if elsewhere != nil {
		if u.isServed(*elsewhere) {
			return nil, errs.E(errs.NoRoute, "%s (%s %s) is served on %s, not on this endpoint",
				elsewhere.Name, elsewhere.Method, elsewhere.Path, endpointPlace(elsewhere.Endpoint))
		}
		return elsewhere, errs.E(errs.NotImplemented, "Coffer does not serve %s (%s %s)", elsewhere.Name, elsewhere.Method, elsewhere.Path)
	}
	if len(ops) == 0 {
		return nil, noRoute(method, path)
	}
	var served, defined []string
	var allow []string
	for _, o := range ops {
		d := o.Method + " (" + o.Name + ")"
		defined = append(defined, d)
		if o.Endpoint == u.endpoint && u.isServed(o) {
			served = append(served, d)
			allow = append(allow, o.Method)
		}
	}
	h.Set("Allow", strings.Join(allow, ", "))
	if len(served) == 0 {
		return nil, errs.E(errs.MethodNotAllowed, "%s %s is not an OCI operation; OCI defines %s on this path, which Coffer does not serve here",
			method, ops[0].Path, strings.Join(defined, ", "))
	}
	return nil, errs.E(errs.MethodNotAllowed, "%s %s is not an OCI operation; this path serves %s",
		method, ops[0].Path, strings.Join(served, ", "))
}

func noRoute(method, path string) error {
	return errs.E(errs.NoRoute, "%s %s is not an operation this endpoint serves", method, path)
}

// endpointPlace says where an endpoint's operations are sent.
func endpointPlace(e operations.Endpoint) string {
	switch e {
	case operations.Management:
		return "a vault's management endpoint"
	case operations.Crypto:
		return "a vault's crypto endpoint"
	}
	return "the main endpoint"
}
