package stripepay_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// checkoutStand answers, in place of Stripe's Checkout page, every request
// the tab makes to checkout.stripe.com (nothing leaves the machine), and
// records them.
type checkoutStand struct {
	mu   sync.Mutex
	urls []string
}

func (c *checkoutStand) start(t *testing.T, ctx context.Context) {
	t.Helper()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "https://checkout.stripe.com/*"}}}); err != nil {
		t.Fatalf("intercept Checkout: %v", err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			// Pages only: chromium asks the stand for its favicon too, sometimes.
			if ev.ResourceType == network.ResourceTypeDocument {
				c.mu.Lock()
				c.urls = append(c.urls, ev.Request.URL)
				c.mu.Unlock()
			}
			_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID: ev.RequestID, ResponseCode: http.StatusOK,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}},
				Body:            []byte(`<!doctype html><html lang="en"><title>Stripe Checkout</title><h1>Pay Lanternhouse Trust</h1></html>`),
			})
		}
	}()
}

func (c *checkoutStand) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.urls...)
}

func browse(t *testing.T, ctx context.Context, what string, want int, step chromedp.Action[chromedp.Void]) {
	t.Helper()
	res, err := chromedp.RunResponse(ctx, step)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if int(res.Status) != want {
		t.Fatalf("%s: HTTP %d, want %d", what, res.Status, want)
	}
}

func axe(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if v := testkit.Axe(t, ctx); len(v) > 0 {
		t.Errorf("axe on %s:\n%s", page, strings.Join(v, "\n"))
	}
}

// A sponsor fills /sponsor-a-room in a real browser, with Gift Aid and the
// newsletter ticked, and is sent to the Checkout URL Stripe (stripe-mock)
// gave; Stripe's webhook then completes the pledge, and the declaration,
// consent row and thank-you exist exactly once. Every giving page passes
// axe-core.
func TestBrowserSponsorARoom(t *testing.T) {
	env := startGiving(t)
	ctx := testkit.Browser(t, 90*time.Second)
	stand := &checkoutStand{}
	stand.start(t, ctx)

	for _, path := range []string{"/donate", "/donate/thank-you", "/donate/cancelled", "/sponsor-a-room/manage"} {
		browse(t, ctx, path, http.StatusOK, chromedp.Navigate(env.URL+path))
		axe(t, ctx, path)
	}
	// A refused form, with its messages, is accessible too.
	browse(t, ctx, "/donate", http.StatusOK, chromedp.Navigate(env.URL+"/donate"))
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`input[name="amount"][value="other"]`)),
		chromedp.SendKeys(chromedp.CSS("#other_amount"), "ten"),
		chromedp.SendKeys(chromedp.CSS("#email"), "grace@example.org"),
	); err != nil {
		t.Fatal(err)
	}
	browse(t, ctx, "a refused donation", http.StatusBadRequest, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	axe(t, ctx, "/donate with errors")

	browse(t, ctx, "/sponsor-a-room", http.StatusOK, chromedp.Navigate(env.URL+"/sponsor-a-room"))
	axe(t, ctx, "/sponsor-a-room")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#email"), "grace@example.org"),
		chromedp.Click(chromedp.CSS(`input[name="amount"][value="5"]`)),
		chromedp.Click(chromedp.CSS(`input[name="gift_aid"]`)),
		chromedp.SendKeys(chromedp.CSS("#title"), "Dr"),
		chromedp.SendKeys(chromedp.CSS("#first_name"), "Grace"),
		chromedp.SendKeys(chromedp.CSS("#last_name"), "Hopper"),
		chromedp.SendKeys(chromedp.CSS("#house"), "7"),
		chromedp.SendKeys(chromedp.CSS("#address"), "Mill Lane\nLeeds"),
		chromedp.SendKeys(chromedp.CSS("#postcode"), "ls1 1aa"),
		chromedp.Click(chromedp.CSS(`input[name="opt_in"]`)),
	); err != nil {
		t.Fatal(err)
	}
	browse(t, ctx, "submit the sponsorship", http.StatusOK, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, "https://checkout.stripe.com/") || len(stand.seen()) != 1 || stand.seen()[0] != loc {
		t.Fatalf("the browser went to %q; Checkout saw %q", loc, stand.seen())
	}
	co := lastCheckout(t, env)
	if co.GetInt("amount_pence") != 500 || co.GetString("frequency") != vocab.PledgeWeekly || !co.GetBool("gift_aid") || !co.GetBool("opt_in") {
		t.Fatalf("checkout %v", co.PublicExport())
	}

	s := subFor(co, "week")
	now := time.Now()
	for _, ev := range [][]byte{
		event("checkout.session.completed", now, s.sessionCompleted()),
		event("invoice.paid", now, s.invoice(1, "paid", 1, nil, true)),
		event("checkout.session.completed", now, s.sessionCompleted()), // a retry
	} {
		mustDeliver(t, env, ev)
	}
	for coll, filter := range map[string]string{
		vocab.Pledges:      "status = 'active' && amount_pence = 500 && frequency = 'weekly' && reference = '" + s.subscription + "'",
		vocab.Declarations: "method = 'online' && postcode = 'LS1 1AA' && first_name = 'Grace'",
		vocab.Consents:     "method = 'giving_form' && action = 'grant'",
		vocab.Donations:    "provider = 'stripe' && amount_pence = 500",
		vocab.Supporters:   "email = 'grace@example.org'",
	} {
		if n := env.Count(t, coll, filter); n != 1 || env.Count(t, coll, "") != 1 {
			t.Errorf("%s: %d matching %q of %d, want exactly 1", coll, n, filter, env.Count(t, coll, ""))
		}
	}
	thanks := 0
	for _, m := range env.SMTP.WaitFor(t, "grace@example.org", 2, 15*time.Second) {
		if strings.Contains(m.Header.Get("Subject"), "Thank you for your donation") {
			thanks++
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := env.Count(t, vocab.Outbox, "kind = 'thank_you'"); thanks != 1 || n != 1 {
		t.Errorf("%d thank-you mails received, %d queued; want 1", thanks, n)
	}
}
