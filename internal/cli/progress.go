package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress is the one line --wait-for-state keeps updated on a terminal:
// what it waits for, the state now and the time so far. Piped or
// redirected, stderr gets nothing, so scripts see only the result.
type progress struct {
	w     io.Writer
	now   func() time.Time
	start time.Time
	want  string
}

// newProgress returns the progress line, or nil when stderr is not a
// terminal.
func (g *globals) newProgress(want []string) *progress {
	if g.stderr == nil || !g.stderrTTY {
		return nil
	}
	return &progress{w: g.stderr, now: g.now, start: g.now(), want: strings.Join(want, " or ")}
}

// show rewrites the line: carriage return, erase to the end of the line.
func (p *progress) show(state string) {
	if p == nil {
		return
	}
	elapsed := p.now().Sub(p.start).Round(time.Second)
	fmt.Fprintf(p.w, "\r\x1b[KWaiting for %s: %s, %s elapsed", p.want, state, elapsed)
}

// done erases the line, leaving the terminal as it was.
func (p *progress) done() {
	if p == nil {
		return
	}
	fmt.Fprint(p.w, "\r\x1b[K")
}

// sleep waits d; on a terminal in steps of a second, so that the elapsed
// time keeps moving during a long pause.
func (p *progress) sleep(ctx context.Context, g *globals, d time.Duration, state string) error {
	if p == nil {
		return g.sleep(ctx, d)
	}
	for d > 0 {
		step := min(d, time.Second)
		if err := g.sleep(ctx, step); err != nil {
			return err
		}
		d -= step
		p.show(state)
	}
	return nil
}
