package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrBadPidFile is returned when a signal action's pid file does not hold
// a usable process id.
var ErrBadPidFile = errors.New("pid file does not hold a process id")

// actionKey identifies an action so that one action shared by several
// files that changed together runs once.
func (a *Action) actionKey() string {
	if a.Signal != nil {
		return "signal\x00" + a.Signal.PidFile + "\x00" + strings.ToUpper(a.Signal.Signal)
	}
	return "command\x00" + strings.Join(a.Command, "\x00")
}

// describe names the action for logs (the command line, or the signal and
// pid file); actions come from the configuration, never from secrets.
func (a *Action) describe() string {
	if a.Signal != nil {
		return a.Signal.Signal + " to pid in " + a.Signal.PidFile
	}
	return strings.Join(a.Command, " ")
}

// run performs the action. A command runs without a shell, with the
// agent's environment, and is killed after timeout; its output goes to
// out. The command is not tied to the agent's shutdown: once started it
// finishes (or times out), so a reload is never cut in half.
func (a *Action) run(timeout time.Duration, out io.Writer) error {
	if a.Signal != nil {
		return a.signal()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.Command[0], a.Command[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("command %s: timed out after %v", a.Command[0], timeout)
	}
	if err != nil {
		return fmt.Errorf("command %s: %w", a.Command[0], err)
	}
	return nil
}

func (a *Action) signal() error {
	sig, err := ParseSignal(a.Signal.Signal)
	if err != nil {
		return err
	}
	f, err := os.Open(a.Signal.PidFile)
	if err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return fmt.Errorf("signal: %w", err) // names the read and the file
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		// Zero and negative ids would signal process groups or every
		// process the agent may signal.
		return fmt.Errorf("signal: %s: %w", a.Signal.PidFile, ErrBadPidFile)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal: send %v to pid %d: %w", sig, pid, err)
	}
	return nil
}
