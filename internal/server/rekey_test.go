package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/internal/seal"
	"github.com/coffer-vault/coffer/internal/shamir"
)

// rekey posts one rekey request signed by p and decodes the answer.
func (e *sealEnv) rekey(req seal.RekeyRequest, p common.KeyProvider) (int, seal.RekeyResponse, []byte) {
	e.t.Helper()
	code, b := e.call(http.MethodPost, sysapi.RekeyPath, req, p)
	var resp seal.RekeyResponse
	_ = json.Unmarshal(b, &resp)
	return code, resp, b
}

// TestShamirRekey: an administrator rekeys 5/3 shares to 3/2 with the
// threshold of the current shares; wrong shares reset the progress;
// cancel discards it; unauthenticated and unauthorized callers are
// refused; afterwards (after a seal, and after a restart) the old shares
// no longer unseal, the new ones do, and the data is still readable. No
// current share appears in the logs or in any response, and no new share
// anywhere but in the answer that completes the rekey.
func TestShamirRekey(t *testing.T) {
	dir := coffertest.DataDir(t)
	logs := &coffertest.SyncBuffer{}
	e := startShamir(t, dir, logs)
	code, body := e.call(http.MethodPost, sysapi.InitPath, seal.InitRequest{Shares: 5, Threshold: 3}, nil)
	var init seal.InitResponse
	if code != 200 || json.Unmarshal(body, &init) != nil {
		t.Fatalf("init: %d %s", code, body)
	}
	old := init.Shares
	e.unsealAll(old[0], old[1], old[2])

	env := e.env()
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	aes := keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, "")
	k := v.CreateKey(t, "before-rekey", aes, keymanagement.CreateKeyDetailsProtectionModeSoftware)
	ct := encrypt(t, v, *k.Id, "kept")

	// Unauthenticated: 401; a user without rights: 404 (OCI's denial).
	code, _, _ = e.rekey(seal.RekeyRequest{Shares: 3, Threshold: 2}, nil)
	if code != 401 {
		t.Fatalf("unsigned rekey: %d", code)
	}
	nobody := env.NewUser(t, "nobody")
	code, _, b := e.rekey(seal.RekeyRequest{Shares: 3, Threshold: 2}, nobody)
	wantOCIError(t, code, b, 404, "NotAuthorizedOrNotFound")

	// Bad numbers; a share before any start.
	code, _, b = e.rekey(seal.RekeyRequest{Shares: 3, Threshold: 1}, env.Provider)
	wantOCIError(t, code, b, 400, "InvalidParameter")
	code, _, b = e.rekey(seal.RekeyRequest{Nonce: "x", Share: old[0]}, env.Provider)
	wantOCIError(t, code, b, 409, "IncorrectState")

	// Start, then cancel: progress gone, a share with the old nonce refused.
	code, st, b := e.rekey(seal.RekeyRequest{Shares: 3, Threshold: 2}, env.Provider)
	if code != 200 || !st.Started || st.Nonce == "" || st.Required != 3 || st.NewShares != 3 || st.NewThreshold != 2 {
		t.Fatalf("start: %d %s", code, b)
	}
	coffertest.NextSecond() // the same start again, not a replay of it
	code, _, b = e.rekey(seal.RekeyRequest{Shares: 3, Threshold: 2}, env.Provider)
	wantOCIError(t, code, b, 409, "IncorrectState") // one at a time
	if code, st2, b := e.rekey(seal.RekeyRequest{Nonce: st.Nonce, Share: old[0]}, env.Provider); code != 200 || st2.Progress != 1 {
		t.Fatalf("first share: %d %s", code, b)
	}
	coffertest.NextSecond() // the same share again, not a replay of it
	if code, _, b := e.rekey(seal.RekeyRequest{Nonce: st.Nonce, Share: old[0]}, env.Provider); code != 400 || !strings.Contains(string(b), "already submitted") {
		t.Fatalf("repeated share: %d %s", code, b)
	}
	code, _, b = e.rekey(seal.RekeyRequest{Nonce: "wrong", Share: old[1]}, env.Provider)
	wantOCIError(t, code, b, 400, "InvalidParameter")
	code, _, b = e.rekey(seal.RekeyRequest{Cancel: true}, nobody)
	wantOCIError(t, code, b, 404, "NotAuthorizedOrNotFound")
	if code, st2, b := e.rekey(seal.RekeyRequest{Cancel: true}, env.Provider); code != 200 || st2.Started || st2.Progress != 0 {
		t.Fatalf("cancel: %d %s", code, b)
	}
	code, _, b = e.rekey(seal.RekeyRequest{Nonce: st.Nonce, Share: old[1]}, env.Provider)
	wantOCIError(t, code, b, 409, "IncorrectState")

	// Wrong shares: another split's share completes the threshold; the
	// keyring is untouched and progress starts again.
	foreign, _ := shamir.Split(make([]byte, 32), 5, 3)
	coffertest.NextSecond() // the same start again, not a replay of it
	_, st, _ = e.rekey(seal.RekeyRequest{Shares: 3, Threshold: 2}, env.Provider)
	e.rekey(seal.RekeyRequest{Nonce: st.Nonce, Share: old[0]}, env.Provider)
	e.rekey(seal.RekeyRequest{Nonce: st.Nonce, Share: old[1]}, env.Provider)
	code, st2, b := e.rekey(seal.RekeyRequest{Nonce: st.Nonce, Share: foreign[2].Text()}, env.Provider)
	if code != 400 || !strings.Contains(string(b), "do not rebuild") || len(st2.Shares) != 0 {
		t.Fatalf("foreign share: %d %s", code, b)
	}
	_, st2, _ = e.rekey(seal.RekeyRequest{}, env.Provider)
	if !st2.Started || st2.Progress != 0 || st2.Nonce != st.Nonce {
		t.Fatalf("status after wrong shares %+v", st2)
	}
	decrypt(t, v, *k.Id, ct, "kept")

	// The rekey proper, with three other current shares.
	for i, sh := range []string{old[2], old[3]} {
		if code, st2, b := e.rekey(seal.RekeyRequest{Nonce: st.Nonce, Share: sh}, env.Provider); code != 200 || st2.Progress != i+1 || st2.Complete {
			t.Fatalf("share %d: %d %s", i+1, code, b)
		}
	}
	code, b = e.call(http.MethodPost, sysapi.RekeyPath, seal.RekeyRequest{Nonce: st.Nonce, Share: old[4]}, env.Provider)
	var done seal.RekeyResponse
	if code != 200 || json.Unmarshal(b, &done) != nil || !done.Complete || len(done.Shares) != 3 || done.NewThreshold != 2 {
		t.Fatalf("completing share: %d", code)
	}
	newShares := done.Shares
	if st := e.status(); st.Sealed || st.Shares != 3 || st.Threshold != 2 {
		t.Fatalf("status after rekey %+v", st)
	}
	decrypt(t, v, *k.Id, ct, "kept")
	// The live barrier follows the new root: a rotation after the rekey
	// seals the keyring under it (checked by the unseal below).
	if code, b := e.call(http.MethodPost, sysapi.RotatePath, struct{}{}, env.Provider); code != 200 {
		t.Fatalf("rotate after rekey: %d %s", code, b)
	}
	ct2 := encrypt(t, v, *k.Id, "after")

	// Seal: the old shares no longer rebuild the root key, the new ones do.
	if code, b := e.call(http.MethodPost, sysapi.SealPath, struct{}{}, env.Provider); code != 200 {
		t.Fatalf("seal: %d %s", code, b)
	}
	e.unseal(old[0])
	if code, _, b := e.unseal(old[1]); code != 400 || !strings.Contains(b, "do not rebuild") || !e.srv.Sealed() {
		t.Fatalf("old shares after rekey: %d %s", code, b)
	}
	e.unsealAll(newShares[0], newShares[2])
	decrypt(t, v, *k.Id, ct, "kept")
	decrypt(t, v, *k.Id, ct2, "after")
	// Sealing discards a rekey in progress.
	_, st, _ = e.rekey(seal.RekeyRequest{Shares: 2, Threshold: 2}, env.Provider)
	e.rekey(seal.RekeyRequest{Nonce: st.Nonce, Share: newShares[1]}, env.Provider)
	coffertest.NextSecond() // the same seal request again, not a replay of it
	e.call(http.MethodPost, sysapi.SealPath, struct{}{}, env.Provider)
	e.unsealAll(newShares[1], newShares[2])
	if _, st2, _ := e.rekey(seal.RekeyRequest{}, env.Provider); st2.Started {
		t.Fatalf("rekey survived a seal: %+v", st2)
	}

	// Restart: the stored configuration is the new one, old shares fail.
	e.stop()
	bodies := e.bodies
	e = startShamir(t, dir, logs)
	e.bodies = bodies
	if st := e.status(); st.Shares != 3 || st.Threshold != 2 || !st.Sealed {
		t.Fatalf("status after restart %+v", st)
	}
	e.unseal(old[2])
	if code, _, b := e.unseal(old[3]); code != 400 || !strings.Contains(b, "do not rebuild") {
		t.Fatalf("old shares after restart: %d %s", code, b)
	}
	e.unsealAll(newShares[1], newShares[0])
	env = e.env()
	v = vaultAgain(t, env, v.Id)
	decrypt(t, v, *k.Id, ct, "kept")
	decrypt(t, v, *k.Id, ct2, "after")

	// Key-file servers have no shares to rekey.
	dev := coffertest.Start(t, coffertest.Options{DataDir: t.TempDir()})
	de := &sealEnv{t: t, srv: dev.Server, bodies: &coffertest.SyncBuffer{}}
	code, _, b = de.rekey(seal.RekeyRequest{Shares: 3, Threshold: 2}, dev.Provider)
	wantOCIError(t, code, b, 409, "IncorrectState")
	e.stop()

	// Canaries: neither root key nor any share in the logs; no current
	// share in any response (e.bodies holds every body but init's, and so
	// also the completing answer with the new shares).
	for _, c := range append(shareCanaries(t, old), shareCanaries(t, newShares)...) {
		if strings.Contains(logs.String(), c) {
			t.Error("a share or a root key appears in the logs")
		}
	}
	for _, s := range old {
		if strings.Contains(e.bodies.String(), s) {
			t.Error("a current share appears in a response")
		}
	}
	if !strings.Contains(logs.String(), "rekey complete") || !strings.Contains(logs.String(), "rekey cancelled") {
		t.Error("the rekey is not logged")
	}
}
