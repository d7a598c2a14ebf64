package secrets

import (
	"slices"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/store"
)

func feedEntries(t *testing.T, e *env, after uint64) []changefeed.Entry {
	t.Helper()
	var es []changefeed.Entry
	if err := e.st.View(e.ctx, func(r store.Reader) (err error) { es, err = changefeed.Read(r, after, 0); return err }); err != nil {
		t.Fatal(err)
	}
	return es
}

// Every secret change appends its entry; a refused change appends none.
func TestChangeFeedEntries(t *testing.T) {
	e := newEnv(t)
	sec := e.create(t, "feed", "v1")
	e.put(t, sec.ID, "v2", StageCurrent)
	e.put(t, sec.ID, "v3", StagePending)
	if _, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: sec.ID, CurrentVersionNumber: ptrTo(int64(3))}); err != nil {
		t.Fatal(err)
	}
	// A refused change: v3 is CURRENT and cannot be scheduled for deletion.
	if _, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: sec.ID, VersionNumber: 3}); err == nil {
		t.Fatal("scheduled the CURRENT version's deletion")
	}
	if _, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: sec.ID, VersionNumber: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CancelSecretVersionDeletion(e.ctx, sec.ID, 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ScheduleSecretDeletion(e.ctx, ScheduleDeletionRequest{SecretID: sec.ID}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(31 * 24 * time.Hour)
	if _, err := e.s.CompleteDueDeletions(e.ctx); err != nil {
		t.Fatal(err)
	}
	type want struct {
		change   changefeed.Change
		current  int64
		versions []int64
	}
	wants := []want{
		{changefeed.Created, 1, []int64{1}},
		{changefeed.VersionCreated, 2, []int64{2}},
		{changefeed.VersionCreated, 2, []int64{3}},
		{changefeed.StageChanged, 3, []int64{1, 2, 3}},
		{changefeed.DeletionScheduled, 3, []int64{1}},
		{changefeed.DeletionCancelled, 3, []int64{1}},
		{changefeed.DeletionScheduled, 3, []int64{}},
		{changefeed.Deleted, 3, []int64{1, 2, 3}},
	}
	es := feedEntries(t, e, 0)
	if len(es) != len(wants) {
		t.Fatalf("%d entries, want %d: %+v", len(es), len(wants), es)
	}
	for i, w := range wants {
		g := es[i]
		if g.Sequence != uint64(i+1) || g.Kind != changefeed.KindSecret || g.ID != sec.ID || g.VaultID != e.vault || g.CompartmentID != e.comp ||
			g.Change != w.change || g.CurrentVersion != w.current || !slices.Equal(g.Versions, w.versions) {
			t.Errorf("entry %d = %+v, want %+v", i+1, g, w)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
