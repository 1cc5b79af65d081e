package bounces_test

import (
	"context"
	"testing"

	"supportercrm/internal/bounces"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// The scenario: a campaign of 1,000 that the relay accepts in
// full, then 50 DSNs and 3 ARF complaints in the bounce mailbox. The
// counters, suppressions, consents and timelines match exactly, admins are
// alerted once (3 in 950 is past 0.1%), and the next campaign goes to the
// 947 left.
func TestScenarioThousandWithFiftyBouncesAndThreeComplaints(t *testing.T) {
	env := start(t, nil)
	testkit.Login(t, env, vocab.RoleAdmin)
	c, sups := sendCampaign(t, env, 1000)
	if c.GetInt("sent") != 1000 || c.GetInt("bounced") != 0 {
		t.Fatalf("campaign sent %d bounced %d, want 1000 and 0", c.GetInt("sent"), c.GetInt("bounced"))
	}
	srv := startIMAP(t)
	var msgs [][]byte
	add := func(name string, i int) {
		sup := sups[i]
		email := sup.GetString("email")
		msgs = append(msgs, fixture(t, name, env.SMTP.To(email)[0].From, email, delivery(t, env.App, c.Id, sup.Id).GetString("message_id")))
	}
	dsns := []string{"dsn_postfix_hard.eml", "dsn_exchange_hard.eml"}
	for i := range 50 {
		add(dsns[i%2], 10*i) // every tenth supporter bounces
	}
	add("arf_abuse.eml", 5)
	add("arf_abuse.eml", 15)
	add("arf_redacted.eml", 25) // matched by Message-ID alone
	srv.deliver(t, msgs...)

	run, err := (&bounces.Reader{App: env.App, Config: srv.config("Processed")}).RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if run.Actions[bounces.Applied] != 53 || run.Formats[bounces.FormatDSN] != 50 || run.Formats[bounces.FormatARF] != 3 {
		t.Fatalf("run %+v, want 50 DSNs and 3 complaints applied", run)
	}

	c = record(t, env.App, vocab.Campaigns, c.Id)
	if c.GetInt("total") != 1000 || c.GetInt("sent") != 950 || c.GetInt("bounced") != 50 || c.GetInt("complaints") != 3 || c.GetDateTime("complaint_alerted_at").IsZero() {
		t.Errorf("campaign total %d sent %d bounced %d complaints %d alerted %v; want 1000, 950, 50, 3, alerted",
			c.GetInt("total"), c.GetInt("sent"), c.GetInt("bounced"), c.GetInt("complaints"), c.GetDateTime("complaint_alerted_at"))
	}
	for filter, want := range map[string]int{
		vocab.Deliveries + ": status = 'bounced'":                        50,
		vocab.Deliveries + ": status = 'sent'":                           950,
		vocab.Supporters + ": status = 'bounced' && bounce_count = 1":    50,
		vocab.Supporters + ": status = 'complained'":                     3,
		vocab.Supporters + ": status = 'subscribed'":                     947,
		vocab.Suppressions + ": reason = 'hard_bounce'":                  50,
		vocab.Suppressions + ": reason = 'complained'":                   3,
		vocab.Consents + ": action = 'withdraw' && method = 'complaint'": 3,
		vocab.Consents + ": action = 'withdraw'":                         3,
		vocab.Timeline + ": kind = 'bounce'":                             50,
		vocab.Timeline + ": kind = 'complaint'":                          3,
		vocab.BounceReports + ": id != ''":                               53,
		vocab.Outbox + ": kind = 'staff_alert'":                          countAdmins(t, env),
	} {
		coll, f, _ := cut(filter)
		if n := env.Count(t, coll, f); n != want {
			t.Errorf("%s: %d, want %d", filter, n, want)
		}
	}
	for i := range 50 {
		if s := record(t, env.App, vocab.Supporters, sups[10*i].Id); s.GetString("status") != vocab.StatusBounced {
			t.Fatalf("supporter %d is %s, want bounced", 10*i, s.GetString("status"))
		}
		if n := env.Count(t, vocab.Timeline, "supporter = '"+sups[10*i].Id+"' && kind = 'bounce'"); n != 1 {
			t.Fatalf("supporter %d has %d bounce rows on the timeline", 10*i, n)
		}
	}
	for _, i := range []int{5, 15, 25} {
		if s := record(t, env.App, vocab.Supporters, sups[i].Id); s.GetString("status") != vocab.StatusComplained {
			t.Errorf("supporter %d is %s, want complained", i, s.GetString("status"))
		}
	}

	next := resend(t, env, "Spring news")
	if next.GetInt("total") != 947 || next.GetInt("sent") != 947 {
		t.Errorf("the next campaign went to %d of %d, want 947", next.GetInt("sent"), next.GetInt("total"))
	}
}

func cut(s string) (coll, filter string, ok bool) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == ':' && s[i+1] == ' ' {
			return s[:i], s[i+2:], true
		}
	}
	return s, "", false
}
