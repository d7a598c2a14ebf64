package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/storetest"
)

// testDSN returns the test server's DSN, or skips the test when none is
// configured, unless COFFER_REQUIRE_POSTGRES=1 says a skip would hide a
// missing server (CI sets both; see testdata/start-postgres.sh).
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("COFFER_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("COFFER_REQUIRE_POSTGRES") == "1" {
			t.Fatal("COFFER_REQUIRE_POSTGRES=1 but COFFER_TEST_POSTGRES_DSN is not set")
		}
		t.Skip("COFFER_TEST_POSTGRES_DSN not set; start a server with testdata/start-postgres.sh")
	}
	return dsn
}

// freshSchema creates an empty schema for one test, drops it afterwards, and
// returns a pool configuration whose search_path points at it, so tests
// never see each other's data.
func freshSchema(t testing.TB) *pgxpool.Config {
	t.Helper()
	dsn := testDSN(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to test server: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "coffer_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping %s: %v", schema, err)
		}
		admin.Close(ctx)
	})
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

func open(t testing.TB, cfg *pgxpool.Config) *postgres.Store {
	t.Helper()
	s, err := postgres.OpenConfig(context.Background(), cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, freshSchema(t)) })
}

func TestReopenAndSchemaTooNew(t *testing.T) {
	cfg := freshSchema(t)
	ctx := context.Background()
	s := open(t, cfg)
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, cfg) // migrations already applied: a no-op
	err := s.View(ctx, func(r store.Reader) error {
		v, err := r.Get("k")
		if err == nil && string(v) != "v" {
			err = fmt.Errorf("Get = %q", v)
		}
		return err
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.OpenConfig(ctx, cfg.Copy())
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer database = %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenDoesNotLeakPassword(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:s3cret-pw@[bad")
	if err == nil {
		t.Fatal("Open accepted a malformed DSN")
	}
	if got := err.Error(); contains(got, "s3cret-pw") {
		t.Fatalf("error %q contains the password", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func BenchmarkGet(b *testing.B) {
	s := open(b, freshSchema(b))
	defer s.Close()
	ctx := context.Background()
	const n = 100_000
	value := make([]byte, 512)
	for start := 0; start < n; start += 10_000 {
		err := s.Update(ctx, func(tx store.Tx) error {
			for i := start; i < start+10_000; i++ {
				if err := tx.Put(fmt.Sprintf("secret/%08d/bundle", i), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			key := fmt.Sprintf("secret/%08d/bundle", (i*7919)%n)
			i++
			if err := s.View(ctx, func(r store.Reader) error { _, err := r.Get(key); return err }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	s := open(b, freshSchema(b))
	defer s.Close()
	ctx := context.Background()
	value := make([]byte, 512)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("secret/%08d/bundle", i)
		i++
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(key, value) }); err != nil {
			b.Fatal(err)
		}
	}
}

// feedBound is how soon a change feed must report a commit or a lost
// connection: the record cache's promise to readers on other nodes.
const feedBound = time.Second

// event is one call on a ChangeWatcher: "changed" with keys, "lost" or "live".
type event struct {
	kind string
	keys []string
}

func (e event) String() string {
	if e.kind != "changed" {
		return e.kind
	}
	short := make([]string, len(e.keys))
	for i, k := range e.keys {
		if len(k) > 40 {
			k = k[:40] + "..."
		}
		short[i] = k
	}
	return fmt.Sprintf("changed%q", short)
}

func (e event) is(want event) bool { return e.kind == want.kind && slices.Equal(e.keys, want.keys) }

// recorder is a store.ChangeWatcher that queues what it is told.
type recorder struct{ events chan event }

func (r *recorder) Changed(keys []string) { r.events <- event{"changed", slices.Clone(keys)} }
func (r *recorder) Lost()                 { r.events <- event{kind: "lost"} }
func (r *recorder) Live()                 { r.events <- event{kind: "live"} }

// next returns the next event, failing the test if none comes within d.
func (r *recorder) next(t *testing.T, d time.Duration) event {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(d):
		t.Fatalf("no change feed event within %v", d)
		return event{}
	}
}

// expect fails the test unless the next event, within d, is want.
func (r *recorder) expect(t *testing.T, d time.Duration, want event) {
	t.Helper()
	if got := r.next(t, d); !got.is(want) {
		t.Fatalf("change feed: got %v, want %v", got, want)
	}
}

// quiet fails the test if any event comes within d.
func (r *recorder) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-r.events:
		t.Fatalf("change feed: unexpected %v", e)
	case <-time.After(d):
	}
}

func changed(keys ...string) event { return event{"changed", keys} }

var (
	lost = event{kind: "lost"}
	live = event{kind: "live"}
)

// follow starts node.Follow with a recorder, waits until it is live, and
// at cleanup stops it and checks that it returned ctx's error after a last
// Lost.
func follow(t *testing.T, node *postgres.Store) *recorder {
	t.Helper()
	r := &recorder{events: make(chan event, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Follow(ctx, r) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Follow returned %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Follow did not return after its context ended")
		}
		var last event
		for len(r.events) > 0 {
			last = <-r.events
		}
		if last.kind != "lost" && !t.Failed() {
			t.Errorf("last event before Follow returned: %v, want lost", last)
		}
	})
	r.expect(t, 5*time.Second, lost)
	r.expect(t, 5*time.Second, live)
	return r
}

// nodes opens two Stores on one fresh schema, as two server nodes would,
// closed at cleanup. Each connects with its own application_name, returned
// for finding its backends in pg_stat_activity.
func nodes(t *testing.T, cfg *pgxpool.Config) (a, b *postgres.Store, appB string) {
	t.Helper()
	var rnd [6]byte
	rand.Read(rnd[:])
	appB = "coffer-test-b-" + hex.EncodeToString(rnd[:])
	cfgB := cfg.Copy()
	cfgB.ConnConfig.RuntimeParams["application_name"] = appB
	a, b = open(t, cfg), open(t, cfgB)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, appB
}

func put(t *testing.T, s *postgres.Store, keys ...string) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.Put(k, []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestChangeFeed(t *testing.T) {
	cfg := freshSchema(t)
	a, b, _ := nodes(t, cfg)
	feed := follow(t, b)
	ctx := context.Background()
	update := func(fn func(store.Tx) error) error { return a.Update(ctx, fn) }

	put(t, a, "secret/1")
	feed.expect(t, feedBound, changed("secret/1"))

	if err := update(func(tx store.Tx) error { return tx.Delete("secret/1") }); err != nil {
		t.Fatal(err)
	}
	feed.expect(t, feedBound, changed("secret/1"))

	// Several keys, some written twice: one notification, each key once.
	err := update(func(tx store.Tx) error {
		return errors.Join(tx.Put("m/2", nil), tx.Put("m/1", nil), tx.Delete("m/2"), tx.Delete("m/3"), tx.Put("m/1", []byte("x")))
	})
	if err != nil {
		t.Fatal(err)
	}
	feed.expect(t, feedBound, changed("m/2", "m/1", "m/3"))

	// Keys with the characters the payload escapes or uses.
	odd := []string{"k", "*", "a\nb", "100%", "%0A", "ключ/秘密/😀", "tab\there", strings.Repeat("\x01", store.MaxKeyLen)}
	put(t, a, odd...)
	feed.expect(t, feedBound, changed(odd...))

	// This node's own writes are reported too.
	put(t, b, "by/b")
	feed.expect(t, feedBound, changed("by/b"))

	// Nothing for an Update that wrote nothing, one that failed, a View, or
	// a write refused before reaching the database; the write that follows
	// is the next thing reported.
	if err := update(func(tx store.Tx) error { _, err := tx.Get("m/1"); return err }); err != nil {
		t.Fatal(err)
	}
	errRollback := errors.New("roll back")
	if err := update(func(tx store.Tx) error {
		if err := tx.Put("rolled/back", nil); err != nil {
			return err
		}
		return errRollback
	}); !errors.Is(err, errRollback) {
		t.Fatalf("Update = %v, want %v", err, errRollback)
	}
	if err := a.View(ctx, func(r store.Reader) error { _, err := r.List("", "", 0); return err }); err != nil {
		t.Fatal(err)
	}
	if err := update(func(tx store.Tx) error { return tx.Put("", nil) }); !errors.Is(err, postgres.ErrInvalidKey) {
		t.Fatalf("Put of an empty key = %v", err)
	}
	put(t, a, "marker/1")
	feed.expect(t, feedBound, changed("marker/1"))

	// A transaction retried after a serialization failure: only the
	// attempt that committed is reported.
	attempts := 0
	err = update(func(tx store.Tx) error {
		attempts++
		if err := tx.Put(fmt.Sprintf("attempt/%d", attempts), nil); err != nil {
			return err
		}
		if attempts == 1 {
			// A concurrent commit of "race" after this transaction's snapshot.
			put(t, a, "race")
		}
		return tx.Put("race", []byte("mine"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("Update ran fn %d times, want 2 (a serialization failure, then success)", attempts)
	}
	feed.expect(t, feedBound, changed("race"))
	feed.expect(t, feedBound, changed("attempt/2", "race"))
	put(t, a, "marker/2")
	feed.expect(t, feedBound, changed("marker/2"))

	// Keys that need several notifications: each names some of them, all
	// together name every key once.
	var many []string
	for i := range 400 {
		many = append(many, fmt.Sprintf("secret/ocid1.vaultsecret.oc1.iad.%032d/bundle", i))
	}
	put(t, a, many...)
	var got []string
	for len(got) < len(many) {
		e := feed.next(t, feedBound)
		if e.kind != "changed" {
			t.Fatalf("change feed: got %v, want changed", e)
		}
		got = append(got, e.keys...)
	}
	if !slices.Equal(got, many) {
		t.Fatalf("400 keys reported as %d keys, not the same", len(got))
	}
	put(t, a, "marker/3")
	feed.expect(t, feedBound, changed("marker/3"))

	// Too many to name: everything may have changed.
	var huge []string
	for i := range 2000 {
		huge = append(huge, fmt.Sprintf("secret/ocid1.vaultsecret.oc1.iad.%032d/version/1", i))
	}
	put(t, a, huge...)
	feed.expect(t, feedBound, lost)
	feed.expect(t, feedBound, live)
	put(t, a, "marker/4")
	feed.expect(t, feedBound, changed("marker/4"))
}

// TestChangeFeedSchemas checks that deployments in two schemas of one
// database do not hear each other.
func TestChangeFeedSchemas(t *testing.T) {
	other := open(t, freshSchema(t))
	t.Cleanup(func() { other.Close() })
	a, b, _ := nodes(t, freshSchema(t))
	feed := follow(t, b)
	put(t, other, "other/schema")
	put(t, a, "this/schema")
	feed.expect(t, feedBound, changed("this/schema"))
	feed.quiet(t, 100*time.Millisecond)
}

// TestChangeFeedTerminated kills node B's backends, the listening one among
// them: B reports Lost at once and Live again after reconnecting, and then
// reports commits again. A commit made while B reconnects is reported or,
// when it came before LISTEN, preceded by Lost.
func TestChangeFeedTerminated(t *testing.T) {
	cfg := freshSchema(t)
	a, b, appB := nodes(t, cfg)
	feed := follow(t, b)
	ctx := context.Background()
	admin, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	for round := range 2 {
		rows, _ := admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, appB)
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) == 0 {
			t.Fatal("no backend of node B to terminate")
		}
		for _, pid := range pids {
			if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
				t.Fatal(err)
			}
		}
		killed := len(pids)
		start := time.Now()
		feed.expect(t, feedBound, lost)
		t.Logf("round %d: %d backends terminated, Lost after %v", round, killed, time.Since(start))
		during := fmt.Sprintf("during/%d", round)
		put(t, a, during)
		feed.expect(t, 5*time.Second, live)
		after := fmt.Sprintf("after/%d", round)
		put(t, a, after)
		e := feed.next(t, feedBound)
		if e.is(changed(during)) {
			e = feed.next(t, feedBound)
		}
		if !e.is(changed(after)) {
			t.Fatalf("after reconnecting: got %v, want %v", e, changed(after))
		}
	}
}

// TestChangeFeedSilentDeath cuts node B off from the database without a
// word, as a partition would: B must notice within the bound by its pings,
// stay not live while it cannot reconnect (so what is committed meanwhile
// is covered by Lost), and be live again once it can.
func TestChangeFeedSilentDeath(t *testing.T) {
	cfg := freshSchema(t)
	p := newProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	cfgB := cfg.Copy()
	cfgB.ConnConfig.Host, cfgB.ConnConfig.Port = p.host, p.port
	cfgB.ConnConfig.Fallbacks = nil
	a := open(t, cfg)
	b := open(t, cfgB)
	t.Cleanup(func() { a.Close(); b.Close() })
	feed := follow(t, b)

	put(t, a, "before")
	feed.expect(t, feedBound, changed("before"))

	p.cut()
	start := time.Now()
	put(t, a, "during/1")
	feed.expect(t, feedBound, lost)
	t.Logf("Lost %v after the cut", time.Since(start))
	put(t, a, "during/2")
	feed.quiet(t, 500*time.Millisecond) // not live while it cannot connect

	p.restore()
	feed.expect(t, 5*time.Second, live)
	put(t, a, "after")
	feed.expect(t, feedBound, changed("after"))
}

// TestFollowEndsAtClose checks that closing the Store ends Follow.
func TestFollowEndsAtClose(t *testing.T) {
	s := open(t, freshSchema(t))
	r := &recorder{events: make(chan event, 10)}
	done := make(chan error, 1)
	go func() { done <- s.Follow(context.Background(), r) }()
	r.expect(t, 5*time.Second, lost)
	r.expect(t, 5*time.Second, live)
	s.Close()
	r.expect(t, feedBound, lost)
	select {
	case err := <-done:
		if !errors.Is(err, postgres.ErrClosed) {
			t.Fatalf("Follow after Close = %v, want ErrClosed", err)
		}
	case <-time.After(feedBound):
		t.Fatal("Follow did not return after Close")
	}
}

// proxy forwards TCP connections to the database. cut makes every open
// connection a black hole (bytes in both directions are read and dropped,
// nothing is closed) and refuses new ones until restore.
type proxy struct {
	host   string
	port   uint16
	target string
	ln     net.Listener

	mu    sync.Mutex
	down  bool
	conns []*proxied
	wg    sync.WaitGroup
}

type proxied struct {
	client, server net.Conn
	dead           atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	p := &proxy{host: addr.IP.String(), port: uint16(addr.Port), target: target, ln: ln}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.client.Close()
			c.server.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxied{client: client, server: server}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		p.wg.Add(2)
		go c.pipe(&p.wg, client, server)
		go c.pipe(&p.wg, server, client)
	}
}

// pipe copies src to dst until either fails; once c is dead it drops what
// it reads instead.
func (c *proxied) pipe(wg *sync.WaitGroup, src, dst net.Conn) {
	defer wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.dead.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !c.dead.Load() {
				c.client.Close()
				c.server.Close()
			}
			return
		}
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.dead.Store(true)
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func TestReplayLedgerConformance(t *testing.T) {
	storetest.RunReplayLedger(t, func(t *testing.T) store.ReplayLedger {
		s := open(t, freshSchema(t))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestReplayLedgerShared: two nodes on one schema share the ledger.
func TestReplayLedgerShared(t *testing.T) {
	a, b, _ := nodes(t, freshSchema(t))
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	id := [32]byte{1, 2, 3}
	if ok, err := a.Claim(ctx, id, now.Add(5*time.Minute), now); !ok || err != nil {
		t.Fatalf("Claim on a = %v, %v", ok, err)
	}
	if ok, err := b.Claim(ctx, id, now.Add(5*time.Minute), now); ok || err != nil {
		t.Fatalf("Claim on b of the id a holds = %v, %v; want false", ok, err)
	}
}
