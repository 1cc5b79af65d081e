package testkit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium or Chrome binary, or returns "".
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// missing skips the test for lack of a tool, except on CI (CI=true), where
// a missing tool is a failure.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(what)
	}
	t.Skip(what)
}

// Browser starts a headless Chromium for one test and returns a context for
// its tab, limited to timeout. Without a browser the test is skipped, except
// on CI, where a missing browser is a failure.
func Browser(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		missing(t, "no chromium binary found; install chromium to run browser tests")
	}
	dir := t.TempDir()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
	)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser process
		// Helper processes can still write to the profile for a moment after
		// the browser exits; empty it before t.TempDir's own removal.
		deadline := time.Now().Add(5 * time.Second)
		for os.RemoveAll(dir) != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	})
	// The first run starts the browser; it must not carry the deadline, which
	// would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel)
	return tctx
}

// axeSource reads axe-core (npm package axe-core): from $AXE_CORE_JS, or
// from npm's global modules.
func axeSource(t testing.TB) string {
	t.Helper()
	path := os.Getenv("AXE_CORE_JS")
	if path == "" {
		if out, err := exec.Command("npm", "root", "-g").Output(); err == nil {
			path = filepath.Join(strings.TrimSpace(string(out)), "axe-core", "axe.min.js")
		}
	}
	src, err := os.ReadFile(path)
	if path == "" || err != nil {
		missing(t, "axe-core not found (npm install -g axe-core, or set AXE_CORE_JS)")
	}
	return string(src)
}

// Axe runs axe-core's WCAG 2.1 A and AA rules and its best practices on the
// page open in ctx and returns one line per violation: the rule, its help
// text and the elements that break it.
func Axe(t testing.TB, ctx context.Context) []string {
	t.Helper()
	return runAxe(t, ctx, "true")
}

// AxeSerious is Axe limited to the violations axe-core rates serious or
// critical: what a page must never have.
func AxeSerious(t testing.TB, ctx context.Context) []string {
	t.Helper()
	return runAxe(t, ctx, `v.impact === "serious" || v.impact === "critical"`)
}

// runAxe runs axe-core and keeps the violations v for which keep holds.
func runAxe(t testing.TB, ctx context.Context, keep string) []string {
	t.Helper()
	// DevTools evaluation isn't bound by the page's Content-Security-Policy,
	// so axe runs on pages that allow no inline script.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource(t)+";true")); err != nil {
		t.Fatalf("load axe-core: %v", err)
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, {runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]})
		.then(r => r.violations.filter(v => `+keep+`)
			.map(v => v.id + ": " + v.help + " [" + v.nodes.map(n => n.target.join(" ")).join(", ") + "]"))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	return v
}
