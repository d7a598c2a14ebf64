package identityapi

import (
	"context"
	"net/http"

	"github.com/coffer-vault/coffer/internal/authz"
	idn "github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// The identity operations share a few shapes: Get, Update and Delete load a
// record named by the path (authorizing the caller on it) and answer with
// its SDK model; List validates compartmentId, authorizes on it, lists and
// converts. kind and the functions below hold those shapes once; each
// handler in identityapi.go keeps only what is particular to its resource.

// kind tells the shared handlers how to serve one resource type: load it
// from the request (authorizing the caller), name it, and show it as the
// SDK's model.
type kind[T, M any] struct {
	load  func(*ociapi.Call) (T, error)
	ref   func(T) (id, etag string)
	model func(T) M
}

// reply answers with v's model and etag, or with err.
func (k kind[T, M]) reply(c *ociapi.Call, v T, err error) error {
	if err != nil {
		return err
	}
	_, etag := k.ref(v)
	return c.Reply(etag, k.model(v))
}

// get serves a Get operation.
func (k kind[T, M]) get(c *ociapi.Call) error {
	v, err := k.load(c)
	return k.reply(c, v, err)
}

// remove serves a Delete operation: load, then del with the record's OCID
// and the caller's if-match; 204 on success.
func (k kind[T, M]) remove(del func(ctx context.Context, id, ifMatch string) error) ociapi.HandlerFunc {
	return func(c *ociapi.Call) error {
		v, err := k.load(c)
		if err != nil {
			return err
		}
		id, _ := k.ref(v)
		if err := del(c.Context(), id, c.IfMatch()); err != nil {
			return err
		}
		return c.ReplyEmpty(http.StatusNoContent, "")
	}
}

// update serves an Update operation: decode the body as D, load, then upd
// with the record's OCID and the caller's if-match.
func update[D, T, M any](k kind[T, M], upd func(ctx context.Context, id string, d D, ifMatch string) (T, error)) ociapi.HandlerFunc {
	return func(c *ociapi.Call) error {
		var d D
		if err := c.Decode(&d); err != nil {
			return err
		}
		v, err := k.load(c)
		if err != nil {
			return err
		}
		id, _ := k.ref(v)
		v, err = upd(c.Context(), id, d, c.IfMatch())
		return k.reply(c, v, err)
	}
}

// createInTenancy serves a Create operation of a tenancy-level resource
// (user, group, dynamic group): decode the body as D, authorize in the
// tenancy with the target variables of the record it would make (vars),
// then make it.
func createInTenancy[D, T, M any](h *Handlers, k kind[T, M], vars func(D) map[string]string, mk func(ctx context.Context, d D) (T, error)) ociapi.HandlerFunc {
	return func(c *ociapi.Call) error {
		var d D
		if err := c.Decode(&d); err != nil {
			return err
		}
		if err := h.authorizeInTenancy(c, vars(d)); err != nil {
			return err
		}
		v, err := mk(c.Context(), d)
		return k.reply(c, v, err)
	}
}

// loadInTenancy returns a loader for a tenancy-level resource (user, group,
// dynamic group, membership) whose OCID, of type typ, is the path parameter
// param: check the id, get the record, then authorize in the tenancy with
// its target variables.
func loadInTenancy[T any](h *Handlers, param, typ string, get func(context.Context, string) (T, error), vars func(T) map[string]string) func(*ociapi.Call) (T, error) {
	return func(c *ociapi.Call) (T, error) {
		var v T
		id, err := c.PathID(param, typ)
		if err != nil {
			return v, err
		}
		v, err = get(c.Context(), id)
		if err != nil {
			return v, err
		}
		return v, h.authorizeInTenancy(c, vars(v))
	}
}

// listIn serves a List operation over the compartment in the query:
// compartmentId is required and authorized on; list gets the page.
func listIn[T, M any](c *ociapi.Call, spec ociapi.ListSpec, model func(T) M, list func(ctx context.Context, compartmentID string, o idn.ListOptions) ([]T, string, error)) error {
	comp, o, err := listQuery(c, spec)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	items, next, err := list(c.Context(), comp, o)
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(items, model), next)
}

// listQuery reads a List operation's compartmentId, which is required,
// and its filter, sort and paging options, which spec bounds.
func listQuery(c *ociapi.Call, spec ociapi.ListSpec) (string, idn.ListOptions, error) {
	comp, err := c.QueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return "", idn.ListOptions{}, err
	}
	p, err := c.List(spec)
	if err != nil {
		return "", idn.ListOptions{}, err
	}
	name := c.Query("name")
	if err := ociapi.CheckText("query parameter name", name, idn.MaxNameLength); err != nil {
		return "", idn.ListOptions{}, err
	}
	return comp, idn.ListOptions{Limit: p.Limit, Page: p.Page, Name: name, SortBy: p.SortBy, SortOrder: p.SortOrder,
		LifecycleState: p.LifecycleState}, nil
}
