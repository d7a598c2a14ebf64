package agent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/coffer-vault/coffer/pkg/secretcache"
)

// maxOutput bounds a rendered file.
const maxOutput = 1 << 20

// Template is a parsed file template. Its language is Go's text/template
// with these functions and limits:
//
//	secret "name"         the decoded content of the named secret, as a string
//	secretVersion "name"  the version number that was read
//	base64decode s        standard or URL-safe base64, padded or not
//	base64encode s        standard base64
//	jsonField "a.b.0" s   a field of a JSON document (object keys and array
//	                      indexes, dot-separated); strings as they are,
//	                      other values as compact JSON; a missing field or
//	                      a null is an error
//	trimSpace s           strings.TrimSpace
//
// plus text/template's builtins (printf, index, slice, len, eq, and, or,
// not, ...). The name given to secret must be a quoted string declared in
// the file's "secrets"; a secret that could not be read is an error,
// never an empty string. range, define, template and block are refused:
// a template over a few secrets needs no loops, and without them a
// render's cost is bounded by the template's length. The template reads
// neither the environment nor files, and runs nothing.
//
// Errors never contain secret content: text/template may quote a value in
// an execution error, so only the position and the failing action are
// kept.
type Template struct {
	t     *template.Template
	names map[string]bool
}

// The functions that take a secret name.
const (
	fnSecret        = "secret"
	fnSecretVersion = "secretVersion"
)

// errNoLookup is what the parse-time placeholders return; Render replaces
// them.
var errNoLookup = errors.New("secret read outside Render")

func funcs(lookup func(string) (secretcache.Secret, error)) template.FuncMap {
	return template.FuncMap{
		fnSecret: func(name string) (string, error) {
			s, err := lookup(name)
			if err != nil {
				return "", err
			}
			return string(s.Bytes()), nil
		},
		fnSecretVersion: func(name string) (int64, error) {
			s, err := lookup(name)
			if err != nil {
				return 0, err
			}
			return s.VersionNumber, nil
		},
		"base64decode": base64Decode,
		"base64encode": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"jsonField":    jsonField,
		"trimSpace":    strings.TrimSpace,
	}
}

// ParseTemplate parses src, whose secret calls may name only the given
// secrets.
func ParseTemplate(name, src string, secrets []string) (*Template, error) {
	if len(src) > maxTemplateSize {
		return nil, fmt.Errorf("template larger than %d bytes", maxTemplateSize)
	}
	t, err := template.New(name).
		Option("missingkey=error").
		Funcs(funcs(func(string) (secretcache.Secret, error) { return secretcache.Secret{}, errNoLookup })).
		Parse(src)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("define and block are not allowed in an agent template")
	}
	tp := &Template{t: t, names: make(map[string]bool, len(secrets))}
	for _, n := range secrets {
		tp.names[n] = true
	}
	if t.Tree == nil || t.Root == nil {
		return nil, errors.New("empty template")
	}
	if err := tp.check(t.Root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return tp, nil
}

// check walks the tree, refusing loops and sub-templates and checking the
// secret names.
func (tp *Template) check(n parse.Node) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := tp.check(c); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return tp.check(n.Pipe)
	case *parse.IfNode:
		return tp.checkBranch(&n.BranchNode)
	case *parse.WithNode:
		return tp.checkBranch(&n.BranchNode)
	case *parse.RangeNode:
		return fmt.Errorf("line %d: range is not allowed in an agent template", line(tp.t.Tree, n))
	case *parse.TemplateNode:
		return fmt.Errorf("line %d: template is not allowed in an agent template", line(tp.t.Tree, n))
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, d := range n.Decl {
			if err := tp.check(d); err != nil {
				return err
			}
		}
		for _, c := range n.Cmds {
			if err := tp.check(c); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for i, a := range n.Args {
			if id, ok := a.(*parse.IdentifierNode); ok && (id.Ident == fnSecret || id.Ident == fnSecretVersion) {
				if i != 0 {
					return fmt.Errorf("line %d: %s must be called with a quoted name, as in {{ %s \"db\" }}", line(tp.t.Tree, n), id.Ident, id.Ident)
				}
				if len(n.Args) != 2 {
					return fmt.Errorf("line %d: %s takes one quoted name, as in {{ %s \"db\" }}", line(tp.t.Tree, n), id.Ident, id.Ident)
				}
				s, ok := n.Args[1].(*parse.StringNode)
				if !ok {
					return fmt.Errorf("line %d: %s takes a quoted name, as in {{ %s \"db\" }}", line(tp.t.Tree, n), id.Ident, id.Ident)
				}
				if !tp.names[s.Text] {
					return fmt.Errorf("line %d: secret %q is not declared in this file's secrets (declared: %s)", line(tp.t.Tree, n), s.Text, tp.declared())
				}
				continue
			}
			if err := tp.check(a); err != nil {
				return err
			}
		}
	case *parse.ChainNode:
		return tp.check(n.Node)
	}
	return nil
}

func (tp *Template) checkBranch(b *parse.BranchNode) error {
	if err := tp.check(b.Pipe); err != nil {
		return err
	}
	if err := tp.check(b.List); err != nil {
		return err
	}
	if b.ElseList != nil {
		return tp.check(b.ElseList)
	}
	return nil
}

func (tp *Template) declared() string {
	ns := make([]string, 0, len(tp.names))
	for n := range tp.names {
		ns = append(ns, strconv.Quote(n))
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

func line(t *parse.Tree, n parse.Node) int {
	if t == nil {
		return 0
	}
	loc, _ := t.ErrorContext(n)
	// loc is "name:line:col".
	parts := strings.Split(loc, ":")
	if len(parts) >= 2 {
		if l, err := strconv.Atoi(parts[len(parts)-2]); err == nil {
			return l
		}
	}
	return 0
}

// ErrSecretUnavailable is returned by Render when the template names a
// secret that the agent could not read.
var ErrSecretUnavailable = errors.New("secret not available")

// renderError is an error from one of the template's own functions,
// whose message is known to hold no content.
type renderError struct{ err error }

func (e *renderError) Error() string { return e.err.Error() }
func (e *renderError) Unwrap() error { return e.err }

// Render executes the template with lookup supplying the secrets. The
// result is a fresh buffer the caller owns (and should clear after use).
func (tp *Template) Render(lookup func(name string) (secretcache.Secret, bool)) ([]byte, error) {
	t, err := tp.t.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(funcs(func(name string) (secretcache.Secret, error) {
		if !tp.names[name] {
			return secretcache.Secret{}, &renderError{fmt.Errorf("secret %q is not declared", name)}
		}
		s, ok := lookup(name)
		if !ok {
			return secretcache.Secret{}, &renderError{fmt.Errorf("secret %q: %w", name, ErrSecretUnavailable)}
		}
		return s, nil
	}))
	w := &limitedBuffer{max: maxOutput}
	if err := t.Execute(w, nil); err != nil {
		clear(w.buf.Bytes())
		return nil, sanitize(err)
	}
	return w.buf.Bytes(), nil
}

// sanitize keeps the position and action of an execution error and drops
// text/template's own detail, which can quote a value ("range can't
// iterate over <value>"). Errors from the template's functions, whose
// messages are ours, are kept.
func sanitize(err error) error {
	var le *limitError
	if errors.As(err, &le) {
		return le
	}
	msg := err.Error()
	prefix := msg
	if i := strings.Index(msg, " at <"); i >= 0 {
		if j := strings.Index(msg[i:], ">: "); j >= 0 {
			prefix = msg[:i+j+1]
		} else {
			prefix = msg[:i]
		}
	} else if i := strings.Index(msg, ": executing "); i >= 0 {
		prefix = msg[:i]
	} else {
		prefix = "template: execution failed"
	}
	var re *renderError
	if errors.As(err, &re) {
		return fmt.Errorf("%s: %w", prefix, re)
	}
	return fmt.Errorf("%s: %w", prefix, errExecution)
}

// errExecution stands for a text/template execution error whose detail
// was withheld.
var errExecution = errors.New("template execution failed (detail withheld: it may quote secret content)")

// limitError is returned when a render exceeds maxOutput.
type limitError struct{ max int }

func (e *limitError) Error() string {
	return fmt.Sprintf("rendered file larger than %d bytes", e.max)
}

type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, &limitError{w.max}
	}
	return w.buf.Write(p)
}

func base64Decode(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return string(b), nil
		}
	}
	// The decoder's own error names only an offset, but say less still.
	return "", &renderError{errors.New("base64decode: input is not base64")}
}

// jsonField returns the field at path (dot-separated keys and array
// indexes) of the JSON document doc.
func jsonField(path, doc string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		// json's syntax errors quote the offending character: withhold.
		return "", &renderError{errors.New("jsonField: input is not valid JSON")}
	}
	if dec.More() {
		return "", &renderError{errors.New("jsonField: input is not valid JSON")}
	}
	if path != "" {
		for seg := range strings.SplitSeq(path, ".") {
			switch c := v.(type) {
			case map[string]any:
				next, ok := c[seg]
				if !ok {
					return "", &renderError{fmt.Errorf("jsonField: no field %q in %q", seg, path)}
				}
				v = next
			case []any:
				i, err := strconv.Atoi(seg)
				if err != nil || i < 0 || i >= len(c) {
					return "", &renderError{fmt.Errorf("jsonField: no element %q in %q", seg, path)}
				}
				v = c[i]
			default:
				return "", &renderError{fmt.Errorf("jsonField: %q in %q is inside a value that is not an object or array", seg, path)}
			}
		}
	}
	switch v := v.(type) {
	case nil:
		return "", &renderError{fmt.Errorf("jsonField: %q is null", path)}
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", &renderError{errors.New("jsonField: cannot encode the value")}
		}
		return string(b), nil
	}
}
