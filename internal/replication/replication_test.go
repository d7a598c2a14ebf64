package replication

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/peer"
	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/secrets"
	"github.com/coffer-vault/coffer/internal/secrets/secretstest"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memstore"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// region is one side: a store, its secrets service and a fake key user
// with one vault and AES key.
type region struct {
	name        string
	st          *recordcache.Cache
	svc         *secrets.Service
	ku          *secretstest.KeyUser
	vault, key  string
	compartment string
	feed        *changefeed.Feed
}

func newRegion(t *testing.T, name, peer string) *region {
	t.Helper()
	r := &region{name: name, st: recordcache.New(memstore.New(), recordcache.Options{}), ku: secretstest.NewKeyUser(),
		vault: ocid.New(ocid.Vault, name), compartment: ocid.New(ocid.Compartment, name)}
	r.ku.Compartment = r.compartment
	r.key = r.ku.AddKey(r.vault)
	names, err := blindindex.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if r.svc, err = secrets.New(secrets.Config{Store: r.st, Keys: r.ku, Names: names, Region: name, PeerRegions: []string{peer}}); err != nil {
		t.Fatal(err)
	}
	if r.feed, err = changefeed.New(changefeed.Config{Store: r.st, MAC: names.Of}); err != nil {
		t.Fatal(err)
	}
	r.st.OnChange(r.feed.Changed)
	t.Cleanup(r.feed.Close)
	return r
}

// direct carries pulls to a Source in this process, through the real
// envelope, with the binding a nonce would give.
type direct struct {
	src     *Source
	replica string
	before  func() // runs before each pull reaches the source
	pulls   []PullRequest
}

func (d *direct) Pull(ctx context.Context, source string, req PullRequest) (*PullResponse, []byte, error) {
	if d.before != nil {
		d.before()
	}
	d.pulls = append(d.pulls, req)
	binding := peer.ExchangeContext(source, d.replica, "nonce")
	resp, err := d.src.Pull(ctx, d.replica, binding, req)
	return resp, binding, err
}

type pair struct {
	src, dst *region
	tr       *direct
	rep      *Replicator
}

func newPair(t *testing.T) *pair {
	p := &pair{src: newRegion(t, "eu-a", "eu-b"), dst: newRegion(t, "eu-b", "eu-a")}
	p.tr = &direct{replica: "eu-b", src: &Source{Region: "eu-a", Secrets: p.src.svc, Feed: func() *changefeed.Feed { return p.src.feed }, Seal: peer.Seal}}
	p.rep = &Replicator{Region: "eu-b", Sources: []string{"eu-a"}, Store: p.dst.st, Secrets: p.dst.svc, Transport: p.tr,
		NewKey: func() (OneTimeKey, error) { return peer.NewEphemeralKey() }, Wait: -1}
	return p
}

func (p *pair) create(t *testing.T, name, value string, replicated bool) string {
	t.Helper()
	req := secrets.CreateSecretRequest{CompartmentID: p.src.compartment, VaultID: p.src.vault, KeyID: p.src.key, Name: name,
		Content: &secrets.ContentDetails{ContentType: secrets.ContentTypeBase64, Content: base64.StdEncoding.EncodeToString([]byte(value))}}
	if replicated {
		req.ReplicationConfig = p.target()
	}
	s, err := p.src.svc.CreateSecret(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func (p *pair) target() *secrets.ReplicationConfig {
	return &secrets.ReplicationConfig{Targets: []secrets.ReplicationTarget{{TargetRegion: "eu-b", TargetVaultID: p.dst.vault, TargetKeyID: p.dst.key}}}
}

func (p *pair) step(t *testing.T) {
	t.Helper()
	if err := p.rep.Step(context.Background(), "eu-a"); err != nil {
		t.Fatalf("Step: %v", err)
	}
}

func (p *pair) read(t *testing.T, id string) (string, error) {
	t.Helper()
	b, err := p.dst.svc.GetSecretBundle(context.Background(), id, secrets.BundleSelector{})
	if err != nil {
		return "", err
	}
	defer b.Content.Zero()
	return string(b.Content.Bytes()), nil
}

func (p *pair) position(t *testing.T) position {
	t.Helper()
	var pos position
	if err := p.dst.st.View(context.Background(), func(r store.Reader) (err error) {
		pos, err = record.Get[position](r, stateKey("eu-a"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return pos
}

func TestFirstContactResyncsThenFollows(t *testing.T) {
	p := newPair(t)
	var ids []string
	for i := range ResyncPage + 5 { // two resync pages
		ids = append(ids, p.create(t, "s"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+ocid.Short(ocid.New(ocid.Secret, "x")), "v1", true))
	}
	local := p.create(t, "not-replicated", "v1", false)

	p.step(t) // first contact: the source's end, and a resync
	if pos := p.position(t); !pos.Resync || pos.Generation != 1 || pos.Cursor == "" {
		t.Fatalf("after first contact: %+v", pos)
	}
	p.step(t) // page 1
	if pos := p.position(t); !pos.Resync || pos.After == "" {
		t.Fatalf("after page 1: %+v", pos)
	}
	p.step(t) // page 2, the end
	if pos := p.position(t); pos.Resync || pos.After != "" {
		t.Fatalf("after the last page: %+v", pos)
	}
	for _, id := range ids {
		if got, err := p.read(t, id); err != nil || got != "v1" {
			t.Fatalf("replica %s: %q, %v", id, got, err)
		}
	}
	if _, err := p.read(t, local); err == nil {
		t.Fatal("a secret without a target reached the replica region")
	}

	// Incremental: a new version arrives with one pull, carrying only its
	// own content.
	if _, err := p.src.svc.UpdateSecret(context.Background(), secrets.UpdateSecretRequest{SecretID: ids[3],
		Content: &secrets.ContentDetails{ContentType: secrets.ContentTypeBase64, Content: base64.StdEncoding.EncodeToString([]byte("v2"))}}); err != nil {
		t.Fatal(err)
	}
	p.step(t)
	if got, _ := p.read(t, ids[3]); got != "v2" {
		t.Fatalf("after the update: %q", got)
	}
	st := p.rep.Status()
	if len(st) != 1 || !st[0].Connected || st[0].Lag != 0 || st[0].Applied < int64(len(ids)) {
		t.Fatalf("status %+v", st)
	}
}

func TestResyncDeletesWhatTheSourceNoLongerNames(t *testing.T) {
	p := newPair(t)
	keep, drop := p.create(t, "keep", "v1", true), p.create(t, "drop", "v1", true)
	for range 3 {
		p.step(t)
	}
	if _, err := p.read(t, drop); err != nil {
		t.Fatal(err)
	}
	// The source stops replicating one while this region is away and
	// its cursor is lost (as when the feed's retention passes).
	if _, err := p.src.svc.UpdateSecret(context.Background(), secrets.UpdateSecretRequest{SecretID: drop, ReplicationConfig: &secrets.ReplicationConfig{}}); err != nil {
		t.Fatal(err)
	}
	if err := p.dst.st.Update(context.Background(), func(tx store.Tx) error {
		pos, err := record.Get[position](tx, stateKey("eu-a"))
		if err != nil {
			return err
		}
		pos.Cursor = "damaged-not-a-cursor"
		return record.Put(tx, stateKey("eu-a"), pos)
	}); err != nil {
		t.Fatal(err)
	}
	// A cursor the source cannot parse (only a damaged position record
	// holds one) is answered as a lost one: the next contact
	// resynchronises, without an operator.
	for range 2 {
		p.step(t)
	}
	if pos := p.position(t); pos.Resync || pos.Generation != 2 {
		t.Fatalf("position %+v", pos)
	}
	if got, err := p.read(t, keep); err != nil || got != "v1" {
		t.Fatalf("kept replica: %q, %v", got, err)
	}
	rep, err := p.dst.svc.GetSecret(context.Background(), drop)
	if err != nil || rep.LifecycleState != secrets.StateDeleted {
		t.Fatalf("dropped replica: %+v, %v", rep, err)
	}
}

func TestAnswerAppliedOnlyOnce(t *testing.T) {
	p := newPair(t)
	id := p.create(t, "s", "v1", true)
	for range 3 {
		p.step(t)
	}
	if _, err := p.src.svc.UpdateSecret(context.Background(), secrets.UpdateSecretRequest{SecretID: id,
		Content: &secrets.ContentDetails{ContentType: secrets.ContentTypeBase64, Content: base64.StdEncoding.EncodeToString([]byte("v2"))}}); err != nil {
		t.Fatal(err)
	}
	// Another node moves the position while this pull is out.
	p.tr.before = func() {
		p.tr.before = nil
		if err := p.dst.st.Update(context.Background(), func(tx store.Tx) error {
			pos, err := record.Get[position](tx, stateKey("eu-a"))
			if err != nil {
				return err
			}
			pos.Generation += 10
			return record.Put(tx, stateKey("eu-a"), pos)
		}); err != nil {
			t.Error(err)
		}
	}
	err := p.rep.Step(context.Background(), "eu-a")
	if !errors.Is(err, errMoved) {
		t.Fatalf("Step = %v, want errMoved", err)
	}
	if got, _ := p.read(t, id); got != "v1" {
		t.Fatalf("the refused answer was applied: %q", got)
	}
	p.step(t)
	if got, _ := p.read(t, id); got != "v2" {
		t.Fatalf("after the next pull: %q", got)
	}
}

func TestLateTargetAsksForTheWholeSecret(t *testing.T) {
	p := newPair(t)
	id := p.create(t, "late", "v1", false)
	for range 3 {
		p.step(t)
	}
	if _, err := p.src.svc.UpdateSecret(context.Background(), secrets.UpdateSecretRequest{SecretID: id, ReplicationConfig: p.target()}); err != nil {
		t.Fatal(err)
	}
	p.step(t) // metadata only: incomplete
	if _, err := p.read(t, id); err == nil {
		t.Fatal("replica written without its content")
	}
	p.step(t) // asked again, whole, without waiting
	if last := p.tr.pulls[len(p.tr.pulls)-1]; len(last.Resend) != 1 || last.Resend[0] != id || last.WaitSeconds != 0 {
		t.Fatalf("second pull %+v", last)
	}
	if got, err := p.read(t, id); err != nil || got != "v1" {
		t.Fatalf("replica %q, %v", got, err)
	}
	if st := p.rep.Status(); len(st[0].Failed) != 0 {
		t.Fatalf("an incomplete answer was reported as a failure: %+v", st[0].Failed)
	}
}

func TestDecodePullRequest(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	good := `{"cursor":"c","waitSeconds":30,"resend":["` + ocid.New(ocid.Secret, "x") + `"],"recipientKey":"` + key + `"}`
	if _, err := DecodePullRequest([]byte(good)); err != nil {
		t.Fatalf("good request refused: %v", err)
	}
	for name, body := range map[string]string{
		"unknown field": `{"recipientKey":"` + key + `","x":1}`,
		"trailing":      `{"recipientKey":"` + key + `"} {}`,
		"short key":     `{"recipientKey":"AAAA"}`,
		"wait":          `{"recipientKey":"` + key + `","waitSeconds":31}`,
		"negative wait": `{"recipientKey":"` + key + `","waitSeconds":-1}`,
		"resend type":   `{"recipientKey":"` + key + `","resend":["` + ocid.New(ocid.Key, "x") + `"]}`,
		"after":         `{"recipientKey":"` + key + `","after":"x"}`,
		"too many":      `{"recipientKey":"` + key + `","resend":[` + strings.Repeat(`"`+ocid.New(ocid.Secret, "x")+`",`, MaxResend) + `"` + ocid.New(ocid.Secret, "x") + `"]}`,
		"not json":      `nope`,
	} {
		if _, err := DecodePullRequest([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodePullRequest(f *testing.F) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	f.Add([]byte(`{"cursor":"c","waitSeconds":30,"recipientKey":"` + key + `"}`))
	f.Add([]byte(`{"resync":true,"after":"` + ocid.New(ocid.Secret, "x") + `","recipientKey":"` + key + `"}`))
	f.Add([]byte(`{"recipientKey":null}`))
	f.Add([]byte(`{"recipientKey":"` + key + `","vaults":[{"vaultId":"` + ocid.New(ocid.Vault, "x") + `","replicationId":"` + ocid.New(ocid.VaultReplication, "x") + `","cryptoEndpoint":"http://[::1"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodePullRequest(body)
		if err != nil {
			return
		}
		if len(req.RecipientKey) != 32 || req.WaitSeconds < 0 || len(req.Resend) > MaxResend {
			t.Fatalf("accepted out of bounds: %+v", req)
		}
	})
}
