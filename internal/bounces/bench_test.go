package bounces_test

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"slices"
	"testing"
	"time"

	"supportercrm/internal/bounces"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// BenchmarkMailbox prints how many reports a second the reader applies from
// the mailbox: each iteration sends a campaign of 1,000, fills the IMAP
// server on loopback with a DSN for every message (Postfix and Exchange
// shapes, alternately), and times one RunOnce over them.
//
//	go test ./internal/bounces/ -run '^$' -bench Mailbox -benchtime 3x
func BenchmarkMailbox(b *testing.B) {
	const n = 1000
	env := start(b, nil)
	sups := testkit.Subscribers(b, env.App, n)
	srv := startIMAP(b)
	dsns := []string{"dsn_postfix_hard.eml", "dsn_exchange_hard.eml"}
	var took time.Duration
	for i := range b.N {
		b.StopTimer()
		c := resend(b, env, fmt.Sprintf("News %d", i))
		// A hard bounce stops the supporter's mail; start each run afresh.
		if _, err := env.App.DB().NewQuery("UPDATE supporters SET status = 'subscribed'").Execute(); err != nil {
			b.Fatal(err)
		}
		if _, err := env.App.DB().NewQuery("DELETE FROM suppressions").Execute(); err != nil {
			b.Fatal(err)
		}
		msgs := make([][]byte, 0, n)
		for k, s := range sups {
			email := s.GetString("email")
			mails := env.SMTP.To(email)
			msgs = append(msgs, fixture(b, dsns[k%2], mails[len(mails)-1].From, email, delivery(b, env.App, c.Id, s.Id).GetString("message_id")))
		}
		srv.deliver(b, msgs...)
		cfg := srv.config("Processed")
		cfg.Batch = 2 * n
		rd := &bounces.Reader{App: env.App, Config: cfg}
		b.StartTimer()
		t0 := time.Now()
		run, err := rd.RunOnce(context.Background())
		took += time.Since(t0)
		b.StopTimer()
		if err != nil || run.Actions[bounces.Applied] != n {
			b.Fatalf("run %+v %v, want %d applied", run, err, n)
		}
		if got := record(b, env.App, vocab.Campaigns, c.Id); got.GetInt("bounced") != n {
			b.Fatalf("campaign counted %d bounces, want %d", got.GetInt("bounced"), n)
		}
	}
	rate := float64(b.N*n) / took.Seconds()
	b.ReportMetric(rate, "reports/s")
	fmt.Printf("FIGURE mailbox: %.0f reports/s (%d DSNs by IMAP on loopback, %d runs)\n", rate, n, b.N)
}

// BenchmarkReportToSuppression prints how long a bounce takes from arriving
// to taking effect for the next send: from the moment the sending MTA
// connects to the SMTP listener with a DSN until the address reads as
// suppressed (what the outbox asks before each message, and the campaign
// engine's send-time check, whose verdicts are at most 50 ms old), for 200
// reports one after another. It also times a mailbox run that finds one
// report (the reader's share of the IMAP path; its cron spec adds up to one
// interval before that).
//
//	go test ./internal/bounces/ -run '^$' -bench ReportToSuppression -benchtime 1x
func BenchmarkReportToSuppression(b *testing.B) {
	const n = 200
	env := start(b, nil)
	c, sups := sendCampaign(b, env, n+1)
	l := &bounces.Listener{App: env.App, Addresses: bounces.Addresses{Signer: testkit.Signer(b), Domain: bounceDomain}}
	addr, err := l.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	type job struct {
		verp, email string
		raw         []byte
	}
	jobs := make([]job, n)
	for i, s := range sups[:n] {
		email := s.GetString("email")
		verp := env.SMTP.To(email)[0].From
		jobs[i] = job{verp, email, fixture(b, "dsn_postfix_hard.eml", verp, email, delivery(b, env.App, c.Id, s.Id).GetString("message_id"))}
	}
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		for _, j := range jobs {
			t0 := time.Now()
			if err := sendTo(b, addr.String(), []string{j.verp}, bytes.NewReader(j.raw)); err != nil {
				b.Fatal(err)
			}
			for {
				if ok, err := signup.IsSuppressed(env.App, j.email); err != nil {
					b.Fatal(err)
				} else if ok {
					break
				}
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		// The next iteration bounces them again.
		if _, err := env.App.DB().NewQuery("DELETE FROM suppressions").Execute(); err != nil {
			b.Fatal(err)
		}
		if _, err := env.App.DB().NewQuery("DELETE FROM bounce_reports").Execute(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")

	// One report by the mailbox: a run that finds it, applies it and moves it.
	last := sups[n]
	srv := startIMAP(b)
	verp := env.SMTP.To(last.GetString("email"))[0].From
	srv.deliver(b, fixture(b, "text_exim.eml", verp, last.GetString("email"), "x@y"))
	t0 := time.Now()
	run, err := (&bounces.Reader{App: env.App, Config: srv.config("Processed")}).RunOnce(context.Background())
	imapRun := time.Since(t0)
	if err != nil || run.Actions[bounces.Applied] != 1 {
		b.Fatalf("mailbox run %+v %v", run, err)
	}
	b.ReportMetric(float64(imapRun.Microseconds())/1000, "imap-run-ms")
	fmt.Printf("FIGURE report to suppression by SMTP: p50 %.1f ms, p95 %.1f ms, max %.1f ms (%d reports); "+
		"by IMAP: %.1f ms for the run that finds it, after up to one CRM_BOUNCE_IMAP_SPEC interval\n",
		pct(0.5), pct(0.95), pct(1), len(lat), float64(imapRun.Microseconds())/1000)
}

// BenchmarkEnvelopeSender prints what VERP adds to each campaign message:
// making the signed address, and building the message with it, beside
// building it without.
//
//	go test ./internal/bounces/ -run '^$' -bench EnvelopeSender
func BenchmarkEnvelopeSender(b *testing.B) {
	addrs := bounces.Addresses{Signer: testkit.Signer(b), Domain: bounceDomain}
	m := &mailsend.Message{
		From: mail.Address{Name: "Lanternhouse Trust", Address: "news@lanternhouse.org.uk"}, To: mail.Address{Name: "Sam Reader", Address: "sam@example.org"},
		Subject: "Winter news", Text: "Dear Sam, thank you.", HTML: "<p>Dear Sam, thank you.</p>", MessageID: "abc@lanternhouse.org.uk",
	}
	b.Run("address", func(b *testing.B) {
		for range b.N {
			_ = addrs.Delivery("dabc123def456gh")
		}
	})
	for _, verp := range []bool{false, true} {
		b.Run(fmt.Sprintf("verp=%v", verp), func(b *testing.B) {
			for range b.N {
				if verp {
					m.EnvelopeFrom = addrs.Delivery("dabc123def456gh")
				}
				if _, err := mailsend.Build(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
