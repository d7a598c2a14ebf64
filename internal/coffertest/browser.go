package coffertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Browser starts a headless Chromium (Debian's `chromium`, or
// `chromium-browser`) and returns a chromedp context for one tab in it; the
// tab and the browser end with the test, and what Chromium printed is logged
// if the test failed. Without Chromium the test skips, or fails when
// COFFER_REQUIRE_CHROMIUM=1 (scripts/test sets it and installs Chromium).
//
// The context has no deadline: the first action on a chromedp context binds
// the browser's life to it, so callers put their timeout on a context
// derived from this one.
func Browser(t testing.TB) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("COFFER_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("COFFER_REQUIRE_CHROMIUM=1 but neither chromium nor chromium-browser is on PATH")
		}
		t.Skip("chromium not on PATH (apt-get install chromium; set COFFER_REQUIRE_CHROMIUM=1 to make this a failure)")
	}
	out := &SyncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.CombinedOutput(out),
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start as root with its sandbox on: the
		// sandbox works by dropping privileges, and root has nothing to
		// drop to (scripts/test runs as root on a fresh machine). The
		// pages it opens here are the test's own server's.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		if t.Failed() && out.String() != "" {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return ctx
}
