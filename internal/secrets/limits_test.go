package secrets

import (
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/errs"
)

// OCI's default: 30 versions in use; the 31st content update is refused
// until a DEPRECATED version is scheduled for deletion.
func TestVersionLimitDefault(t *testing.T) {
	e := newEnv(t)
	id := e.create(t, "s", "v1").ID
	for i := 2; i <= DefaultMaxVersionsInUse; i++ {
		e.put(t, id, fmt.Sprintf("v%d", i), "")
	}
	_, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: content("one too many")})
	wantKind(t, err, errs.LimitExceeded)
	if !strings.Contains(err.Error(), "schedule deletion of DEPRECATED versions") {
		t.Errorf("message does not say what to do: %v", err)
	}
	sec, err := e.s.GetSecret(e.ctx, id)
	if err != nil || sec.LifecycleState != StateActive {
		t.Fatalf("secret after refused update: %v %v", sec, err)
	}
	if got := e.read(t, id, BundleSelector{}); got != fmt.Sprintf("v%d", DefaultMaxVersionsInUse) {
		t.Fatalf("current content after refused update: %q", got)
	}
	if _, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: 1}); err != nil {
		t.Fatal(err)
	}
	e.put(t, id, "fits again", "")
}

func TestVersionLimits(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.MaxVersionsInUse, c.MaxVersionsPendingDeletion = 4, 2 })
	id := e.create(t, "s", "v1").ID
	for _, v := range []string{"v2", "v3", "v4"} {
		e.put(t, id, v, "")
	}
	// v1, v2 DEPRECATED; v3 PREVIOUS; v4 CURRENT: 4 in use.
	for _, stage := range []Stage{"", StagePending} {
		_, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: &ContentDetails{ContentType: ContentTypeBase64, Content: b64("x"), Stage: stage}})
		wantKind(t, err, errs.LimitExceeded)
	}
	for _, n := range []int64{1, 2} {
		if _, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: n}); err != nil {
			t.Fatal(err)
		}
	}
	// 2 in use, 2 pending: room for two new versions.
	e.put(t, id, "v5", "")
	e.put(t, id, "v6", "")
	_, err := e.s.UpdateSecret(e.ctx, UpdateSecretRequest{SecretID: id, Content: content("v7")})
	wantKind(t, err, errs.LimitExceeded)

	// v3 and v4 are DEPRECATED now, but the pending-deletion limit is full.
	_, err = e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: 3})
	wantKind(t, err, errs.LimitExceeded)
	if !strings.Contains(err.Error(), "pending deletion") {
		t.Errorf("message does not name the limit: %v", err)
	}
	// Cancelling a deletion brings a version back into use: refused while
	// the in-use limit is full.
	_, err = e.s.CancelSecretVersionDeletion(e.ctx, id, 1, "")
	wantKind(t, err, errs.LimitExceeded)

	// Deleted versions count for neither limit.
	e.clock.Advance(31 * day)
	if rep, err := e.s.CompleteDueDeletions(e.ctx); err != nil || rep.Versions != 2 {
		t.Fatalf("deletions: %+v %v", rep, err)
	}
	for _, n := range []int64{3, 4} {
		if _, err := e.s.ScheduleSecretVersionDeletion(e.ctx, ScheduleDeletionRequest{SecretID: id, VersionNumber: n}); err != nil {
			t.Fatalf("schedule %d after deletions: %v", n, err)
		}
	}
	e.put(t, id, "v7", "")
	if got := e.read(t, id, BundleSelector{}); got != "v7" {
		t.Fatalf("current = %q", got)
	}
}
