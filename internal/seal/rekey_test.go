package seal

import (
	"bytes"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/shamir"
)

// TestRekeyProtocol: the nonce guards every share and the cancel; one
// rekey at a time; repeated and foreign shares; the completing share
// returns the new split once, the old shares no longer unseal and the new
// ones do; a seal discards a rekey in progress.
func TestRekeyProtocol(t *testing.T) {
	r := newRig(t, TypeShamir)
	ctx := t.Context()
	old := r.initialized(5, 3)
	_, err := r.m.Rekey(ctx, RekeyRequest{Shares: 3, Threshold: 2}, "admin")
	wantKind(t, err, errs.Unavailable, "sealed")
	r.unsealAll(old[0], old[1], old[2])

	if st, err := r.m.Rekey(ctx, RekeyRequest{}, "admin"); err != nil || st.Started || st.Required != 3 {
		t.Fatalf("progress with none started: %+v %v", st, err)
	}
	_, err = r.m.Rekey(ctx, RekeyRequest{Shares: 3, Threshold: 1}, "admin")
	wantKind(t, err, errs.Invalid, "2 <= threshold")
	_, err = r.m.Rekey(ctx, RekeyRequest{Share: old[0]}, "admin")
	wantKind(t, err, errs.Invalid, "needs the nonce")
	_, err = r.m.Rekey(ctx, RekeyRequest{Nonce: "x", Share: old[0]}, "admin")
	wantKind(t, err, errs.IncorrectState, "no rekey is in progress")

	st, err := r.m.Rekey(ctx, RekeyRequest{Shares: 3, Threshold: 2}, "admin")
	if err != nil || !st.Started || len(st.Nonce) != 22 || st.NewShares != 3 || st.NewThreshold != 2 || st.Required != 3 {
		t.Fatalf("start: %+v %v", st, err)
	}
	nonce := st.Nonce
	_, err = r.m.Rekey(ctx, RekeyRequest{Shares: 3, Threshold: 2}, "admin")
	wantKind(t, err, errs.IncorrectState, "already in progress")
	wrong := []byte(nonce)
	wrong[len(wrong)-1] ^= 1 // another last character
	_, err = r.m.Rekey(ctx, RekeyRequest{Nonce: string(wrong), Share: old[0]}, "admin")
	wantKind(t, err, errs.Invalid, "nonce")
	if st, err := r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: old[0]}, "admin"); err != nil || st.Progress != 1 {
		t.Fatalf("first share: %+v %v", st, err)
	}
	_, err = r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: old[0]}, "admin")
	wantKind(t, err, errs.Invalid, "already submitted")
	_, err = r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: "garbage"}, "admin")
	wantKind(t, err, errs.Invalid, "not a share")
	_, err = r.m.Rekey(ctx, RekeyRequest{Cancel: true, Nonce: "other"}, "admin")
	wantKind(t, err, errs.Invalid, "nonce")
	held := r.m.rekey.pending[0]
	if st, err := r.m.Rekey(ctx, RekeyRequest{Cancel: true}, "admin"); err != nil || st.Started {
		t.Fatalf("cancel: %+v %v", st, err)
	}
	if !bytes.Equal(held.Bytes(), make([]byte, held.Len()+1)) {
		t.Error("cancel left a current share in memory")
	}
	_, err = r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: old[1]}, "admin")
	wantKind(t, err, errs.IncorrectState, "no rekey is in progress")

	// A foreign share completes the threshold: refused, progress reset,
	// the rekey still open with its nonce.
	foreign, _ := shamir.Split(make([]byte, barrier.RootKeySize), 5, 3)
	st, _ = r.m.Rekey(ctx, RekeyRequest{Shares: 3, Threshold: 2}, "admin")
	nonce = st.Nonce
	r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: old[0]}, "admin")
	r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: old[1]}, "admin")
	_, err = r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: foreign[2].Text()}, "admin")
	wantKind(t, err, errs.Invalid, "do not rebuild")
	if st, _ := r.m.Rekey(ctx, RekeyRequest{}, "admin"); !st.Started || st.Progress != 0 || st.Nonce != nonce {
		t.Fatalf("after foreign share: %+v", st)
	}

	r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: old[2]}, "admin")
	r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: old[3]}, "admin")
	done, err := r.m.Rekey(ctx, RekeyRequest{Nonce: nonce, Share: old[4]}, "admin")
	if err != nil || !done.Complete || len(done.Shares) != 3 || done.NewThreshold != 2 {
		t.Fatalf("complete: %+v %v", done, err)
	}
	if st, _ := r.m.Status(ctx); st.Shares != 3 || st.Threshold != 2 || st.Sealed {
		t.Fatalf("status after rekey %+v", st)
	}
	if st, _ := r.m.Rekey(ctx, RekeyRequest{}, "admin"); st.Started || st.Required != 2 {
		t.Fatalf("a finished rekey lingers: %+v", st)
	}

	// A seal discards a rekey in progress; old shares fail, new ones open.
	st, _ = r.m.Rekey(ctx, RekeyRequest{Shares: 2, Threshold: 2}, "admin")
	r.m.Rekey(ctx, RekeyRequest{Nonce: st.Nonce, Share: done.Shares[0]}, "admin")
	if err := r.m.Seal(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	if r.m.rekey != nil {
		t.Fatal("a rekey survived the seal")
	}
	r.m.Unseal(ctx, UnsealRequest{Share: old[0]})
	_, err = r.m.Unseal(ctx, UnsealRequest{Share: old[1]})
	wantKind(t, err, errs.Invalid, "do not rebuild")
	r.unsealAll(done.Shares[2], done.Shares[0])

	logs := r.logText()
	for _, want := range []string{"rekey started", "rekey cancelled", "rekey complete"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	for _, s := range append(old, done.Shares...) {
		if strings.Contains(logs, strings.TrimRight(s, "=")) {
			t.Error("a share appears in the logs")
		}
	}
}
