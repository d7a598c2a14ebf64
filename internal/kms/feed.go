package kms

import (
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
)

// noteKeyWrite appends the change feed's entry for writing k over what tx
// holds (package changefeed): every key write goes through putKey, so
// every key change is in the feed, committed with it. The change is told
// from the stored key: none (CREATED), another state, another current
// version (VERSION_CREATED), or else UPDATED.
func noteKeyWrite(tx store.Tx, k Key) error {
	ch := changefeed.Updated
	old, err := getKey(tx, k.ID)
	switch {
	case errs.Is(err, errs.NotFound):
		ch = changefeed.Created
	case err != nil:
		return err
	case old.State != k.State:
		ch = keyStateChange(old.State, k.State)
	case old.CurrentVersion != k.CurrentVersion:
		ch = changefeed.VersionCreated
	}
	return noteKey(tx, k, ch)
}

func keyStateChange(from, to string) changefeed.Change {
	switch {
	case to == KeyDeleted:
		return changefeed.Deleted
	case to == KeyPendingDeletion:
		return changefeed.DeletionScheduled
	case from == KeyPendingDeletion:
		return changefeed.DeletionCancelled
	case to == KeyEnabled:
		return changefeed.Enabled
	case to == KeyDisabled:
		return changefeed.Disabled
	}
	return changefeed.Updated
}

func noteKey(tx store.Tx, k Key, ch changefeed.Change) error {
	_, err := changefeed.Append(tx, changefeed.Entry{
		Kind: changefeed.KindKey, ID: k.ID, CompartmentID: k.CompartmentID, VaultID: k.VaultID,
		Change: ch, Time: time.Now(),
	})
	if err != nil {
		return fmt.Errorf("kms: record the change of key %s: %w", k.ID, err)
	}
	return nil
}
