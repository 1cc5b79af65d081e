package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"supportercrm/internal/mailsend"
	"supportercrm/internal/outbox"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// BenchmarkRunOnce sends b.N queued messages to the loopback sink, reporting
// the cost a message (claim, send, outcome) in wall time (ns/op) and CPU,
// for comparing versions:
//
//	go test ./internal/outbox -run '^$' -bench RunOnce -benchtime 2000x
func BenchmarkRunOnce(b *testing.B) {
	env := testkit.Start(b, testkit.Options{SMTPDown: true})
	s := env.App.Settings()
	s.SMTP.Enabled = false // the app's own worker stays away
	if err := env.App.Save(s); err != nil {
		b.Fatal(err)
	}
	sink := testkit.NewSMTPSink(b)
	sink.Start(b)
	for i := range b.N {
		if _, err := outbox.Enqueue(env.App, outbox.Mail{To: fmt.Sprintf("r%d@example.org", i), Kind: vocab.KindWelcome,
			Subject: "Welcome", Text: "Thanks for joining.", HTML: "<p>Thanks for joining.</p>"}); err != nil {
			b.Fatal(err)
		}
	}
	w := outbox.NewWorker(env.App, outbox.Config{}, func(ctx context.Context) (mailsend.Sender, error) {
		return mailsend.Dial(ctx, mailsend.Config{Host: "127.0.0.1", Port: sink.Port, Timeout: 10 * time.Second})
	})
	b.ResetTimer()
	cpu := testkit.CPUTime()
	n, err := w.RunOnce(b.Context())
	if err != nil || n != b.N {
		b.Fatalf("RunOnce = %d, %v; want %d", n, err, b.N)
	}
	// The sink runs in this process too: its share is the same in every version.
	b.ReportMetric(float64((testkit.CPUTime()-cpu).Microseconds())/float64(b.N), "cpu-us/msg")
}
