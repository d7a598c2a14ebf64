package identity

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/coffer-vault/coffer/internal/store/memstore"
)

func TestVars(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  map[string]string
		want map[string]string
	}{
		{"user", User{ID: "u1", Name: "alice"}.Vars(), map[string]string{"target.user.id": "u1", "target.user.name": "alice"}},
		// A create knows only the requested name; the id is left out, not
		// sent empty.
		{"new user", User{Name: "bob"}.Vars(), map[string]string{"target.user.name": "bob"}},
		{"group", Group{ID: "g1", Name: "ops"}.Vars(), map[string]string{"target.group.id": "g1", "target.group.name": "ops"}},
		{"new group", Group{}.Vars(), map[string]string{"target.group.name": ""}},
		{"dynamic group", DynamicGroup{ID: "d1", Name: "fns"}.Vars(), map[string]string{"target.dynamicgroup.id": "d1", "target.dynamicgroup.name": "fns"}},
		{"policy", Policy{ID: "p1", Name: "read"}.Vars(), map[string]string{"target.policy.id": "p1", "target.policy.name": "read"}},
		{"new policy", Policy{Name: "read"}.Vars(), map[string]string{"target.policy.name": "read"}},
		{"membership", Membership{ID: "m1", UserID: "u1", GroupID: "g1"}.Vars(), map[string]string{"target.user.id": "u1", "target.group.id": "g1"}},
	} {
		if !maps.Equal(tc.got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestTenancyID(t *testing.T) {
	ctx := context.Background()
	if _, err := New(memstore.New(), testIndex(t), "local", nil).TenancyID(ctx); !errors.Is(err, ErrNotBootstrapped) {
		t.Fatalf("before bootstrap: %v, want ErrNotBootstrapped", err)
	}
	svc, res := bootstrapped(t)
	if id, err := svc.TenancyID(ctx); err != nil || id != res.TenancyID {
		t.Fatalf("TenancyID = %q, %v; want %q", id, err, res.TenancyID)
	}
}
