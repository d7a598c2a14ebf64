package changefeed

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/store"
)

// Limits of the long poll.
const (
	MaxWait          = 60 * time.Second
	DefaultWait      = 30 * time.Second
	MaxLimit         = 500
	DefaultPoll      = 200 * time.Millisecond
	DefaultWaiters   = 1000
	DefaultPerCaller = 8
)

const zeroEpoch = "0000000000000000"

// maxScan bounds the entries one answer checks: a caller far behind who may
// see none of them gets an empty answer with an advanced cursor at once
// rather than holding the server through the whole retention.
const maxScan = 5000

// Config wires a Feed.
type Config struct {
	// Store is the server's record cache; required.
	Store *recordcache.Cache
	// MAC keys cursors (the barrier's blind index); required.
	MAC MACFunc
	// Poll is how often a waiter rereads the head, which is how a write on
	// another node reaches it when the store's own change feed does not;
	// 0 means DefaultPoll.
	Poll time.Duration
	// MaxWaiters and MaxPerCaller bound concurrent long polls; 0 means the
	// defaults.
	MaxWaiters, MaxPerCaller int
}

// Feed serves the change feed. Changed wakes its waiters; Close ends them.
type Feed struct {
	st   *recordcache.Cache
	mac  MACFunc
	poll time.Duration

	maxAll, maxOne int

	mu     sync.Mutex
	wake   chan struct{}
	done   chan struct{}
	closed bool
	total  int
	per    map[string]int
}

// New returns a Feed.
func New(cfg Config) (*Feed, error) {
	if cfg.Store == nil || cfg.MAC == nil {
		return nil, errs.E(errs.Internal, "changefeed: Store and MAC are required")
	}
	f := &Feed{st: cfg.Store, mac: cfg.MAC, poll: cfg.Poll, maxAll: cfg.MaxWaiters, maxOne: cfg.MaxPerCaller,
		wake: make(chan struct{}), done: make(chan struct{}), per: map[string]int{}}
	if f.poll <= 0 {
		f.poll = DefaultPoll
	}
	if f.maxAll <= 0 {
		f.maxAll = DefaultWaiters
	}
	if f.maxOne <= 0 {
		f.maxOne = DefaultPerCaller
	}
	return f, nil
}

// Changed wakes the waiters when keys hold the feed's counter: this node,
// or through the store's change feed another node, committed an entry. Its
// shape is that of recordcache's change hook.
func (f *Feed) Changed(keys []string) {
	for _, k := range keys {
		if k == CounterKey {
			f.mu.Lock()
			if !f.closed {
				close(f.wake)
				f.wake = make(chan struct{})
			}
			f.mu.Unlock()
			return
		}
	}
}

// Close ends every wait at once (server shutdown or seal); later waits
// answer at once.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
}

// Waiters returns how many long polls are waiting now (for tests and
// metrics).
func (f *Feed) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

func (f *Feed) waitChan() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wake
}

func (f *Feed) acquire(caller string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.total >= f.maxAll || f.per[caller] >= f.maxOne {
		return errs.E(errs.TooManyRequests, "too many concurrent change feed requests; try again later")
	}
	f.total++
	f.per[caller]++
	return nil
}

func (f *Feed) release(caller string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.total--
	if f.per[caller]--; f.per[caller] <= 0 {
		delete(f.per, caller)
	}
}

// Query is one request of the feed.
type Query struct {
	// Cursor is where to go on from; "" asks for the current end.
	Cursor string
	// Wait bounds the long poll (0 to MaxWait).
	Wait time.Duration
	// Limit bounds the items (1 to MaxLimit; 0 means MaxLimit).
	Limit int
	// Caller names the principal for the per-caller bound.
	Caller string
	// Visible reports whether the caller may see an entry. It must not
	// record anything per entry.
	Visible func(context.Context, Entry) (bool, error)
	// Filter, when set instead of Visible, keeps the visible entries of
	// one page read at a time (a page is up to Limit entries): for
	// callers that look entries up in the store, in one read per page.
	Filter func(context.Context, []Entry) ([]Entry, error)
}

// Page is the feed's answer.
type Page struct {
	Items  []Entry
	Cursor string
	Reset  bool
	// More says entries after Cursor existed when the page was read.
	More bool
}

// Changes answers q: the visible entries after its cursor, waiting up to
// q.Wait for one to appear.
func (f *Feed) Changes(ctx context.Context, q Query) (Page, error) {
	if q.Wait < 0 || q.Wait > MaxWait {
		return Page{}, errs.E(errs.Invalid, "waitSeconds must be between 0 and 60")
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		return Page{}, errs.E(errs.Invalid, "limit must be between 1 and 500")
	}
	if q.Limit == 0 {
		q.Limit = MaxLimit
	}
	var cur Cursor
	known := false
	if q.Cursor != "" {
		var err error
		cur, known, err = ParseCursor(q.Cursor, f.mac)
		if err != nil {
			return Page{}, errs.Wrap(errs.Invalid, err, "cursor is not a cursor this feed issued")
		}
	}
	head, err := f.head(ctx)
	if err != nil {
		return Page{}, err
	}
	end := Cursor{Seq: head.Last, Epoch: head.Epoch}
	if q.Cursor == "" {
		return Page{Items: []Entry{}, Cursor: end.Encode(f.mac)}, nil
	}
	fresh := cur.Seq == 0 && cur.Epoch == zeroEpoch && head.Floor == 0
	if !known || (!fresh && cur.Epoch != head.Epoch) || cur.Seq > head.Last || cur.Seq < head.Floor {
		return Page{Items: []Entry{}, Cursor: end.Encode(f.mac), Reset: true}, nil
	}
	if q.Wait > 0 {
		if err := f.acquire(q.Caller); err != nil {
			return Page{}, err
		}
		defer f.release(q.Caller)
	}
	deadline := time.NewTimer(q.Wait)
	defer deadline.Stop()
	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	pos := cur.Seq
	epoch := head.Epoch
	for {
		wake := f.waitChan()
		head, err := f.head(ctx)
		if err != nil {
			return Page{}, err
		}
		if head.Floor > pos || (epoch != "" && head.Epoch != epoch) {
			end := Cursor{Seq: head.Last, Epoch: head.Epoch}
			return Page{Items: []Entry{}, Cursor: end.Encode(f.mac), Reset: true}, nil
		}
		epoch = head.Epoch
		var items []Entry
		scanned := 0
		for pos < head.Last && len(items) == 0 && scanned < maxScan {
			var es []Entry
			if err := f.st.View(ctx, func(r store.Reader) (err error) {
				es, err = Read(r, pos, q.Limit)
				return err
			}); err != nil {
				return Page{}, err
			}
			if len(es) == 0 {
				break
			}
			if q.Filter != nil {
				last := es[len(es)-1].Sequence
				kept, err := q.Filter(ctx, es)
				if err != nil {
					return Page{}, err
				}
				items = append(items, kept...)
				pos = last
			} else {
				for _, e := range es {
					ok, err := q.Visible(ctx, e)
					if err != nil {
						return Page{}, err
					}
					if ok {
						items = append(items, e)
					}
					pos = e.Sequence
				}
			}
			scanned += len(es)
		}
		page := Page{Items: items, Cursor: Cursor{Seq: pos, Epoch: epoch}.Encode(f.mac), More: pos < head.Last}
		if page.Items == nil {
			page.Items = []Entry{}
		}
		if len(items) > 0 || q.Wait == 0 || scanned >= maxScan {
			return page, nil
		}
		select {
		case <-wake:
		case <-tick.C:
		case <-deadline.C:
			return page, nil
		case <-f.done:
			return page, nil
		case <-ctx.Done():
			return Page{}, errs.Wrap(errs.Internal, ctx.Err(), "the change feed request ended")
		}
	}
}

func (f *Feed) head(ctx context.Context) (Head, error) {
	var h Head
	err := f.st.Read(ctx, func(r store.Reader) (err error) {
		h, err = ReadHead(r)
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return Head{}, errs.Wrap(errs.Internal, err, "reading the change feed")
	}
	return h, err
}
