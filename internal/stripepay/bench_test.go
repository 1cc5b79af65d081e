package stripepay_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// openCheckout writes a checkout as the sponsorship form leaves it (Gift
// Aid and newsletter ticked), without asking stripe-mock for a session.
func openCheckout(b *testing.B, env *testkit.Env, n int) sub {
	b.Helper()
	co := core.NewRecord(testkit.Collection(b, env.App, vocab.Checkouts))
	co.Load(map[string]any{"session": fmt.Sprintf("cs_bench_%d", n), "form": "sponsor", "frequency": vocab.PledgeWeekly, "amount_pence": 500,
		"email": fmt.Sprintf("bench%d@example.org", n), "first_name": "Grace", "last_name": "Hopper", "gift_aid": true, "title": "Dr",
		"house": "7", "address": "Mill Lane\nLeeds", "postcode": "LS1 1AA", "gift_aid_wording": "I want to Gift Aid…", "opt_in": true,
		"consent_wording": "Yes please", "ip": "127.0.0.1", "user_agent": "bench", "status": "open"})
	if err := env.App.Save(co); err != nil {
		b.Fatal(err)
	}
	return subFor(co, "week")
}

// BenchmarkWebhookEvents is webhook events handled per second over HTTP:
// signed, verified and applied, each a regular payment of one sponsorship
// (a donation recorded, the pledge moved on, the thank-you rule checked).
//
//	go test ./internal/stripepay/ -run '^$' -bench WebhookEvents -benchtime 400x
func BenchmarkWebhookEvents(b *testing.B) {
	env := startGiving(b)
	s := openCheckout(b, env, 0)
	mustDeliver(b, env, event("checkout.session.completed", time.Now(), s.sessionCompleted()))
	events := make([][]byte, b.N)
	for i := range events {
		events[i] = event("invoice.paid", time.Now(), s.invoice(i+1, "paid", 1, nil, true))
	}
	b.ResetTimer()
	start := time.Now()
	for _, ev := range events {
		mustDeliver(b, env, ev)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	if n := env.Count(b, vocab.Donations, ""); n != b.N {
		b.Fatalf("%d donations for %d events", n, b.N)
	}
}

// BenchmarkInvoicePaidToThankYou is the time from a first invoice.paid
// (arriving before checkout.session.completed, so it settles the checkout
// too: supporter, declaration, consent, pledge) being posted to its
// thank-you mail being in the outbox.
//
//	go test ./internal/stripepay/ -run '^$' -bench InvoicePaidToThankYou -benchtime 100x
func BenchmarkInvoicePaidToThankYou(b *testing.B) {
	env := startGiving(b)
	subs := make([]sub, b.N)
	for i := range subs {
		subs[i] = openCheckout(b, env, i)
	}
	var total time.Duration
	b.ResetTimer()
	for i, s := range subs {
		ev := event("invoice.paid", time.Now(), s.invoice(1, "paid", 1, nil, true))
		start := time.Now()
		mustDeliver(b, env, ev)
		for env.Count(b, vocab.Outbox, "kind = 'thank_you' && to = '"+s.email+"'") == 0 {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("no thank-you for sponsorship %d", i)
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-queued")
}
