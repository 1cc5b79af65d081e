package bouncehooks_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"supportercrm/internal/bouncehooks"
)

// benchPerProvider is how many distinct messages each provider's benchmark
// can report on; run with -benchtime of at most this many iterations
// (each report is about a message not reported before).
const benchPerProvider = 1000

// BenchmarkWebhookReports measures hard-bounce reports applied per second
// through each provider's webhook on the real app: HTTP, signature check,
// parsing and bounces.Process (delivery, supporter, suppression, campaign
// counter, timeline), one report per post, and for SendGrid also in
// batches of 100 events per post. The posts are signed before the clock
// starts. Run:
//
//	go test ./internal/bouncehooks/ -run '^$' -bench WebhookReports -benchtime 1000x
func BenchmarkWebhookReports(b *testing.B) {
	providers := []struct {
		name, provider string
		batch          int
		build          func(b *testing.B, w *world, ms []message, n int) request
	}{
		{"ses", bouncehooks.SES, 1, func(b *testing.B, w *world, ms []message, n int) request {
			return request{w.sns.signed(b, "2", notification(fmt.Sprintf("sns-%d", n), sesBounce(b, ms[0], fmt.Sprintf("fb-%d", n)))), noHeader()}
		}},
		{"postmark", bouncehooks.Postmark, 1, func(b *testing.B, w *world, ms []message, n int) request {
			return request{postmarkBounce(b, ms[0], int64(n), "Bounce", "HardBounce"), basicAuth(postmarkUser, postmarkPass)}
		}},
		{"mailgun", bouncehooks.Mailgun, 1, func(b *testing.B, w *world, ms []message, n int) request {
			return request{mailgunEvent(b, mailgunKey, time.Now(), fmt.Sprintf("token-%d", n), ms[0], fmt.Sprintf("mg-%d", n), "failed", "permanent"), noHeader()}
		}},
		{"sendgrid", bouncehooks.SendGrid, 1, sendGridBatch},
		{"sendgrid-100", bouncehooks.SendGrid, 100, sendGridBatch},
	}
	// Each sub-benchmark runs once with one iteration, then with -benchtime.
	w := newWorld(b, len(providers)*(benchPerProvider+1))
	next := 0
	for _, p := range providers {
		b.Run(p.name, func(b *testing.B) {
			if b.N > benchPerProvider {
				b.Fatalf("at most %d iterations (-benchtime %dx): each reports a new message", benchPerProvider, benchPerProvider)
			}
			var posts []request
			var sizes []int
			for i := 0; i < b.N; i += p.batch {
				var chunk []message
				for j := i; j < min(i+p.batch, b.N); j++ {
					to, id, from := w.mail(next + j)
					chunk = append(chunk, message{to, id, from})
				}
				posts = append(posts, p.build(b, w, chunk, next+i))
				sizes = append(sizes, len(chunk))
			}
			next += b.N
			b.ResetTimer()
			start := time.Now()
			for i, r := range posts {
				if code, body := w.post(b, p.provider, r.body, r.header); code != http.StatusOK || tally(b, body).Applied != sizes[i] {
					b.Fatalf("got %d %s", code, body)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reports/s")
		})
	}
}

// sendGridBatch is one signed post of a bounce event per message.
func sendGridBatch(b *testing.B, w *world, ms []message, n int) request {
	events := make([]any, len(ms))
	for i, m := range ms {
		events[i] = sendGridEvent(m, fmt.Sprintf("sg-%d", n+i), "bounce")
	}
	body := mustJSON(b, events)
	return request{body, w.sendGridHeaders(b, body)}
}
