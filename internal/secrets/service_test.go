package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/secrets/generate"
	"github.com/coffer-vault/coffer/internal/store"
)

// While one content update holds the UPDATING lease (it has taken the lease
// and is sealing the new version outside the store), every other update of
// the secret is refused with IncorrectState, and the holder then finishes
// alone: one new version, dense numbers, one CURRENT, the secret ACTIVE and
// no record half written. The holder is stopped inside the lease by a hook
// that blocks, so the interleaving is forced, not hoped for.
func TestConcurrentContentUpdates(t *testing.T) {
	e := newEnv(t)
	id := e.create(t, "busy", "v0").ID
	var (
		wraps   atomic.Int64
		leased  = make(chan struct{})
		release = make(chan struct{})
	)
	e.ku.BeforeWrap = func() {
		// Only the first wrap, the holder's, blocks: without the lease the
		// others would wrap too, and must not wait for a release that comes
		// only after they return.
		if wraps.Add(1) == 1 {
			close(leased)
			<-release
		}
	}
	type result struct {
		sec *Secret
		err error
	}
	holder := make(chan result, 1)
	go func() {
		sec, err := e.s.UpdateSecret(context.Background(), UpdateSecretRequest{SecretID: id, Content: content("holder")})
		holder <- result{sec, err}
	}()
	select {
	case <-leased:
	case r := <-holder:
		t.Fatalf("the update finished (%v) without wrapping its data key", r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("the update never reached WrapDataKey")
	}

	const others = 31
	errsOf := make([]error, others)
	var wg sync.WaitGroup
	for i := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errsOf[i] = e.s.UpdateSecret(context.Background(), UpdateSecretRequest{SecretID: id, Content: content(fmt.Sprintf("value-%d", i))})
		}()
	}
	wg.Wait()
	for i, err := range errsOf {
		if k := errs.KindOf(err); err == nil || k != errs.IncorrectState {
			t.Errorf("update %d while the lease was held: %v (kind %v), want IncorrectState", i, err, k)
		}
	}
	if sec, err := e.s.GetSecret(e.ctx, id); err != nil || sec.LifecycleState != StateUpdating {
		t.Errorf("while the lease is held the secret is %v (%v), want UPDATING", sec, err)
	}
	close(release)
	r := <-holder
	if r.err != nil {
		t.Fatalf("the lease holder failed: %v", r.err)
	}
	if r.sec.CurrentVersionNumber != 2 {
		t.Fatalf("the holder made version %d, want 2", r.sec.CurrentVersionNumber)
	}
	if got := e.read(t, id, BundleSelector{}); got != "holder" {
		t.Fatalf("CURRENT holds %q, want the holder's content", got)
	}
	if n := wraps.Load(); n != 1 {
		t.Errorf("%d data keys wrapped, want only the holder's", n)
	}

	vers, _, err := e.s.ListSecretVersions(e.ctx, ListVersionsRequest{SecretID: id, SortOrder: SortAsc})
	if err != nil {
		t.Fatal(err)
	}
	if len(vers) != 2 {
		t.Fatalf("%d versions after one successful update, want 2", len(vers))
	}
	current := 0
	for i, v := range vers {
		if v.VersionNumber != int64(i+1) {
			t.Fatalf("version numbers not dense: %d at %d", v.VersionNumber, i)
		}
		for _, s := range v.Stages {
			if s == StageCurrent {
				current++
			}
		}
	}
	if current != 1 {
		t.Fatalf("%d CURRENT versions", current)
	}
	sec, err := e.s.GetSecret(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if sec.LifecycleState != StateActive {
		t.Fatalf("secret left %s", sec.LifecycleState)
	}
	// Nothing half written: no version record beyond the count.
	err = e.st.View(e.ctx, func(r store.Reader) error {
		ents, err := r.List(versionPrefix(id), "", 0)
		if len(ents) != len(vers) {
			t.Errorf("%d version records, %d versions", len(ents), len(vers))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The lease is gone: the next update goes through.
	if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: content("after")}); err != nil {
		t.Fatalf("update after the holder finished: %v", err)
	}
}

func TestUpdatingStateAndLease(t *testing.T) {
	e := newEnv(t)
	id := e.create(t, "s", "v1").ID
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	e.ku.BeforeWrap = func() {
		once.Do(func() { close(started); <-release })
	}
	done := make(chan error)
	go func() {
		_, err := e.s.UpdateSecret(context.Background(), UpdateSecretRequest{SecretID: id, Content: content("v2")})
		done <- err
	}()
	<-started
	sec, err := e.s.GetSecret(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if sec.LifecycleState != StateUpdating {
		t.Fatalf("state %s during an update, want UPDATING", sec.LifecycleState)
	}
	_, err = e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Description: ptr("x")})
	wantKind(t, err, errs.IncorrectState)
	// Readers are not blocked by an update.
	if got := e.read(t, id, BundleSelector{}); got != "v1" {
		t.Fatalf("read %q during update", got)
	}
	// After the lease expires another request may take over; the slow one
	// then loses.
	e.clock.Advance(3 * time.Minute)
	if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Description: ptr("taken over")}); err != nil {
		t.Fatal(err)
	}
	close(release)
	wantKind(t, <-done, errs.IncorrectState)
	vers, _, _ := e.s.ListSecretVersions(e.ctx, ListVersionsRequest{SecretID: id})
	if len(vers) != 1 {
		t.Fatalf("%d versions; the lost update must write none", len(vers))
	}
}

func TestUpdateCombinationsRefused(t *testing.T) {
	e := newEnv(t)
	id := e.create(t, "s", "v1").ID
	rules := []Rule{{Type: RuleReuse}}
	for _, req := range []UpdateSecretRequest{
		{SecretID: id, Content: content("x"), CurrentVersionNumber: ptr[int64](1)},
		{SecretID: id, Content: content("x"), Rules: &rules},
		{SecretID: id, CurrentVersionNumber: ptr[int64](1), Rules: &rules},
	} {
		_, err := e.s.UpdateSecret(e.ctx, req)
		wantKind(t, err, errs.Invalid)
	}
	_, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, CurrentVersionNumber: ptr[int64](7)})
	wantKind(t, err, errs.Invalid)
	// Description and tags go with any one of them.
	if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: content("x"), Description: ptr("d"), FreeformTags: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	sec, _ := e.s.GetSecret(e.ctx, id)
	if sec.Description != "d" || sec.FreeformTags["a"] != "b" || sec.CurrentVersionNumber != 2 {
		t.Fatalf("update not applied: %+v", sec)
	}
	// Version names are unique per secret.
	c := content("y")
	c.Name = "release-1"
	if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: c}); err != nil {
		t.Fatal(err)
	}
	c = content("z")
	c.Name = "release-1"
	_, err = e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: c})
	wantKind(t, err, errs.Invalid)
	if got := e.read(t, id, BundleSelector{VersionName: "release-1"}); got != "y" {
		t.Fatalf("by version name: %q", got)
	}
	_, err = e.s.GetSecretBundle(e.ctx, id, BundleSelector{VersionName: "release-1", Stage: StageCurrent})
	wantKind(t, err, errs.Invalid)
	_, err = e.s.GetSecretBundle(e.ctx, id, BundleSelector{Stage: StagePending})
	wantKind(t, err, errs.NotFound)
}

func TestContentValidation(t *testing.T) {
	e := newEnv(t)
	req := e.createReq("s", "x")
	req.Content.ContentType = "PLAIN"
	_, err := e.s.CreateSecret(e.ctx, req)
	wantKind(t, err, errs.Invalid)
	if msg := err.(*errs.Error).Msg; msg != "contentType PLAIN is not supported; send the content base64-encoded with contentType BASE64" {
		t.Fatalf("PLAIN message %q", msg)
	}
	req = e.createReq("s", "x")
	req.Content.Content = "not base64!"
	_, err = e.s.CreateSecret(e.ctx, req)
	wantKind(t, err, errs.Invalid)
	req = e.createReq("s", "x")
	req.Content.Stage = StagePending
	_, err = e.s.CreateSecret(e.ctx, req)
	wantKind(t, err, errs.Invalid)
	req = e.createReq("s", "x")
	req.Content = nil
	_, err = e.s.CreateSecret(e.ctx, req)
	wantKind(t, err, errs.Missing)

	big := strings.Repeat("a", MaxContentBytes)
	e.create(t, "max", big)
	_, err = e.s.CreateSecret(e.ctx, e.createReq("over", big+"a"))
	wantKind(t, err, errs.Invalid)
	if !strings.Contains(err.Error(), "25600") {
		t.Fatalf("size message lacks the limit: %v", err)
	}
	req = e.createReq("over", "x")
	req.Content.Content = strings.Repeat("QUFB", 20000)
	_, err = e.s.CreateSecret(e.ctx, req)
	wantKind(t, err, errs.Invalid)
	req = e.createReq("r", "x")
	req.ReplicationConfig = &ReplicationConfig{Targets: []ReplicationTarget{{TargetRegion: "elsewhere", TargetVaultID: e.vault, TargetKeyID: e.key}}}
	_, err = e.s.CreateSecret(e.ctx, req)
	wantKind(t, err, errs.Invalid) // no peers
}

func TestNames(t *testing.T) {
	e := newEnv(t)
	a := e.create(t, "db.Password_1-x", "lower")
	_, err := e.s.CreateSecret(e.ctx, e.createReq("db.Password_1-x", "again"))
	wantKind(t, err, errs.Invalid)
	b := e.create(t, "DB.PASSWORD_1-X", "upper") // case-sensitive: a different name
	for _, bad := range []string{"", "has space", "slash/x", "ünï", strings.Repeat("a", MaxNameLen+1)} {
		_, err := e.s.CreateSecret(e.ctx, e.createReq(bad, "x"))
		if err == nil {
			t.Fatalf("name %q accepted", bad)
		}
	}
	// Same name in another vault is fine.
	vault2 := ocid.New(ocid.Vault, "test")
	req := e.createReq("db.Password_1-x", "other vault")
	req.VaultID, req.KeyID = vault2, e.ku.AddKey(vault2)
	if _, err := e.s.CreateSecret(e.ctx, req); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, want string }{{"db.Password_1-x", "lower"}, {"DB.PASSWORD_1-X", "upper"}} {
		bd, err := e.s.ReadBundle(e.ctx, SecretRef{VaultID: e.vault, Name: tc.name}, BundleSelector{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(bd.Content.Bytes()) != tc.want {
			t.Fatalf("by name %s: %q", tc.name, bd.Content.Bytes())
		}
	}
	_, err = e.s.ReadBundle(e.ctx, SecretRef{VaultID: e.vault, Name: "db.password_1-x"}, BundleSelector{}, nil)
	wantKind(t, err, errs.NotFound)

	// Held while pending deletion; freed once the deletion completes.
	if _, err := e.s.ScheduleSecretDeletion(e.ctx, ScheduleDeletionRequest{SecretID: a.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.ReadBundle(e.ctx, SecretRef{VaultID: e.vault, Name: "db.Password_1-x"}, BundleSelector{}, nil)
	wantKind(t, err, errs.NotFound)
	_, err = e.s.CreateSecret(e.ctx, e.createReq("db.Password_1-x", "again"))
	wantKind(t, err, errs.Invalid)
	e.clock.Advance(30*day + time.Second)
	if _, err := e.s.CompleteDueDeletions(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.create(t, "db.Password_1-x", "reborn")
	_ = b
}

func TestDeletionWindows(t *testing.T) {
	e := newEnv(t)
	id := e.create(t, "s", "v1").ID
	now := e.clock.Now()
	for _, d := range []time.Duration{day - time.Hour, 31 * day} {
		_, err := e.s.ScheduleSecretDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, TimeOfDeletion: ptr(now.Add(d))})
		wantKind(t, err, errs.Invalid)
	}
	sec, err := e.s.ScheduleSecretDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, TimeOfDeletion: ptr(now.Add(2 * day))})
	if err != nil {
		t.Fatal(err)
	}
	if sec.LifecycleState != StatePendingDeletion || !sec.TimeOfDeletion.Equal(now.Add(2*day)) {
		t.Fatalf("after schedule: %s %v", sec.LifecycleState, sec.TimeOfDeletion)
	}
	_, err = e.s.GetSecretBundle(e.ctx, id, BundleSelector{})
	wantKind(t, err, errs.NotFound)
	_, err = e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: content("v2")})
	wantKind(t, err, errs.IncorrectState)
	_, err = e.s.ScheduleSecretDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id})
	wantKind(t, err, errs.IncorrectState)
	if sec, err = e.s.CancelSecretDeletion(e.ctx, id, ""); err != nil || sec.LifecycleState != StateActive || sec.TimeOfDeletion != nil {
		t.Fatalf("cancel: %v %+v", err, sec)
	}
	_, err = e.s.CancelSecretDeletion(e.ctx, id, "")
	wantKind(t, err, errs.IncorrectState)
	if e.read(t, id, BundleSelector{}) != "v1" {
		t.Fatal("content lost after cancel")
	}
	// Default window: 30 days.
	sec, _ = e.s.ScheduleSecretDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id})
	if !sec.TimeOfDeletion.Equal(now.Add(30 * day)) {
		t.Fatalf("default timeOfDeletion %v", sec.TimeOfDeletion)
	}
	e.clock.Advance(30*day - time.Second)
	if rep, _ := e.s.CompleteDueDeletions(e.ctx); rep.Secrets != 0 {
		t.Fatal("deleted before its time")
	}
	e.clock.Advance(time.Second)
	rep, err := e.s.CompleteDueDeletions(e.ctx)
	if err != nil || rep.Secrets != 1 || rep.Versions != 1 {
		t.Fatalf("complete: %+v %v", rep, err)
	}
	sec, _ = e.s.GetSecret(e.ctx, id)
	if sec.LifecycleState != StateDeleted {
		t.Fatalf("state %s", sec.LifecycleState)
	}
	_, err = e.s.CancelSecretDeletion(e.ctx, id, "")
	wantKind(t, err, errs.IncorrectState)
	assertNoSealedContent(t, e, id)
}

func assertNoSealedContent(t *testing.T, e *env, id string) {
	t.Helper()
	_ = e.st.View(e.ctx, func(r store.Reader) error {
		vers, err := loadVersions(r, id)
		for _, v := range vers {
			if v.Content != nil || !v.Deleted {
				t.Errorf("version %d still holds content", v.Number)
			}
		}
		return err
	})
}

func TestVersionDeletion(t *testing.T) {
	e := newEnv(t)
	id := e.create(t, "s", "v1").ID
	e.put(t, id, "v2", "")
	e.put(t, id, "v3", "")
	e.put(t, id, "v4", StagePending)
	// v1 DEPRECATED, v2 PREVIOUS, v3 CURRENT, v4 PENDING LATEST.
	for _, n := range []int64{2, 3, 4} {
		_, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: n})
		wantKind(t, err, errs.Invalid)
	}
	_, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: 1, TimeOfDeletion: ptr(e.clock.Now().Add(40 * day))})
	wantKind(t, err, errs.Invalid)
	v, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: 1, TimeOfDeletion: ptr(e.clock.Now().Add(day))})
	if err != nil {
		t.Fatal(err)
	}
	if v.TimeOfDeletion == nil {
		t.Fatal("no timeOfDeletion")
	}
	_, err = e.s.GetSecretBundle(e.ctx, id, BundleSelector{VersionNumber: 1})
	wantKind(t, err, errs.NotFound)
	_, err = e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, CurrentVersionNumber: ptr[int64](1)})
	wantKind(t, err, errs.Invalid)
	if _, err := e.s.CancelSecretVersionDeletion(e.ctx, id, 1, ""); err != nil {
		t.Fatal(err)
	}
	if e.read(t, id, BundleSelector{VersionNumber: 1}) != "v1" {
		t.Fatal("cancelled version unreadable")
	}
	if _, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: 1}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * day)
	rep, err := e.s.CompleteDueDeletions(e.ctx)
	if err != nil || rep.Versions != 1 || rep.Secrets != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	_, err = e.s.CancelSecretVersionDeletion(e.ctx, id, 1, "")
	wantKind(t, err, errs.IncorrectState)
	_, err = e.s.GetSecretBundle(e.ctx, id, BundleSelector{VersionNumber: 1})
	wantKind(t, err, errs.NotFound)
	if e.read(t, id, BundleSelector{}) != "v3" || e.read(t, id, BundleSelector{Stage: StageLatest}) != "v4" {
		t.Fatal("other versions affected")
	}
}

func TestExpiryRule(t *testing.T) {
	for _, blocked := range []bool{false, true} {
		t.Run(fmt.Sprint("blocked=", blocked), func(t *testing.T) {
			e := newEnv(t)
			req := e.createReq("s", "v1")
			req.Rules = []Rule{{Type: RuleExpiry, SecretVersionExpiryInterval: "P2D", IsSecretContentRetrievalBlockedOnExpiry: blocked}}
			sec, err := e.s.CreateSecret(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			created := e.clock.Now()
			if sec.TimeOfCurrentVersionExpiry == nil || !sec.TimeOfCurrentVersionExpiry.Equal(created.Add(2*day)) {
				t.Fatalf("timeOfCurrentVersionExpiry %v", sec.TimeOfCurrentVersionExpiry)
			}
			e.clock.Advance(2 * day)
			b, err := e.s.GetSecretBundle(e.ctx, sec.ID, BundleSelector{})
			if blocked {
				wantKind(t, err, errs.Invalid)
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if b.TimeOfExpiry == nil || !b.TimeOfExpiry.Equal(created.Add(2*day)) {
					t.Fatalf("bundle timeOfExpiry %v", b.TimeOfExpiry)
				}
			}
			// The timer restarts with new content.
			e.put(t, sec.ID, "v2", "")
			if e.read(t, sec.ID, BundleSelector{}) != "v2" {
				t.Fatal("new version unreadable")
			}
			// Editing the rule unblocks old content.
			_, err = e.s.GetSecretBundle(e.ctx, sec.ID, BundleSelector{VersionNumber: 1})
			if blocked {
				wantKind(t, err, errs.Invalid)
				if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: sec.ID, Rules: &[]Rule{}}); err != nil {
					t.Fatal(err)
				}
				if e.read(t, sec.ID, BundleSelector{VersionNumber: 1}) != "v1" {
					t.Fatal("unblocked read failed")
				}
			}
		})
	}
	e := newEnv(t)
	now := e.clock.Now()
	for _, r := range []Rule{
		{Type: RuleExpiry},
		{Type: RuleExpiry, SecretVersionExpiryInterval: "P0D"},
		{Type: RuleExpiry, SecretVersionExpiryInterval: "P91D"},
		{Type: RuleExpiry, SecretVersionExpiryInterval: "PT1H"},
		{Type: RuleExpiry, TimeOfAbsoluteExpiry: ptr(now.Add(time.Hour))},
		{Type: RuleExpiry, TimeOfAbsoluteExpiry: ptr(now.Add(366 * day))},
		{Type: "OTHER"},
	} {
		req := e.createReq("s", "x")
		req.Rules = []Rule{r}
		_, err := e.s.CreateSecret(e.ctx, req)
		wantKind(t, err, errs.Invalid)
	}
	req := e.createReq("abs", "x")
	abs := now.Add(10 * day)
	req.Rules = []Rule{{Type: RuleExpiry, SecretVersionExpiryInterval: "P90D", TimeOfAbsoluteExpiry: &abs}}
	sec, err := e.s.CreateSecret(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !sec.TimeOfCurrentVersionExpiry.Equal(abs) {
		t.Fatalf("absolute expiry not the earlier one: %v", sec.TimeOfCurrentVersionExpiry)
	}
}

func TestReuseRule(t *testing.T) {
	for _, deleted := range []bool{false, true} {
		t.Run(fmt.Sprint("enforcedOnDeleted=", deleted), func(t *testing.T) {
			e := newEnv(t)
			id := e.create(t, "s", "v1").ID
			e.put(t, id, "v2", "")
			e.put(t, id, "v3", "")
			// Reuse is allowed without the rule.
			e.put(t, id, "v1", StagePending)
			rules := []Rule{{Type: RuleReuse, IsEnforcedOnDeletedSecretVersions: deleted}}
			if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Rules: &rules}); err != nil {
				t.Fatal(err)
			}
			_, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: content("v2")})
			wantKind(t, err, errs.Invalid)
			sec, _ := e.s.GetSecret(e.ctx, id)
			if sec.LifecycleState != StateActive {
				t.Fatalf("refused update left the secret %s", sec.LifecycleState)
			}
			// Delete v1 (DEPRECATED: v2 PREVIOUS, v3 CURRENT, v4 PENDING).
			if _, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: 1}); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(31 * day)
			if _, err := e.s.CompleteDueDeletions(e.ctx); err != nil {
				t.Fatal(err)
			}
			// v4 also holds "v1", so use a value only v1 held: recreate the
			// situation with a fresh value.
			_, err = e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: content("v1")})
			wantKind(t, err, errs.Invalid) // v4 (not deleted) holds it
		})
	}
	// A value held only by a deleted version.
	for _, deleted := range []bool{false, true} {
		e := newEnv(t)
		id := e.create(t, "s", "old").ID
		e.put(t, id, "a", "")
		e.put(t, id, "b", "")
		if _, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: 1}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(31 * day)
		if _, err := e.s.CompleteDueDeletions(e.ctx); err != nil {
			t.Fatal(err)
		}
		rules := []Rule{{Type: RuleReuse, IsEnforcedOnDeletedSecretVersions: deleted}}
		if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Rules: &rules}); err != nil {
			t.Fatal(err)
		}
		_, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: content("old")})
		if deleted {
			wantKind(t, err, errs.Invalid)
		} else if err != nil {
			t.Fatalf("reuse of deleted content refused without isEnforcedOnDeletedSecretVersions: %v", err)
		}
	}
}

func TestAutoGenerationAndRotation(t *testing.T) {
	e := newEnv(t)
	req := e.createReq("gen", "x")
	req.EnableAutoGeneration = true
	req.GenerationContext = &GenerationContext{Type: generate.TypePassphrase, Template: generate.SecretsDefaultPassword,
		PassphraseLength: 20, SecretTemplate: `{"user":"app","password":"%GENERATED_PASSPHRASE%"}`}
	_, err := e.s.CreateSecret(e.ctx, req)
	wantKind(t, err, errs.Invalid) // content must be absent
	req.Content = nil
	sec, err := e.s.CreateSecret(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !sec.IsAutoGenerationEnabled {
		t.Fatal("isAutoGenerationEnabled false")
	}
	v1 := e.read(t, sec.ID, BundleSelector{})
	if !strings.HasPrefix(v1, `{"user":"app","password":"`) || len(v1) != len(`{"user":"app","password":""}`)+20 {
		t.Fatalf("generated content has the wrong shape (len %d)", len(v1))
	}
	ver, _ := e.s.GetSecretVersion(e.ctx, sec.ID, 1)
	if !ver.IsContentAutoGenerated {
		t.Fatal("isContentAutoGenerated false")
	}
	_, err = e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: sec.ID, Content: content("manual")})
	wantKind(t, err, errs.Invalid)

	sec, err = e.s.RotateSecret(e.ctx, sec.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if sec.CurrentVersionNumber != 2 || sec.LastRotationTime == nil {
		t.Fatalf("after rotate: current %d, lastRotation %v", sec.CurrentVersionNumber, sec.LastRotationTime)
	}
	if v2 := e.read(t, sec.ID, BundleSelector{}); v2 == v1 {
		t.Fatal("rotation produced the same content")
	}
	if e.read(t, sec.ID, BundleSelector{Stage: StagePrevious}) != v1 {
		t.Fatal("old version not PREVIOUS")
	}

	// Scheduled rotation config without target: next rotation time is set.
	rc := &RotationConfig{RotationInterval: "P30D", IsScheduledRotationEnabled: true}
	sec, err = e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: sec.ID, RotationConfig: rc})
	if err != nil {
		t.Fatal(err)
	}
	if sec.RotationStatus != RotationScheduled || sec.NextRotationTime == nil {
		t.Fatalf("rotation status %s next %v", sec.RotationStatus, sec.NextRotationTime)
	}
	if n, err := e.s.RotateDue(e.ctx); err != nil || n != 0 {
		t.Fatalf("rotated before due: %d %v", n, err)
	}
	e.clock.Advance(30 * day)
	if n, err := e.s.RotateDue(e.ctx); err != nil || n != 1 {
		t.Fatalf("due rotation: %d %v", n, err)
	}
	sec, _ = e.s.GetSecret(e.ctx, sec.ID)
	if sec.CurrentVersionNumber != 3 || !sec.NextRotationTime.Equal(e.clock.Now().Add(30*day)) {
		t.Fatalf("after scheduled rotation: current %d next %v", sec.CurrentVersionNumber, sec.NextRotationTime)
	}
	sec, err = e.s.CancelSecretRotation(e.ctx, sec.ID, "")
	if err != nil || sec.RotationStatus != RotationNotEnabled || sec.RotationConfig.IsScheduledRotationEnabled || sec.NextRotationTime != nil {
		t.Fatalf("cancel rotation: %v %+v", err, sec)
	}

	// A FUNCTION target cannot be served.
	fn := &RotationConfig{TargetSystemType: TargetFunction, TargetID: "ocid1.fnfunc.oc1.test.aaaa"}
	if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: sec.ID, RotationConfig: fn}); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.RotateSecret(e.ctx, sec.ID, "", "")
	wantKind(t, err, errs.Invalid)
	// Nor a secret without generation.
	plain := e.create(t, "plain", "x")
	_, err = e.s.RotateSecret(e.ctx, plain.ID, "", "")
	wantKind(t, err, errs.Invalid)
	if s, _ := e.s.GetSecret(e.ctx, plain.ID); s.LifecycleState != StateActive {
		t.Fatalf("refused rotation left %s", s.LifecycleState)
	}

	// Each generation type through CreateSecret.
	for i, gc := range []GenerationContext{
		{Type: generate.TypeBytes, Template: generate.Bytes512},
		{Type: generate.TypeSSHKey, Template: generate.RSA2048},
		{Type: generate.TypePassphrase, Template: generate.DBaaSDefaultPassword},
	} {
		r := e.createReq(fmt.Sprint("g", i), "")
		r.Content, r.EnableAutoGeneration, r.GenerationContext = nil, true, &gc
		s, err := e.s.CreateSecret(e.ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.read(t, s.ID, BundleSelector{}); len(got) == 0 {
			t.Fatalf("%s generated nothing", gc.Type)
		}
	}
	r := e.createReq("bad", "")
	r.Content, r.EnableAutoGeneration = nil, true
	_, err = e.s.CreateSecret(e.ctx, r)
	wantKind(t, err, errs.Missing)
}

func TestRetryTokens(t *testing.T) {
	e := newEnv(t)
	req := e.createReq("s", "v1")
	req.RetryToken = "tok-1"
	a, err := e.s.CreateSecret(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.s.CreateSecret(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID {
		t.Fatal("replay created a second secret")
	}
	list, _, _ := e.s.ListSecrets(e.ctx, ListSecretsRequest{CompartmentID: e.comp})
	if len(list) != 1 {
		t.Fatalf("%d secrets after replay", len(list))
	}
	other := req
	other.Content = content("different")
	_, err = e.s.CreateSecret(e.ctx, other)
	wantKind(t, err, errs.InvalidatedRetry)

	// Update replay: no second version.
	up := UpdateSecretRequest{SecretID: a.ID, Content: content("v2"), RetryToken: "tok-1"}
	if _, err := e.s.UpdateSecret(e.ctx, up); err != nil {
		t.Fatal(err)
	}
	s2, err := e.s.UpdateSecret(e.ctx, up)
	if err != nil || s2.CurrentVersionNumber != 2 {
		t.Fatalf("update replay: %v, current %d", err, s2.CurrentVersionNumber)
	}
	up.Content = content("v3")
	_, err = e.s.UpdateSecret(e.ctx, up)
	wantKind(t, err, errs.InvalidatedRetry)

	// Tokens expire after 24 hours and are purged.
	e.clock.Advance(RetryTokenTTL)
	if s3, err := e.s.UpdateSecret(e.ctx, up); err != nil || s3.CurrentVersionNumber != 3 {
		t.Fatalf("after expiry: %v", err)
	}
	e.clock.Advance(RetryTokenTTL)
	rep, err := e.s.CompleteDueDeletions(e.ctx)
	if err != nil || rep.RetryTokens != 2 { // the create token and the (re-used) update token
		t.Fatalf("purge: %+v %v", rep, err)
	}
	long := e.createReq("l", "x")
	long.RetryToken = strings.Repeat("t", MaxRetryTokenLen+1)
	_, err = e.s.CreateSecret(e.ctx, long)
	wantKind(t, err, errs.Invalid)
}

func TestETags(t *testing.T) {
	e := newEnv(t)
	sec := e.create(t, "s", "v1")
	seen := map[string]bool{sec.ETag: true}
	_, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: sec.ID, Description: ptr("x"), IfMatch: "nope"})
	wantKind(t, err, errs.PreconditionFailed)
	s2, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: sec.ID, Description: ptr("x"), IfMatch: sec.ETag})
	if err != nil {
		t.Fatal(err)
	}
	if seen[s2.ETag] {
		t.Fatal("etag unchanged by a write")
	}
	seen[s2.ETag] = true
	_, err = e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: sec.ID, Content: content("v2"), IfMatch: sec.ETag})
	wantKind(t, err, errs.PreconditionFailed)
	s3, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: sec.ID, Content: content("v2"), IfMatch: s2.ETag})
	if err != nil || seen[s3.ETag] {
		t.Fatalf("content update with etag: %v", err)
	}
	_, err = e.s.ScheduleSecretDeletion(e.ctx, ScheduleDeletionRequest{SecretID: sec.ID, IfMatch: s2.ETag})
	wantKind(t, err, errs.PreconditionFailed)
	_, err = e.s.ChangeSecretCompartment(e.ctx, ChangeCompartmentRequest{SecretID: sec.ID, CompartmentID: e.comp, IfMatch: "x"})
	wantKind(t, err, errs.PreconditionFailed)
	v1, _ := e.s.GetSecretVersion(e.ctx, sec.ID, 1)
	e.put(t, sec.ID, "v3", "") // v1 now DEPRECATED
	_, err = e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: sec.ID, VersionNumber: 1, IfMatch: "x"})
	wantKind(t, err, errs.PreconditionFailed)
	if _, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: sec.ID, VersionNumber: 1, IfMatch: v1.ETag}); err != nil {
		t.Fatal(err)
	}
}

func TestListSecretsPaginationAndSorting(t *testing.T) {
	e := newEnv(t)
	names := []string{"delta", "alpha", "Charlie", "bravo", "echo", "alpha2", "foxtrot"}
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = e.create(t, n, "x").ID
		e.clock.Advance(time.Second)
	}
	// Another compartment is not listed; filters work.
	comp2 := ocid.New(ocid.Compartment, "test")
	if _, err := e.s.ChangeSecretCompartment(e.ctx, ChangeCompartmentRequest{SecretID: ids["echo"], CompartmentID: comp2}); err != nil {
		t.Fatal(err)
	}
	collect := func(req ListSecretsRequest) []string {
		var out []string
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("pagination does not end")
			}
			got, next, err := e.s.ListSecrets(e.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range got {
				out = append(out, s.Name)
			}
			if next == "" {
				return out
			}
			req.Page = next
		}
	}
	for _, tc := range []struct {
		req  ListSecretsRequest
		want string
	}{
		{ListSecretsRequest{}, "foxtrot alpha2 bravo Charlie alpha delta"},
		{ListSecretsRequest{SortOrder: SortAsc}, "delta alpha Charlie bravo alpha2 foxtrot"},
		{ListSecretsRequest{SortBy: SortByName}, "Charlie alpha alpha2 bravo delta foxtrot"},
		{ListSecretsRequest{SortBy: SortByName, SortOrder: SortDesc}, "foxtrot delta bravo alpha2 alpha Charlie"},
		{ListSecretsRequest{Name: "alpha"}, "alpha"},
		{ListSecretsRequest{VaultID: ocid.New(ocid.Vault, "test")}, ""},
		{ListSecretsRequest{LifecycleState: StatePendingDeletion}, ""},
	} {
		for _, limit := range []int{0, 1, 2, 4} {
			req := tc.req
			req.CompartmentID, req.Limit = e.comp, limit
			if got := strings.Join(collect(req), " "); got != tc.want {
				t.Errorf("%+v limit %d: %q, want %q", tc.req, limit, got, tc.want)
			}
		}
	}
	if got := collect(ListSecretsRequest{CompartmentID: comp2}); len(got) != 1 || got[0] != "echo" {
		t.Fatalf("moved secret: %v", got)
	}
	_, next, _ := e.s.ListSecrets(e.ctx, ListSecretsRequest{CompartmentID: e.comp, Limit: 1})
	_, _, err := e.s.ListSecrets(e.ctx, ListSecretsRequest{CompartmentID: e.comp, Limit: 1, Page: next, SortBy: SortByName})
	wantKind(t, err, errs.Invalid)
	for _, bad := range []ListSecretsRequest{{}, {CompartmentID: e.comp, Limit: -1}, {CompartmentID: e.comp, Limit: MaxPageSize + 1},
		{CompartmentID: e.comp, SortBy: "x"}, {CompartmentID: e.comp, SortOrder: "x"}, {CompartmentID: e.comp, Page: "garbage"}} {
		if _, _, err := e.s.ListSecrets(e.ctx, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestListVersionsPagination(t *testing.T) {
	e := newEnv(t)
	id := e.create(t, "s", "v1").ID
	for i := 2; i <= 7; i++ {
		e.put(t, id, fmt.Sprint("v", i), "")
	}
	for _, order := range []string{"", SortAsc} {
		var got []int64
		req := ListVersionsRequest{SecretID: id, SortOrder: order, Limit: 3}
		for {
			vs, next, err := e.s.ReadBundleVersions(e.ctx, req, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				got = append(got, v.VersionNumber)
			}
			if next == "" {
				break
			}
			req.Page = next
		}
		want := "[7 6 5 4 3 2 1]"
		if order == SortAsc {
			want = "[1 2 3 4 5 6 7]"
		}
		if fmt.Sprint(got) != want {
			t.Fatalf("order %q: %v", order, got)
		}
	}
}

func TestStoreNeverHoldsContent(t *testing.T) {
	e := newEnv(t)
	canary := "CANARY-7f3a9c-do-not-store"
	sec := e.create(t, "canary", canary)
	req := UpdateSecretRequest{SecretID: sec.ID, Content: content(canary + "-v2"), RetryToken: "tok"}
	if _, err := e.s.UpdateSecret(e.ctx, req); err != nil {
		t.Fatal(err)
	}
	gen := e.createReq("gen", "")
	gen.Content, gen.EnableAutoGeneration = nil, true
	gen.GenerationContext = &GenerationContext{Type: generate.TypePassphrase, Template: generate.SecretsDefaultPassword}
	gs, err := e.s.CreateSecret(e.ctx, gen)
	if err != nil {
		t.Fatal(err)
	}
	generated := e.read(t, gs.ID, BundleSelector{})
	needles := [][]byte{}
	for _, s := range []string{canary, "CANARY-7f3a9c", generated} {
		needles = append(needles, []byte(s), []byte(b64(s)), []byte(base64.RawStdEncoding.EncodeToString([]byte(s))),
			[]byte(base64.URLEncoding.EncodeToString([]byte(s))))
	}
	entries := 0
	err = e.st.View(e.ctx, func(r store.Reader) error {
		ents, err := r.List("", "", 0)
		for _, ent := range ents {
			entries++
			for _, n := range needles {
				if bytes.Contains(ent.Value, n) || strings.Contains(ent.Key, string(n)) {
					t.Errorf("store entry %s holds secret content", ent.Key)
				}
			}
		}
		return err
	})
	if err != nil || entries == 0 {
		t.Fatalf("scan: %v, %d entries", err, entries)
	}
	if e.read(t, sec.ID, BundleSelector{VersionNumber: 1}) != canary {
		t.Fatal("canary not readable")
	}
}

func TestMasterKeys(t *testing.T) {
	e := newEnv(t)
	id := e.create(t, "s", "v1").ID
	e.ku.Rotate(e.key)
	e.put(t, id, "v2", "")
	if e.read(t, id, BundleSelector{VersionNumber: 1}) != "v1" || e.read(t, id, BundleSelector{}) != "v2" {
		t.Fatal("key rotation broke a version")
	}
	e.ku.SetDisabled(e.key, true)
	_, err := e.s.GetSecretBundle(e.ctx, id, BundleSelector{})
	wantKind(t, err, errs.IncorrectState)
	_, err = e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: content("v3")})
	wantKind(t, err, errs.IncorrectState)
	if s, _ := e.s.GetSecret(e.ctx, id); s.LifecycleState != StateActive {
		t.Fatalf("failed update left %s", s.LifecycleState)
	}
	e.ku.SetDisabled(e.key, false)

	req := e.createReq("rsa", "x")
	req.KeyID = e.ku.AddRSAKey(e.vault)
	_, err = e.s.CreateSecret(e.ctx, req)
	wantKind(t, err, errs.Invalid)
	req = e.createReq("other", "x")
	v2 := ocid.New(ocid.Vault, "test")
	req.KeyID = e.ku.AddKey(v2)
	_, err = e.s.CreateSecret(e.ctx, req)
	wantKind(t, err, errs.RelatedNotFound)

	// A version's ciphertext is bound to its secret and number.
	var v1, v2rec *versionRecord
	_ = e.st.View(e.ctx, func(r store.Reader) error {
		v1, _ = loadVersion(r, id, 1)
		v2rec, _ = loadVersion(r, id, 2)
		return nil
	})
	unwrap := func(kv string) UnwrapFunc {
		return func(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
			return e.ku.UnwrapDataKey(ctx, e.key, kv, wrapped, aad)
		}
	}
	if _, err := open(e.ctx, unwrap(v1.Content.DEK.KeyVersionID), versionAAD(id, 2), *v1.Content); err == nil {
		t.Fatal("version 1 opened as version 2")
	}
	if _, err := open(e.ctx, unwrap(v2rec.Content.DEK.KeyVersionID), versionAAD(id, 2), *v2rec.Content); err != nil {
		t.Fatal(err)
	}
}

func TestContentNeverPrints(t *testing.T) {
	c := NewContent([]byte("hunter2"))
	d := ContentDetails{ContentType: ContentTypeBase64, Content: b64("hunter2")}
	for _, s := range []string{fmt.Sprintf("%v %+v %s %q %x %#v", c, c, c, c, c, c), fmt.Sprintf("%v %+v %s %#v", d, d, d, d)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, b64("hunter2")) || strings.Contains(s, fmt.Sprintf("%x", "hunter2")) {
			t.Fatalf("printed: %s", s)
		}
	}
	if _, err := jsonMarshal(c); err == nil {
		t.Fatal("Content marshalled to JSON")
	}
	c.Zero()
	if c.Len() != 0 {
		t.Fatal("Zero kept content")
	}
}
