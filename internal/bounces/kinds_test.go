package bounces_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/bounces"
	"supportercrm/internal/erasure"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// Soft bounces are counted per message: retries of one message count once,
// and the third message to bounce for now makes the supporter bounced,
// without suppressing the address (the mailbox may come back, and they may
// sign up again).
func TestSoftBouncesCountPerMessage(t *testing.T) {
	env := start(t, nil)
	first, sups := sendCampaign(t, env, 2)
	sup := sups[0]
	campaigns := []string{first.Id, resend(t, env, "Second").Id, resend(t, env, "Third").Id}
	soft := func(campaign, event string) bounces.Outcome {
		d := delivery(t, env.App, campaign, sup.Id)
		return process(t, env.App, bounces.Report{Kind: bounces.Soft, MessageID: "<" + d.GetString("message_id") + ">", Status: "4.2.2", Source: "imap", EventID: event})
	}
	if out := soft(campaigns[0], "a"); out.Action != bounces.Applied || out.SupporterStatus != vocab.StatusSubscribed {
		t.Fatalf("first soft bounce: %+v", out)
	}
	if out := soft(campaigns[0], "b"); out.Action != bounces.Duplicate {
		t.Fatalf("a second delay notice for the same message: %+v, want a duplicate", out)
	}
	if out := soft(campaigns[1], "c"); out.SupporterStatus != vocab.StatusSubscribed {
		t.Fatalf("second soft bounce: %+v", out)
	}
	out := soft(campaigns[2], "d")
	if out.Action != bounces.Applied || out.SupporterStatus != vocab.StatusBounced || out.Suppressed {
		t.Fatalf("third soft bounce: %+v, want the supporter bounced and the address not suppressed", out)
	}
	if n := record(t, env.App, vocab.Supporters, sup.Id).GetInt("bounce_count"); n != 3 {
		t.Errorf("bounce_count = %d, want 3", n)
	}
	for _, c := range campaigns {
		if got := record(t, env.App, vocab.Campaigns, c); got.GetInt("bounced") != 0 || got.GetInt("sent") != 2 {
			t.Errorf("a soft bounce changed the campaign's counters: sent %d bounced %d", got.GetInt("sent"), got.GetInt("bounced"))
		}
	}
	if n := env.Count(t, vocab.Timeline, "supporter = '"+sup.Id+"' && kind = 'bounce'"); n != 3 {
		t.Errorf("%d bounce rows on the timeline, want 3", n)
	}
}

// The soft bounce limit and window are configurable: with a limit of 1 one
// soft bounce is enough, and one older than the window doesn't count.
func TestSoftBounceLimitIsConfigurable(t *testing.T) {
	env := start(t, func(c *pb_hooks.Config) { c.Bounces.SoftLimit, c.Bounces.SoftWindow = 2, 24*time.Hour })
	first, sups := sendCampaign(t, env, 1)
	second := resend(t, env, "Second")
	d1, d2 := delivery(t, env.App, first.Id, sups[0].Id), delivery(t, env.App, second.Id, sups[0].Id)
	process(t, env.App, bounces.Report{Kind: bounces.Soft, MessageID: d1.GetString("message_id"), Source: "imap", At: time.Now().Add(-48 * time.Hour)})
	if out := process(t, env.App, bounces.Report{Kind: bounces.Soft, MessageID: d2.GetString("message_id"), Source: "imap"}); out.SupporterStatus != vocab.StatusSubscribed {
		t.Fatalf("a soft bounce outside the window counted: %+v", out)
	}
	third := resend(t, env, "Third")
	d3 := delivery(t, env.App, third.Id, sups[0].Id)
	if out := process(t, env.App, bounces.Report{Kind: bounces.Soft, MessageID: d3.GetString("message_id"), Source: "imap"}); out.SupporterStatus != vocab.StatusBounced {
		t.Fatalf("the second soft bounce within a day: %+v, want bounced", out)
	}
}

// A complaint (here with the recipient redacted, as RFC 6590 allows, and
// matched by Message-ID) marks the supporter complained, writes a consent
// withdrawal with method complaint, suppresses the address, cancels their
// queued mail, and counts on the campaign; one in 3 passes 0.1% and alerts
// the admins once, however many follow.
func TestComplaint(t *testing.T) {
	env := start(t, nil)
	testkit.Login(t, env, vocab.RoleAdmin)
	testkit.Login(t, env, vocab.RoleComms)
	c, sups := sendCampaign(t, env, 3)
	complain := func(i int) bounces.Outcome {
		d := delivery(t, env.App, c.Id, sups[i].Id)
		return process(t, env.App, bounces.Report{Kind: bounces.Complaint, Recipient: "redacted@example.org", MessageID: d.GetString("message_id"), Source: "imap", EventID: "arf-" + d.Id})
	}
	out := complain(0)
	if out.Action != bounces.Applied || out.SupporterStatus != vocab.StatusComplained || !out.Suppressed || !out.Alerted {
		t.Fatalf("complaint: %+v", out)
	}
	if out := complain(1); out.Alerted || out.Action != bounces.Applied {
		t.Fatalf("second complaint: %+v, want no second alert", out)
	}
	cons, err := env.App.FindRecordsByFilter(vocab.Consents, "supporter = {:s} && action = 'withdraw'", "", 0, 0, map[string]any{"s": sups[0].Id})
	if err != nil || len(cons) != 1 || cons[0].GetString("method") != vocab.MethodComplaint || cons[0].GetString("email") != sups[0].GetString("email") {
		t.Fatalf("withdrawals %v %v, want one by complaint", cons, err)
	}
	if !strings.Contains(cons[0].GetString("topic_slugs"), "newsletter") {
		t.Errorf("the withdrawal names topics %s, want the newsletter", cons[0].GetString("topic_slugs"))
	}
	got := record(t, env.App, vocab.Campaigns, c.Id)
	if got.GetInt("complaints") != 2 || got.GetDateTime("complaint_alerted_at").IsZero() {
		t.Errorf("campaign complaints %d alerted %v", got.GetInt("complaints"), got.GetDateTime("complaint_alerted_at"))
	}
	alerts, err := env.App.FindRecordsByFilter(vocab.Outbox, "kind = 'staff_alert'", "", 0, 0)
	if err != nil || len(alerts) != countAdmins(t, env) || !strings.HasPrefix(alerts[0].GetString("to"), "admin-") {
		t.Fatalf("staff alerts %v %v, want one to each admin (%d)", alerts, err, countAdmins(t, env))
	}
	if text := alerts[0].GetString("text"); !strings.Contains(text, "1 of the 3") || strings.Contains(text, sups[0].GetString("email")) {
		t.Errorf("alert text %q: want the counts and no address", text)
	}
	if n := env.Count(t, vocab.Timeline, "supporter = '"+sups[0].Id+"' && kind = 'complaint'"); n != 1 {
		t.Errorf("%d complaint rows on the timeline, want 1", n)
	}
	if ok, _ := signup.IsSuppressed(env.App, sups[0].GetString("email")); !ok {
		t.Error("the address is not suppressed")
	}
}

func countAdmins(t *testing.T, env *testkit.Env) int {
	return env.Count(t, vocab.Staff, "role = 'admin'") + env.Count(t, "_superusers", "id != ''")
}

// A report about a supporter since erased changes nothing: the erasure's
// suppression stays, and nothing personal (no report, no timeline row, no
// consent row) is written.
func TestReportAfterErasure(t *testing.T) {
	env := start(t, nil)
	c, sups := sendCampaign(t, env, 2)
	sup := sups[0]
	token := env.SMTP.To(sup.GetString("email"))[0].From
	msgID := delivery(t, env.App, c.Id, sup.Id).GetString("message_id")
	if _, err := (&erasure.Eraser{App: env.App, Hash: signup.HashEmail}).Erase(sup.Id); err != nil {
		t.Fatal(err)
	}
	before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports, vocab.Consents, vocab.Outbox)
	for _, r := range []bounces.Report{
		{Kind: bounces.Hard, Token: token, Status: "5.1.1", Recipient: sup.GetString("email"), Source: "imap"},
		{Kind: bounces.Complaint, MessageID: msgID, Source: "ses", EventID: "x"},
		{Kind: bounces.Soft, Token: token, Source: "smtp"},
	} {
		if out := process(t, env.App, r); out.Action != bounces.Erased || !out.Suppressed {
			t.Errorf("%s after erasure: %+v, want erased", r.Kind, out)
		}
	}
	if after := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports, vocab.Consents, vocab.Outbox); after != before {
		t.Error("a report about an erased supporter changed the data")
	}
	if ok, _ := signup.IsSuppressed(env.App, sup.GetString("email")); !ok {
		t.Error("the erased address is no longer suppressed")
	}

	// A report kept before the erasure loses what the server said, and
	// keeps its codes.
	other := sups[1]
	process(t, env.App, bounces.Report{Kind: bounces.Soft, Recipient: other.GetString("email"), Status: "4.2.2", Diagnostic: "smtp; 452 4.2.2 Mailbox of Sam Reader full", Source: "ses"})
	if _, err := (&erasure.Eraser{App: env.App, Hash: signup.HashEmail}).Erase(other.Id); err != nil {
		t.Fatal(err)
	}
	kept, err := env.App.FindFirstRecordByData(vocab.BounceReports, "supporter", other.Id)
	if err != nil || kept.GetString("diagnostic") != "" || kept.GetString("status") != "4.2.2" {
		t.Errorf("report after erasure: %v %v, want its status and no diagnostic", kept, err)
	}
}

// A report that names nothing we sent, or carries a forged VERP token,
// changes nothing; nor does mail that names a supporter's address alone
// (anyone can send it), while a signed webhook's report may. A bad report
// is an error that changes nothing.
func TestUnmatchedForgedAndBadReports(t *testing.T) {
	env := start(t, nil)
	_, sups := sendCampaign(t, env, 1)
	token := env.SMTP.To(sups[0].GetString("email"))[0].From
	forged := token[:12] + map[bool]string{true: "b", false: "a"}[token[12] == 'a'] + token[13:]
	before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports)
	for _, r := range []bounces.Report{
		{Kind: bounces.Hard, Token: forged, Status: "5.1.1", Source: "imap"},
		{Kind: bounces.Hard, MessageID: "<never@sent.example>", Source: "imap"},
		{Kind: bounces.Complaint, Recipient: "stranger@example.net", Source: "ses"},
		{Kind: bounces.Complaint, Recipient: sups[0].GetString("email"), Source: "imap"},
		{Kind: bounces.Hard, Token: forged, Recipient: sups[0].GetString("email"), Source: "smtp"},
	} {
		if out := process(t, env.App, r); out.Action != bounces.Unmatched {
			t.Errorf("%+v: %+v, want unmatched", r, out)
		}
	}
	for _, r := range []bounces.Report{
		{Kind: "bogus", Token: token, Source: "imap"},
		{Kind: bounces.Hard, Token: token},
		{Kind: bounces.Hard, Source: "imap"},
		{Kind: bounces.Hard, Token: token, Source: "imap", Status: "5.1.1\r\nX: y"},
	} {
		if _, err := bounces.Process(env.App, r); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
	if after := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports); after != before {
		t.Error("an unmatched or bad report changed the data")
	}
	if out := process(t, env.App, bounces.Report{Kind: bounces.Hard, Recipient: strings.ToUpper(sups[0].GetString("email")), Source: "ses", EventID: "ses-1"}); out.Action != bounces.Applied || out.Supporter != sups[0].Id {
		t.Errorf("a webhook's report by recipient: %+v, want it applied to the supporter", out)
	}
}

// Without a bounce domain, messages keep the sender's address as envelope
// sender, and a bounce is matched by the Message-ID it quotes. A bounced
// confirmation (outbox mail) marks the pending supporter bounced and
// suppresses the address.
func TestNoVERPMatchesByMessageIDAndOutbox(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	if status, body := env.PostJSON(t, "/api/subscribe", `{"email":"gone@example.org","topics":["newsletter"],"consent":true}`); status != 202 {
		t.Fatalf("signup = %d %s", status, body)
	}
	m := env.SMTP.WaitFor(t, "gone@example.org", 1, 10*time.Second)[0]
	if strings.HasPrefix(m.From, "bounces+") {
		t.Fatalf("envelope sender %q without a bounce domain", m.From)
	}
	var ob struct {
		ID string `db:"id"`
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		return env.App.DB().NewQuery("SELECT id FROM outbox WHERE status = 'sent' AND [[to]] = 'gone@example.org'").One(&ob) == nil
	})
	out := process(t, env.App, bounces.Report{Kind: bounces.Hard, MessageID: m.Header.Get("Message-Id"), Status: "5.1.1", Source: "imap"})
	if out.Action != bounces.Applied || out.Outbox != ob.ID || out.SupporterStatus != vocab.StatusBounced || !out.Suppressed {
		t.Fatalf("outcome %+v", out)
	}
	if got := record(t, env.App, vocab.Outbox, ob.ID); got.GetString("status") != vocab.OutboxFailed || !strings.Contains(got.GetString("last_error"), "5.1.1") {
		t.Errorf("outbox row %s %q", got.GetString("status"), got.GetString("last_error"))
	}
}

// Transactional mail names its outbox row in its envelope sender too: a
// prose bounce that quotes nothing but comes back to that address fails
// the confirmation and bounces the pending supporter.
func TestOutboxVERP(t *testing.T) {
	env := start(t, nil)
	if status, body := env.PostJSON(t, "/api/subscribe", `{"email":"gone@example.org","topics":["newsletter"],"consent":true}`); status != 202 {
		t.Fatalf("signup = %d %s", status, body)
	}
	m := env.SMTP.WaitFor(t, "gone@example.org", 1, 10*time.Second)[0]
	if !strings.HasPrefix(m.From, "bounces+o") || !strings.HasSuffix(m.From, "@"+bounceDomain) {
		t.Fatalf("envelope sender %q, want a VERP address naming the outbox row", m.From)
	}
	var id string
	testkit.Eventually(t, 10*time.Second, func() bool {
		return env.App.DB().NewQuery("SELECT id FROM outbox WHERE status = 'sent' AND [[to]] = 'gone@example.org'").Row(&id) == nil
	})
	raw := fixture(t, "text_exim.eml", m.From, "gone@example.org", "not-quoted@example.org")
	got, err := bounces.Parse(bytes.NewReader(raw), "imap", "")
	if err != nil || len(got.Reports) != 1 {
		t.Fatalf("parse: %+v %v", got, err)
	}
	out := process(t, env.App, got.Reports[0])
	if out.Outbox != id || out.SupporterStatus != vocab.StatusBounced || !out.Suppressed {
		t.Fatalf("outcome %+v, want outbox row %s, supporter bounced, suppressed", out, id)
	}
}
