package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/retry"
	"github.com/coffer-vault/coffer/pkg/changefeed"
	"github.com/coffer-vault/coffer/pkg/secretcache"
	"github.com/coffer-vault/coffer/pkg/securefile"
)

// Options are the agent's collaborators; the zero value uses the real
// clock, discards logs and sends action output to stderr.
type Options struct {
	// Logger receives what the agent does: secret keys, version numbers,
	// file paths, errors. Never content.
	Logger *slog.Logger
	// Retry bounds the retries of one secret read within a refresh (zero
	// fields: internal/retry's defaults). Between refreshes that failed the
	// agent backs off on its own (FailureBackoff).
	Retry secretcache.RetryOptions
	// FailureBackoff is the first wait after a refresh that failed; it
	// doubles (with jitter) per consecutive failure up to the refresh
	// interval. Default 1s.
	FailureBackoff time.Duration
	// After is the timer used between refreshes (default time.After);
	// tests replace it to step time.
	After func(time.Duration) <-chan time.Time
	// Rand returns a number in [0, 1) for jitter (default math/rand/v2).
	Rand func() float64
	// Now is the clock for the status (default time.Now).
	Now func() time.Time
	// ActionOutput receives the output of on-change commands (default
	// os.Stderr).
	ActionOutput io.Writer
	// Changes, if set, is Coffer's change feed (see NewChangeFeed): Run
	// follows it and re-renders the files of a changed secret as soon as
	// the change is reported. Without it, or when the service has no feed
	// (real OCI), the schedule alone refreshes.
	Changes changefeed.Lister
	// Follow tunes the feed's follower (zero: changefeed's defaults; its
	// Logger defaults to Logger).
	Follow changefeed.FollowOptions
}

// Agent keeps the files of a Plan up to date. Create it with New, run it
// with Run (or drive it with Refresh), stop it by cancelling Run's
// context, then Close it.
type Agent struct {
	plan  *Plan
	cache *secretcache.Cache
	log   *slog.Logger
	opts  Options
	keys  []secretcache.Key // every key the files use, once, sorted

	trigger chan struct{}

	// changed signals Run that pending holds keys reported changed by
	// the feed.
	changed chan struct{}
	pending map[secretcache.Key]bool // guarded by mu

	// cycle serialises refreshes (Run's loop and direct Refresh calls).
	cycle sync.Mutex

	mu     sync.Mutex
	last   map[secretcache.Key]secretcache.Secret // last good read per key
	status map[secretcache.Key]*KeyStatus

	// testHookWritten, if set, is called after each file write.
	testHookWritten func(path string)
	// testHookFeedStopped, if set, is called when the follower stops.
	testHookFeedStopped func(error)
}

// KeyStatus is what the agent knows of one secret version it reads.
type KeyStatus struct {
	Key       secretcache.Key
	Version   int64     // last version read; 0 before the first read
	LastRead  time.Time // last successful read
	LastError error     // the last read's error; nil after a success
	Changes   int       // version changes seen after the first read
}

// New returns an agent reading secrets from backend (the SDK's
// secrets.SecretsClient, see NewSecretsClient).
func New(plan *Plan, backend secretcache.Backend, opts Options) *Agent {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FailureBackoff <= 0 {
		opts.FailureBackoff = time.Second
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ActionOutput == nil {
		opts.ActionOutput = os.Stderr
	}
	a := &Agent{
		plan: plan,
		cache: secretcache.New(backend, secretcache.Options{
			TTL:          plan.RefreshInterval,
			RefreshAhead: -1,
			StaleGrace:   -1,
			Retry:        opts.Retry,
			Logger:       opts.Logger,
		}),
		log:     opts.Logger,
		opts:    opts,
		trigger: make(chan struct{}, 1),
		changed: make(chan struct{}, 1),
		pending: make(map[secretcache.Key]bool),
		last:    make(map[secretcache.Key]secretcache.Secret),
		status:  make(map[secretcache.Key]*KeyStatus),
	}
	seen := make(map[secretcache.Key]bool)
	for _, f := range plan.Files {
		for _, k := range f.Keys {
			if !seen[k] {
				seen[k] = true
				a.keys = append(a.keys, k)
				a.status[k] = &KeyStatus{Key: k}
			}
		}
	}
	sort.Slice(a.keys, func(i, j int) bool { return a.keys[i].String() < a.keys[j].String() })
	return a
}

// Close releases the agent's cache. Call it after Run returns.
func (a *Agent) Close() error { return a.cache.Close() }

// Trigger asks Run for a refresh now (what SIGHUP does). It never blocks;
// triggers during a refresh fold into one more refresh.
func (a *Agent) Trigger() {
	select {
	case a.trigger <- struct{}{}:
	default:
	}
}

// Run refreshes at once, then on the plan's schedule (jittered) and on
// Trigger, until ctx is cancelled. A cancelled refresh finishes the write
// in progress and runs no new action. Run returns nil on cancellation:
// failures to read secrets are logged and retried, never fatal, and the
// files keep their last good content meanwhile.
func (a *Agent) Run(ctx context.Context) error {
	var feed sync.WaitGroup
	defer feed.Wait()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	failures := 0
	for first := true; ; first = false {
		err := a.Refresh(ctx)
		if ctx.Err() != nil {
			a.log.Info("agent: stopping")
			return nil
		}
		var wait time.Duration
		if err != nil {
			failures++
			wait = a.failureWait(failures)
			a.log.Warn("agent: refresh incomplete; retrying", slog.Int("consecutive_failures", failures), slog.Duration("retry_in", wait))
		} else {
			if failures > 0 {
				a.log.Info("agent: refresh complete again", slog.Int("after_failures", failures))
			}
			failures = 0
			wait = a.jittered(a.plan.RefreshInterval)
		}
		if first && a.opts.Changes != nil {
			// Started after the first refresh: the follower's reset on
			// first contact refreshes once more, covering changes made
			// between that refresh's reads and the feed's cursor.
			feed.Add(1)
			go func() {
				defer feed.Done()
				a.follow(ctx)
			}()
		}
		timer := a.opts.After(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				a.log.Info("agent: stopping")
				return nil
			case <-a.trigger:
				a.log.Info("agent: refresh requested")
				break waiting
			case <-timer:
				break waiting
			case <-a.changed:
				// The schedule is left as it was: a change refreshes
				// only the secrets it names.
				_ = a.refresh(ctx, a.takePending())
				if ctx.Err() != nil {
					a.log.Info("agent: stopping")
					return nil
				}
			}
		}
	}
}

func (a *Agent) jittered(d time.Duration) time.Duration {
	j := a.plan.Jitter
	f := 1 + j*(2*a.opts.Rand()-1)
	return time.Duration(float64(d) * f)
}

// failureWait backs off exponentially with full jitter from
// FailureBackoff up to the refresh interval, never less than half of
// FailureBackoff so that a dead server is not hammered.
func (a *Agent) failureWait(n int) time.Duration {
	p := retry.Policy{
		BaseDelay: a.opts.FailureBackoff,
		MaxDelay:  a.plan.RefreshInterval,
		Jitter: func(d time.Duration) time.Duration {
			return time.Duration(a.opts.Rand() * float64(d))
		},
	}
	return max(p.Backoff(n), a.opts.FailureBackoff/2)
}

// ErrIncomplete is in the chain of Refresh's error when some secret could
// not be read or some file could not be rendered or written; the details
// are logged, and joined to the error, which reads
// "agent.Refresh: incomplete: " and then each failure once.
var ErrIncomplete = errors.New("incomplete")

// opRefresh names Refresh in errors; the failures below it name their own
// steps and files, so nothing is said twice.
const opRefresh errs.Op = "agent.Refresh"

// Refresh reads every secret once, rewrites the files whose content
// changed and runs their actions (each distinct action once). A file whose
// secrets are not all readable keeps its content, unless every secret it
// uses has been read before, in which case it is rendered from the last
// good versions. Cancelling ctx stops before the next file; an action is
// never started after ctx is cancelled.
func (a *Agent) Refresh(ctx context.Context) error {
	return a.refresh(ctx, nil)
}

// refresh is Refresh restricted to the keys in only, and to the files
// that use them; nil only means every key and file.
func (a *Agent) refresh(ctx context.Context, only map[secretcache.Key]bool) error {
	a.cycle.Lock()
	defer a.cycle.Unlock()
	var failed []error
	for _, k := range a.keys {
		if only != nil && !only[k] {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := a.read(ctx, k); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed = append(failed, err)
		}
	}
	type pending struct {
		action *Action
		paths  []string
	}
	var actions []*pending
	byKey := make(map[string]*pending)
	dirs := make(map[string]error) // directories checked in this refresh
	for _, f := range a.plan.Files {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if only != nil && !usesAny(f, only) {
			continue
		}
		changed, err := a.writeFile(f, dirs)
		if a.testHookWritten != nil {
			a.testHookWritten(f.Path)
		}
		if err != nil {
			failed = append(failed, err)
		}
		if !changed || f.Action == nil {
			continue
		}
		k := f.Action.actionKey()
		p := byKey[k]
		if p == nil {
			p = &pending{action: f.Action}
			byKey[k] = p
			actions = append(actions, p)
		}
		p.paths = append(p.paths, f.Path)
	}
	for _, p := range actions {
		if ctx.Err() != nil {
			a.log.Warn("agent: stopping; on-change action not run", slog.String("action", p.action.describe()), slog.String("paths", strings.Join(p.paths, ",")))
			return ctx.Err()
		}
		if err := p.action.run(a.plan.ActionTimeout, a.opts.ActionOutput); err != nil {
			a.log.Error("agent: on-change action failed", slog.String("action", p.action.describe()), slog.String("paths", strings.Join(p.paths, ",")), slog.Any("error", err))
			failed = append(failed, err)
			continue
		}
		a.log.Info("agent: on-change action done", slog.String("action", p.action.describe()), slog.String("paths", strings.Join(p.paths, ",")))
	}
	if len(failed) > 0 {
		return opRefresh.Err(fmt.Errorf("%w: %w", ErrIncomplete, errors.Join(failed...)))
	}
	return nil
}

// read refreshes one key from the service and records its version.
func (a *Agent) read(ctx context.Context, k secretcache.Key) error {
	s, err := a.cache.Refresh(ctx, k)
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.status[k]
	if err != nil {
		st.LastError = err
		a.log.Warn("agent: secret read failed; keeping the last good files",
			slog.String("secret", k.String()), slog.Int64("last_good_version", st.Version), slog.Any("error", err))
		return err
	}
	prev := st.Version
	st.LastError = nil
	st.LastRead = a.opts.Now()
	st.Version = s.VersionNumber
	a.last[k] = s
	switch {
	case prev == 0:
		a.log.Info("agent: secret read", slog.String("secret", k.String()), slog.Int64("version", s.VersionNumber))
	case prev != s.VersionNumber:
		st.Changes++
		a.log.Info("agent: secret version changed", slog.String("secret", k.String()),
			slog.Int64("version", s.VersionNumber), slog.Int64("previous_version", prev))
	default:
		a.log.Debug("agent: secret unchanged", slog.String("secret", k.String()), slog.Int64("version", s.VersionNumber))
	}
	return nil
}

// writeFile renders f from the last good versions and writes it if its
// content, mode or owner differ from what is on disk. dirs holds the
// directories already made sure of in this refresh, with their error, so
// that a directory that cannot be created is reported once, not once per
// file in it.
func (a *Agent) writeFile(f *FilePlan, dirs map[string]error) (changed bool, err error) {
	a.mu.Lock()
	secrets := make(map[string]secretcache.Secret, len(f.Keys))
	var missing []string
	for name, k := range f.Keys {
		s, ok := a.last[k]
		if !ok {
			missing = append(missing, k.String())
			continue
		}
		secrets[name] = s
	}
	a.mu.Unlock()
	if len(missing) > 0 {
		sort.Strings(missing)
		err := fmt.Errorf("file %s: not written: no version of %v read yet", f.Path, missing)
		a.log.Warn("agent: file not written: secrets not read yet", slog.String("path", f.Path), slog.String("secrets", strings.Join(missing, ",")))
		return false, err
	}
	var data []byte
	if f.raw {
		// Shared with the cache: read only.
		data = secrets[""].Bytes()
	} else {
		data, err = f.tmpl.Render(func(name string) (secretcache.Secret, bool) {
			s, ok := secrets[name]
			return s, ok
		})
		if err != nil {
			a.log.Error("agent: template failed; file left as it was", slog.String("path", f.Path), slog.Any("error", err))
			return false, fmt.Errorf("file %s: %w", f.Path, err)
		}
		defer clear(data)
	}
	dir := filepath.Dir(f.Path)
	derr, checked := dirs[dir]
	if !checked {
		derr = a.ensureDir(dir)
		dirs[dir] = derr
	}
	if derr != nil {
		return false, fmt.Errorf("file %s: %w", f.Path, derr)
	}
	changed, err = securefile.Write(f.Path, data, securefile.Options{Mode: f.Mode, Owner: f.Owner})
	if err != nil {
		// securefile's error names the file already.
		a.log.Error("agent: file write failed", slog.String("path", f.Path), slog.Bool("replaced", changed), slog.Any("error", err))
	}
	if changed {
		attrs := []slog.Attr{slog.String("path", f.Path), slog.String("mode", fmt.Sprintf("%#o", f.Mode))}
		a.log.LogAttrs(context.Background(), slog.LevelInfo, "agent: file updated", append(attrs, versionAttrs(f, secrets)...)...)
	}
	return changed, err
}

// DirMode is the mode of the output directories the agent creates.
const DirMode os.FileMode = 0o700

// ensureDir creates a missing output directory, and its missing parents,
// with DirMode: an init container or a fresh host need not prepare it,
// and no one but the agent's user can list what it holds. The failure is
// logged here, once.
func (a *Agent) ensureDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			err := fmt.Errorf("%s is not a directory", dir)
			a.log.Error("agent: output directory unusable", slog.String("path", dir), slog.Any("error", err))
			return err
		}
		return nil
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		a.log.Error("agent: cannot create output directory", slog.String("path", dir), slog.Any("error", err))
		return fmt.Errorf("create directory: %w", err)
	}
	a.log.Info("agent: directory created", slog.String("path", dir), slog.String("mode", fmt.Sprintf("%#o", DirMode)))
	return nil
}

// versionAttrs are the secrets a file was rendered from, as flat
// attributes: secret=KEY version=N for a file of one secret,
// secret.NAME=KEY version.NAME=N (by template name) for more.
func versionAttrs(f *FilePlan, secrets map[string]secretcache.Secret) []slog.Attr {
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	attrs := make([]slog.Attr, 0, 2*len(names))
	for _, name := range names {
		suffix := ""
		if len(names) > 1 {
			suffix = "." + name
		}
		attrs = append(attrs, slog.String("secret"+suffix, f.Keys[name].String()),
			slog.Int64("version"+suffix, secrets[name].VersionNumber))
	}
	return attrs
}

// Status returns what the agent knows of each secret it reads, sorted by
// key.
func (a *Agent) Status() []KeyStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]KeyStatus, 0, len(a.keys))
	for _, k := range a.keys {
		out = append(out, *a.status[k])
	}
	return out
}
