package secrets

import (
	"slices"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/store"
)

// noteChange appends the change feed's entry for a change of rec, in the
// transaction that makes it (package changefeed): ids and version numbers,
// never content or the name.
func noteChange(tx store.Tx, rec *secretRecord, ch changefeed.Change, now time.Time, versions ...int64) error {
	_, err := changefeed.Append(tx, changefeed.Entry{
		Kind: changefeed.KindSecret, ID: rec.ID, CompartmentID: rec.CompartmentID, VaultID: rec.VaultID,
		Change: ch, CurrentVersion: rec.Stages.Current, Versions: versions, Time: now,
	})
	return err
}

// noteStages notes an in-place update: STAGE_CHANGED, naming the versions
// whose stages moved, when the stage pointers moved, else UPDATED.
func noteStages(tx store.Tx, rec *secretRecord, before stagePointers, now time.Time) error {
	if rec.Stages == before {
		return noteChange(tx, rec, changefeed.Updated, now)
	}
	var moved []int64
	for _, n := range []int64{before.Current, rec.Stages.Current, before.Pending, rec.Stages.Pending, before.Previous, rec.Stages.Previous, before.Latest, rec.Stages.Latest} {
		if n != 0 && !slices.Contains(moved, n) {
			moved = append(moved, n)
		}
	}
	slices.Sort(moved)
	return noteChange(tx, rec, changefeed.StageChanged, now, moved...)
}
