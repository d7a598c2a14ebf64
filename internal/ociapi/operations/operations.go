// Package operations is the table of every operation of the OCI API
// families Coffer speaks (Key Management, Vault, Secrets, Identity), as the
// pinned OCI Go SDK sends them, and a matcher from a request's path to the
// operations at that path.
//
// The server consults it only when no route matched a request, to tell
// apart an OCI operation Coffer does not serve (answered at once with 501
// MethodNotImplemented, which the SDKs' default retry policies do not
// retry), a method OCI does not define on a known path, and a path that is
// no operation at all. The table is generated from the SDK source (go
// generate runs ./gen) and a test regenerates it, so it follows the SDK
// version in go.mod.
package operations

//go:generate go run ./gen -o operations_gen.go

import (
	"net/url"
	"strings"
)

// Endpoint is where an operation is sent: the regional (main) endpoint, or
// a vault's own management or crypto endpoint.
type Endpoint uint8

// The endpoints, named as internal/server names them.
const (
	Main Endpoint = iota
	Management
	Crypto
)

func (e Endpoint) String() string {
	switch e {
	case Main:
		return "main"
	case Management:
		return "management"
	case Crypto:
		return "crypto"
	}
	return "unknown"
}

// ParseEndpoint is the inverse of Endpoint.String.
func ParseEndpoint(s string) (Endpoint, bool) {
	for _, e := range []Endpoint{Main, Management, Crypto} {
		if e.String() == s {
			return e, true
		}
	}
	return 0, false
}

// Operation is one OCI operation as the SDK sends it.
type Operation struct {
	Name     string // the SDK's operation name, e.g. "BackupVault"
	Client   string // the SDK client without "Client", e.g. "KmsVault", "Identity"
	Method   string // e.g. "POST"
	Path     string // the path template with the API version, e.g. "/20180608/vaults/{vaultId}/actions/backup"
	Version  string // the API version, the first path segment, e.g. "20180608"
	Endpoint Endpoint
}

// All returns every operation of the table, ordered by path and method.
func All() []Operation {
	return append([]Operation(nil), table[:]...)
}

// node is one path segment of the trie: literal children first, then one
// child for any value of a path parameter.
type node struct {
	lit  map[string]*node
	wild *node
	ops  []Operation // the operations whose template ends here
}

var root = build(table[:])

// build makes the trie of ops. Templates that differ only in the names
// of their parameters end at the same node.
func build(ops []Operation) *node {
	r := &node{}
	for _, op := range ops {
		n := r
		for seg := range strings.SplitSeq(strings.TrimPrefix(op.Path, "/"), "/") {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				if n.wild == nil {
					n.wild = &node{}
				}
				n = n.wild
				continue
			}
			if n.lit == nil {
				n.lit = map[string]*node{}
			}
			c := n.lit[seg]
			if c == nil {
				c = &node{}
				n.lit[seg] = c
			}
			n = c
		}
		n.ops = append(n.ops, op)
	}
	return r
}

// Match returns the operations (of every method and endpoint) whose path
// template matches path, an escaped URL path such as
// URL.EscapedPath returns; nil when path is no OCI operation's. As
// net/http's patterns, a literal segment wins over a parameter, and a
// parameter matches one non-empty segment (%2F does not end it). The
// result is the table's own: callers must not change it.
func Match(path string) []Operation {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil
	}
	if n := root.match(rest); n != nil {
		return n.ops
	}
	return nil
}

// match walks the segments of rest from n; it recurses at most as deep as
// the longest template, whatever the length of rest.
func (n *node) match(rest string) *node {
	seg, tail, more := strings.Cut(rest, "/")
	if c := n.lit[unescape(seg)]; c != nil {
		if m := c.next(tail, more); m != nil {
			return m
		}
	}
	if n.wild != nil && seg != "" {
		return n.wild.next(tail, more)
	}
	return nil
}

// next goes on after a matched segment: the end of the path needs a node
// with operations, more segments a child that matches them.
func (n *node) next(tail string, more bool) *node {
	if !more {
		if len(n.ops) > 0 {
			return n
		}
		return nil
	}
	return n.match(tail)
}

// unescape decodes a segment with escapes, as net/http matches decoded
// segments; the segments of the table have none, so a segment that cannot
// be decoded matches no literal.
func unescape(seg string) string {
	if !strings.Contains(seg, "%") {
		return seg
	}
	s, err := url.PathUnescape(seg)
	if err != nil {
		return "\x00"
	}
	return s
}
