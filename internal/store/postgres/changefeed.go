package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/internal/keyspace"
)

var _ store.ChangeFeed = (*Store)(nil)

// ErrClosed is returned by Follow when the Store is closed while it follows.
var ErrClosed = errors.New("postgres: store closed")

// Notification payloads. PostgreSQL refuses a payload of 8000 bytes or more;
// a transaction whose keys do not fit in maxNotifications payloads sends
// payloadAll instead, which Follow reports as Lost then Live.
const (
	maxPayload       = 7900
	maxNotifications = 8
	payloadAll       = "*"
	// payloadKeys starts a list of keys: each key follows as "\n" and the
	// key escaped by escapeKey.
	payloadKeys = "k"
)

// sqlNotify sends every payload of one transaction in one statement, so the
// change feed costs a writing transaction one round trip.
const sqlNotify = `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`

// Follow timing. A connection that dies without a word is noticed within
// followWait + followPing (650 ms), inside the 1 s the record cache counts on.
const (
	followWait    = 250 * time.Millisecond // silence after which the listener pings
	followPing    = 400 * time.Millisecond // how long a ping may take
	followConnect = 5 * time.Second        // connecting and LISTEN
	followClose   = 250 * time.Millisecond // the polite goodbye on a failed connection
	followRetry   = 50 * time.Millisecond  // first reconnect delay, doubling ...
	followMaxWait = time.Second            // ... up to this
)

// channelFor names the NOTIFY channel of the kv table in schema:
// "coffer:" and the schema, or, when that is longer than an identifier may
// be (63 bytes), "coffer#" and a hash of the schema.
func channelFor(schema string) string {
	const maxIdentifier = 63 // NAMEDATALEN - 1 in a default build
	if c := "coffer:" + schema; len(c) <= maxIdentifier {
		return c
	}
	sum := sha256.Sum256([]byte(schema))
	return "coffer#" + hex.EncodeToString(sum[:16])
}

// Follow reports the commits of every node sharing the database (this one
// included) to w until ctx ends or the Store is closed, as store.ChangeFeed
// describes. It holds one connection of its own, outside the pool, made
// from the pool's configuration (its BeforeConnect and AfterConnect hooks
// included), and LISTENs on the schema's channel. When no notification came
// for followWait it pings; a ping that fails or takes longer than followPing,
// or any other error, makes it call w.Lost at once and reconnect, with a
// jittered delay doubling from 50 ms to 1 s, calling w.Live only after LISTEN
// succeeded again. Follow calls w.Lost first and last, and returns ctx.Err()
// or ErrClosed.
func (s *Store) Follow(ctx context.Context, w store.ChangeWatcher) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()

	w.Lost()
	delay := followRetry
	for {
		if s.listen(ctx, w) {
			delay = followRetry
		}
		timer := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			timer.Stop()
			if err := parent.Err(); err != nil {
				return err
			}
			return ErrClosed
		case <-timer.C:
		}
		delay = min(2*delay, followMaxWait)
	}
}

// listen connects, LISTENs and reports notifications to w until the
// connection fails or ctx ends. Once listening it calls w.Live, and w.Lost
// before it returns. healthy reports whether the connection proved itself
// (a notification arrived or a ping came back), which resets Follow's
// reconnect delay.
func (s *Store) listen(ctx context.Context, w store.ChangeWatcher) (healthy bool) {
	conn, err := s.listenConn(ctx)
	if err != nil {
		return false
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), followClose)
		conn.Close(cctx)
		cancel()
	}()
	w.Live()
	defer w.Lost() // before the close, which may take followClose
	for {
		wctx, cancel := context.WithTimeout(ctx, followWait)
		n, err := conn.WaitForNotification(wctx)
		silent := wctx.Err() != nil
		cancel()
		if n != nil {
			healthy = true
			s.deliver(w, n)
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil || !silent {
			return healthy
		}
		pctx, cancel := context.WithTimeout(ctx, followPing)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return healthy
		}
		healthy = true
	}
}

// listenConn opens the listening connection.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, followConnect)
	defer cancel()
	cfg := s.pool.Config()
	cc := cfg.ConnConfig
	cc.OnNotification = nil // pgx then buffers notifications for WaitForNotification
	if cfg.BeforeConnect != nil {
		if err := cfg.BeforeConnect(ctx, cc); err != nil {
			return nil, err
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, err
	}
	if cfg.AfterConnect != nil {
		err = cfg.AfterConnect(ctx, conn)
	}
	if err == nil {
		_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize())
	}
	if err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

// deliver reports one notification: its keys, or, for payloadAll and
// anything it cannot read (a newer Coffer's format, say), that changes may
// have been missed.
func (s *Store) deliver(w store.ChangeWatcher, n *pgconn.Notification) {
	if n.Channel != s.channel {
		return
	}
	if keys, ok := decodePayload(n.Payload); ok {
		w.Changed(keys)
		return
	}
	w.Lost()
	w.Live()
}

// changes collects the keys one transaction wrote, for its notifications.
type changes struct {
	escaped []string            // escaped keys, deduplicated, in order of first write
	seen    map[string]struct{} // escaped's keys, once a scan would cost
	size    int                 // bytes the keys take in payloads, separators included
	all     bool                // too many to name: send payloadAll
}

// seenAfter is the length of changes.escaped from which a map finds
// duplicates.
const seenAfter = 16

func (c *changes) add(key string) {
	if c == nil || c.all { // nil: a View's (refused) write
		return
	}
	e := escapeKey(key)
	if c.seen != nil {
		if _, dup := c.seen[e]; dup {
			return
		}
		c.seen[e] = struct{}{}
	} else if slices.Contains(c.escaped, e) {
		return
	}
	c.escaped = append(c.escaped, e)
	if c.seen == nil && len(c.escaped) > seenAfter {
		c.seen = make(map[string]struct{}, 2*len(c.escaped))
		for _, k := range c.escaped {
			c.seen[k] = struct{}{}
		}
	}
	c.size += 1 + len(e)
	if c.size > maxNotifications*maxPayload {
		// Certainly more than maxNotifications payloads: stop collecting.
		*c = changes{all: true}
	}
}

// payloads returns the notification payloads naming the collected keys, each
// shorter than maxPayload, or payloadAll alone when they need more than
// maxNotifications, or nothing when no key was written.
func (c *changes) payloads() []string {
	if c.all {
		return []string{payloadAll}
	}
	if len(c.escaped) == 0 {
		return nil
	}
	var (
		out []string
		b   strings.Builder
	)
	for _, e := range c.escaped {
		if b.Len() > 0 && b.Len()+1+len(e) > maxPayload {
			if len(out) == maxNotifications-1 {
				return []string{payloadAll}
			}
			out = append(out, b.String())
			b = strings.Builder{}
		}
		if b.Len() == 0 {
			b.Grow(min(maxPayload, c.size+len(payloadKeys)))
			b.WriteString(payloadKeys)
		}
		b.WriteByte('\n')
		b.WriteString(e)
	}
	return append(out, b.String())
}

// decodePayload reads a payloadKeys payload. ok is false for payloadAll and
// for anything malformed.
func decodePayload(p string) (keys []string, ok bool) {
	rest, found := strings.CutPrefix(p, payloadKeys+"\n")
	if !found {
		return nil, false
	}
	keys = strings.Split(rest, "\n")
	for i, e := range keys {
		k, ok := unescapeKey(e)
		if !ok || keyspace.CheckKey(k) != nil {
			return nil, false
		}
		keys[i] = k
	}
	return keys, true
}

const hexDigits = "0123456789ABCDEF"

// escapeKey writes '%', control characters, DEL and each byte of a non-ASCII
// character as %XX. The result is printable ASCII, so it holds no newline and
// its length is the same in any server encoding.
func escapeKey(key string) string {
	n := 0
	for i := 0; i < len(key); i++ {
		if needsEscape(key[i]) {
			n++
		}
	}
	if n == 0 {
		return key
	}
	b := make([]byte, 0, len(key)+2*n)
	for i := 0; i < len(key); i++ {
		if c := key[i]; needsEscape(c) {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&0xf])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func needsEscape(c byte) bool { return c < 0x20 || c >= 0x7f || c == '%' }

// unescapeKey undoes escapeKey; ok is false for a malformed escape or a byte
// escapeKey would have escaped.
func unescapeKey(s string) (key string, ok bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if needsEscape(c) {
				return "", false
			}
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		b = append(b, byte(hi<<4|lo))
		i += 2
	}
	return string(b), true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}
