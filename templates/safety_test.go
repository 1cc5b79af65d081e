package templates_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// neutral stands in for the neutral site "Leave this site quickly" goes to,
// on loopback, and records the Referer each visit arrives with.
type neutral struct {
	*httptest.Server
	mu       sync.Mutex
	referers []string
}

func newNeutral(t *testing.T) *neutral {
	n := &neutral{}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/weather" {
			n.mu.Lock()
			n.referers = append(n.referers, r.Referer())
			n.mu.Unlock()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>Weather</title><p>Sunny intervals.</p>`))
	}))
	t.Cleanup(n.Close)
	return n
}

func (n *neutral) visits() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.referers)
}

// requests records every URL the tab asks for.
type requests struct {
	mu   sync.Mutex
	urls []string
}

func (r *requests) listen(t *testing.T, ctx context.Context) {
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			r.mu.Lock()
			r.urls = append(r.urls, e.Request.URL)
			r.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// offLoopback lists the requested URLs whose host isn't 127.0.0.1.
func (r *requests) offLoopback() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.urls {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "data" && u.Hostname() != "127.0.0.1") {
			out = append(out, s)
		}
	}
	return out
}

func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open navigates to url and checks the status and the safety headers.
func open(t *testing.T, ctx context.Context, url string, want int) {
	t.Helper()
	res, err := chromedp.RunResponse(ctx, chromedp.Navigate(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if int(res.Status) != want {
		t.Fatalf("open %s: HTTP %d, want %d", url, res.Status, want)
	}
	h := http.Header{}
	for k, v := range res.Headers {
		if s, ok := v.(string); ok {
			h.Set(k, s)
		}
	}
	if got := h.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q, want no-referrer", url, got)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "https:") {
		t.Errorf("%s: Content-Security-Policy %q lets the page load from other sites", url, csp)
	}
}

// waitFor waits until the tab shows want.
func waitFor(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	var at string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if at = run(t, ctx, "location", chromedp.Location()); at == want {
			return
		}
	}
	t.Fatalf("the tab is at %s, want %s", at, want)
}

// escapeArmed reports whether leave.js has bound the Escape key.
func escapeArmed(t *testing.T, ctx context.Context) bool {
	t.Helper()
	return run(t, ctx, "leave.js ran", chromedp.Evaluate[bool](`document.getElementById("leave-site").hasAttribute("aria-keyshortcuts")`))
}

func historyLength(t *testing.T, ctx context.Context) int {
	t.Helper()
	return run(t, ctx, "history.length", chromedp.Evaluate[int](`history.length`))
}

// Every public page shows the charity's referral lines as tap-to-call links
// and a quick way out to a neutral site, tells no other site where the
// visitor was, loads nothing from anywhere but this app, and passes axe.
func TestPublicPagesSafety(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	site := newNeutral(t)
	leaveURL := site.URL + "/weather"

	// Lines and a neutral site of the test's own, so the pages can only show
	// them by reading the charity record.
	ch, err := env.App.FindFirstRecordByFilter(vocab.Charity, "")
	if err != nil {
		t.Fatal(err)
	}
	ch.Set("help_lines", []map[string]string{
		{"name": "Test referral line", "number": "0300 000 1111", "hours": "24 hours a day", "url": site.URL + "/line"},
		{"name": "Second test line", "number": "+44 20 7946 0000", "hours": "", "url": ""},
	})
	ch.Set("leave_url", leaveURL)
	if err := env.App.Save(ch); err != nil {
		t.Fatal(err)
	}
	wantTel := []string{"tel:+443000001111", "tel:+442079460000"}

	sup := core.NewRecord(testkit.Collection(t, env.App, vocab.Supporters))
	sup.Set("email", "ada.safety@example.org")
	sup.Set("status", vocab.StatusSubscribed)
	if err := env.App.Save(sup); err != nil {
		t.Fatal(err)
	}
	// An event whose picture is on Facebook's servers: the page must not
	// fetch it (Facebook would learn who reads it).
	ev := core.NewRecord(testkit.Collection(t, env.App, vocab.Events))
	ev.Load(map[string]any{"name": "Sleep-out", "source": vocab.SourceManual, "start": time.Now().Add(48 * time.Hour),
		"cover_url": "https://scontent.xx.fbcdn.net/v/cover.jpg"})
	if err := env.App.Save(ev); err != nil {
		t.Fatal(err)
	}
	signer := testkit.Signer(t)
	pages := []struct {
		name, path string
		status     int
	}{
		{"signup", "/", http.StatusOK},
		{"confirm result", "/confirm?token=bad", http.StatusBadRequest},
		{"unsubscribe", "/unsubscribe?token=" + signer.Sign(tokens.Unsubscribe, sup.Id, time.Hour), http.StatusOK},
		{"preferences", "/preferences?token=" + signer.Sign(tokens.Preferences, sup.Id, time.Hour), http.StatusOK},
		{"events", "/events", http.StatusOK},
		{"gift aid", "/gift-aid?token=" + signer.Sign(tokens.GiftAid, sup.Id, time.Hour), http.StatusOK},
		{"gift aid result", "/gift-aid?token=bad", http.StatusBadRequest},
		{"embed", "/embed", http.StatusOK},
	}

	ctx := testkit.Browser(t, 60*time.Second)
	var reqs requests
	reqs.listen(t, ctx)
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			open(t, ctx, env.URL+p.path, p.status)
			block := run(t, ctx, "help block", chromedp.Evaluate[string](`document.querySelector("aside.help")?.innerText ?? ""`))
			for _, s := range []string{"Need help now?", "Test referral line", "0300 000 1111", "24 hours a day", "Second test line", "+44 20 7946 0000"} {
				if !strings.Contains(block, s) {
					t.Errorf("the help block lacks %q:\n%s", s, block)
				}
			}
			tels := run(t, ctx, "tel: links", chromedp.Evaluate[[]string](`[...document.querySelectorAll("aside.help a[href^='tel:']")].map(a => a.getAttribute("href")).filter(h => h !== "tel:999")`))
			if !slices.Equal(tels, wantTel) {
				t.Errorf("tel: links %q, want %q", tels, wantTel)
			}
			leave := run(t, ctx, "leave link", chromedp.Evaluate[[]string](`(() => {
				const a = document.getElementById("leave-site");
				const first = document.querySelector("a[href], button, input:not([type=hidden]), select, textarea");
				return a ? [a.href, a.innerText.trim(), String(first === a)] : [];
			})()`))
			if !slices.Equal(leave, []string{leaveURL, "Leave this site quickly", "true"}) {
				t.Errorf("leave link (href, text, first to focus) = %q", leave)
			}
			if !escapeArmed(t, ctx) {
				t.Error("leave.js didn't run (is it served, and allowed by the CSP?)")
			}
			if v := testkit.Axe(t, ctx); len(v) > 0 {
				t.Errorf("axe-core: %d violations:\n%s", len(v), strings.Join(v, "\n"))
			}
		})
	}

	t.Run("Escape leaves without a history entry", func(t *testing.T) {
		open(t, ctx, env.URL+"/", http.StatusOK)
		before, visits := historyLength(t, ctx), len(site.visits())
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Escape)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, leaveURL)
		if after := historyLength(t, ctx); after != before {
			t.Errorf("history.length %d after leaving, %d before: Back would show the page", after, before)
		}
		if got := site.visits(); len(got) != visits+1 || got[visits] != "" {
			t.Errorf("neutral site visits %q: want one more, with no Referer", got)
		}
	})

	t.Run("the link leaves without a history entry", func(t *testing.T) {
		open(t, ctx, env.URL+"/events", http.StatusOK)
		before := historyLength(t, ctx)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("leave-site"))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, leaveURL)
		if after := historyLength(t, ctx); after != before {
			t.Errorf("history.length %d after leaving, %d before", after, before)
		}
	})

	if off := reqs.offLoopback(); len(off) > 0 {
		t.Errorf("the pages asked for %d things from outside this machine: %q", len(off), off)
	}
}

// Without JavaScript the quick exit is a plain link, and the lines show.
func TestLeaveWithoutJavaScript(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	site := newNeutral(t)
	ch, err := env.App.FindFirstRecordByFilter(vocab.Charity, "")
	if err != nil {
		t.Fatal(err)
	}
	ch.Set("leave_url", site.URL+"/weather")
	if err := env.App.Save(ch); err != nil {
		t.Fatal(err)
	}
	ctx := testkit.Browser(t, 30*time.Second)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	open(t, ctx, env.URL+"/", http.StatusOK)
	// The seeded lines, as the migration wrote them.
	tels := run(t, ctx, "tel: links", chromedp.Evaluate[[]string](`[...document.querySelectorAll("aside.help a[href^='tel:']")].map(a => a.getAttribute("href") + " " + a.innerText)`))
	if !slices.Equal(tels, []string{"tel:999 999", "tel:+443003038151 0300 303 8151", "tel:+448447782406 0844 778 2406"}) {
		t.Errorf("seeded tel: links %q", tels)
	}
	if escapeArmed(t, ctx) {
		t.Fatal("leave.js ran with JavaScript disabled")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("leave-site"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, site.URL+"/weather")
	if got := site.visits(); len(got) != 1 || got[0] != "" {
		t.Errorf("neutral site visits %q: want one, with no Referer", got)
	}
}
