package bounces_test

import (
	"context"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/bounces"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// mailbox fills the IMAP server with one of every fixture, each about a
// different supporter's message from the campaign (auto-replies and other
// mail all about the first), and returns what each supporter's status and
// suppression should be once it is read.
func mailbox(t *testing.T, env *testkit.Env, srv *imapServer, c *core.Record, sups []*core.Record) (want map[string]string, suppressed map[string]bool) {
	t.Helper()
	want, suppressed = map[string]string{}, map[string]bool{}
	var msgs [][]byte
	next := 0
	for _, f := range fixtures {
		sup := sups[0]
		if f.kind != "" {
			sup = sups[next]
			next++
			switch f.kind {
			case "hard":
				want[sup.Id], suppressed[sup.Id] = vocab.StatusBounced, true
			case "soft":
				want[sup.Id] = vocab.StatusSubscribed
			case "complaint":
				want[sup.Id], suppressed[sup.Id] = vocab.StatusComplained, true
			}
		}
		email := sup.GetString("email")
		verp := env.SMTP.To(email)[0].From
		msgs = append(msgs, fixture(t, f.name, verp, email, delivery(t, env.App, c.Id, sup.Id).GetString("message_id")))
	}
	msgs = append(msgs, msgs[0]) // the same DSN twice
	srv.deliver(t, msgs...)
	return want, suppressed
}

// The reader reads a mixed mailbox of bounces, complaints, auto-replies
// and junk once: every bounce and complaint gives exactly one outcome, the
// copy and the rest none, and everything read is moved to Processed. Mail
// put back (a crash between processing and moving) changes nothing.
func TestIMAPReaderMixedMailbox(t *testing.T) {
	env := start(t, nil)
	c, sups := sendCampaign(t, env, 9)
	srv := startIMAP(t)
	want, suppressed := mailbox(t, env, srv, c, sups)
	rd := &bounces.Reader{App: env.App, Config: srv.config("Processed")}

	run, err := rd.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 13 fixtures, one copy, and the message the server starts with.
	if run.Messages != 15 || run.Left != 0 || run.Actions[bounces.Applied] != 9 || run.Actions[bounces.Duplicate] != 1 || len(run.Actions) != 2 {
		t.Fatalf("run %+v, want 15 messages, 9 applied and 1 duplicate", run)
	}
	if run.Formats[bounces.FormatDSN] != 4 || run.Formats[bounces.FormatARF] != 2 || run.Formats[bounces.FormatText] != 4 || run.Formats[bounces.FormatAutoReply] != 2 || run.Formats[bounces.FormatOther] != 3 {
		t.Errorf("formats %v", run.Formats)
	}
	for _, s := range sups {
		got := record(t, env.App, vocab.Supporters, s.Id)
		if w, ok := want[s.Id]; ok && got.GetString("status") != w {
			t.Errorf("%s is %s, want %s", s.GetString("email"), got.GetString("status"), w)
		}
		if ok, _ := signup.IsSuppressed(env.App, s.GetString("email")); ok != suppressed[s.Id] {
			t.Errorf("%s suppressed %v, want %v", s.GetString("email"), ok, suppressed[s.Id])
		}
	}
	if n := env.Count(t, vocab.BounceReports, "id != ''"); n != 9 {
		t.Errorf("%d reports kept, want 9", n)
	}
	if inbox, _ := srv.count(t, "INBOX"); inbox != 0 {
		t.Errorf("%d messages left in INBOX", inbox)
	}
	if done, _ := srv.count(t, "Processed"); done != 15 {
		t.Errorf("%d messages in Processed, want 15", done)
	}
	if run, err := rd.RunOnce(context.Background()); err != nil || run.Messages != 0 {
		t.Errorf("second run: %+v %v, want nothing to read", run, err)
	}

	before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports, vocab.Consents)
	mailbox(t, env, srv, c, sups)
	run, err = rd.RunOnce(context.Background())
	if err != nil || run.Actions[bounces.Applied] != 0 || run.Actions[bounces.Duplicate] != 10 {
		t.Fatalf("mail read again: %+v %v, want only duplicates", run, err)
	}
	if after := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports, vocab.Consents); after != before {
		t.Error("reading the same mail again changed the data")
	}
}

// Without a folder to move to, the reader flags what it processed \Seen
// and reads only unseen mail after.
func TestIMAPReaderFlagsInPlace(t *testing.T) {
	env := start(t, nil)
	c, sups := sendCampaign(t, env, 9)
	srv := startIMAP(t)
	mailbox(t, env, srv, c, sups)
	rd := &bounces.Reader{App: env.App, Config: srv.config("")}
	run, err := rd.RunOnce(context.Background())
	// The server's first message is seen already, so 14 are read.
	if err != nil || run.Messages != 14 || run.Actions[bounces.Applied] != 9 {
		t.Fatalf("run %+v %v", run, err)
	}
	if all, unseen := srv.count(t, "INBOX"); all != 15 || unseen != 0 {
		t.Errorf("INBOX holds %d, %d unseen; want 15, none unseen", all, unseen)
	}
	if run, err := rd.RunOnce(context.Background()); err != nil || run.Messages != 0 {
		t.Errorf("second run: %+v %v", run, err)
	}
}

// Bad settings are refused with the variable named; a wrong password is
// an error, and nothing is read.
func TestIMAPReaderSettings(t *testing.T) {
	for _, c := range []bounces.IMAPConfig{
		{Addr: "imap.example.org", Username: "u", Password: "p"},
		{Addr: "imap.example.org:993"},
		{Addr: "imap.example.org:143", Security: "none", Username: "u", Password: "p"},
		{Addr: "imap.example.org:993", Security: "ssl", Username: "u", Password: "p"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	srv := startIMAP(t)
	cfg := srv.config("Processed")
	cfg.Password = "wrong"
	if _, err := (&bounces.Reader{Config: cfg}).RunOnce(context.Background()); err == nil {
		t.Error("a wrong password read the mailbox")
	}
	if n, _ := srv.count(t, "INBOX"); n != 1 {
		t.Errorf("INBOX holds %d, want its 1", n)
	}
}

// Wired into the app, the reader runs on its cron spec: a DSN delivered to
// the mailbox bounces the supporter within a few runs.
func TestIMAPReaderOnSchedule(t *testing.T) {
	srv := startIMAP(t)
	env := start(t, func(c *pb_hooks.Config) {
		c.Bounces.IMAP = srv.config("Processed")
		c.Bounces.IMAPSpec = "@every 1s"
	})
	c, sups := sendCampaign(t, env, 1)
	sup := sups[0]
	srv.deliver(t, fixture(t, "text_exim.eml", env.SMTP.To(sup.GetString("email"))[0].From, sup.GetString("email"), "unknown@example.org"))
	testkit.Eventually(t, 20*time.Second, func() bool {
		return record(t, env.App, vocab.Supporters, sup.Id).GetString("status") == vocab.StatusBounced
	})
	if d := delivery(t, env.App, c.Id, sup.Id); d.GetString("status") != vocab.DeliveryBounced {
		t.Errorf("delivery is %s", d.GetString("status"))
	}
}
