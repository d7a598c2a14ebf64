package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// TestMain doubles as the baseline server: TestLoadTable re-runs the test
// binary with baselineEnv set, so the baseline is a process of its own,
// like the Coffer server it is compared with.
func TestMain(m *testing.M) {
	if spec := os.Getenv(baselineEnv); spec != "" {
		if err := serveBaseline(spec, os.Getenv(baselineEnv+"_ADDR")); err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}
