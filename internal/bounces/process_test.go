package bounces_test

import (
	"strings"
	"testing"

	"supportercrm/internal/bounces"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// Every campaign message goes out with a VERP envelope sender naming its
// delivery; a hard bounce addressed there (with nothing else useful in it)
// marks the delivery and supporter bounced, suppresses the address, moves
// the campaign's count from sent to bounced and lands on the timeline. The
// same report again changes nothing.
func TestHardBounceByVERP(t *testing.T) {
	env := start(t, nil)
	c, sups := sendCampaign(t, env, 3)
	sup := sups[1]
	msgs := env.SMTP.To(sup.GetString("email"))
	if len(msgs) != 1 {
		t.Fatalf("%d messages to the supporter, want 1", len(msgs))
	}
	from := msgs[0].From
	if !strings.HasPrefix(from, "bounces+") || !strings.HasSuffix(from, "@"+bounceDomain) || len(from[:strings.IndexByte(from, '@')]) > 64 {
		t.Fatalf("envelope sender %q is not a VERP address in %s", from, bounceDomain)
	}
	for _, m := range env.SMTP.Mails() {
		if m.From == from && m.To[0] != sup.GetString("email") {
			t.Fatalf("two messages share the envelope sender %q", from)
		}
	}

	r := bounces.Report{Kind: bounces.Hard, Token: strings.ToUpper(from), Status: "5.1.1", Diagnostic: "smtp; 550 5.1.1 <" + sup.GetString("email") + ">: user unknown", Source: "imap", EventID: "<dsn-1@mx.example.net>"}
	out, err := bounces.Process(env.App, r)
	if err != nil {
		t.Fatal(err)
	}
	d := delivery(t, env.App, c.Id, sup.Id)
	if out.Action != bounces.Applied || out.Delivery != d.Id || out.Supporter != sup.Id || out.Campaign != c.Id || !out.Suppressed || out.SupporterStatus != vocab.StatusBounced {
		t.Fatalf("outcome %+v", out)
	}
	if d.GetString("status") != vocab.DeliveryBounced {
		t.Errorf("delivery is %s, want bounced", d.GetString("status"))
	}
	s := record(t, env.App, vocab.Supporters, sup.Id)
	if s.GetString("status") != vocab.StatusBounced || s.GetInt("bounce_count") != 1 {
		t.Errorf("supporter is %s with %d bounces, want bounced with 1", s.GetString("status"), s.GetInt("bounce_count"))
	}
	if ok, _ := signup.IsSuppressed(env.App, sup.GetString("email")); !ok {
		t.Error("the address is not suppressed")
	}
	cc := record(t, env.App, vocab.Campaigns, c.Id)
	if cc.GetInt("sent") != 2 || cc.GetInt("bounced") != 1 {
		t.Errorf("campaign sent %d bounced %d, want 2 and 1", cc.GetInt("sent"), cc.GetInt("bounced"))
	}
	rows, err := env.App.FindRecordsByFilter(vocab.Timeline, "supporter = {:s} && kind = 'bounce'", "", 0, 0, map[string]any{"s": sup.Id})
	if err != nil || len(rows) != 1 || !strings.Contains(rows[0].GetString("summary"), "5.1.1") {
		t.Fatalf("timeline bounce rows = %v %v", rows, err)
	}
	kept, err := env.App.FindFirstRecordByData(vocab.BounceReports, "ref", "d"+d.Id)
	if err != nil || strings.Contains(kept.GetString("diagnostic"), "@") {
		t.Errorf("kept report %v %v: want one, its diagnostic without the address", kept, err)
	}

	before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports, vocab.Consents)
	for _, again := range []bounces.Report{r, {Kind: bounces.Hard, MessageID: d.GetString("message_id"), Source: "ses", EventID: "other"}} {
		out, err := bounces.Process(env.App, again)
		if err != nil || out.Action != bounces.Duplicate {
			t.Errorf("the report again: %+v %v, want a duplicate", out, err)
		}
	}
	if after := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports, vocab.Consents); after != before {
		t.Error("a second copy of the report changed the data")
	}
}

// A bounce that comes back before the engine has written the send's
// result (a local relay bounces at once; results are written in batches)
// finds the delivery still queued: it is marked bounced and counted as a
// bounce only (the engine's late write needs the delivery queued, so it
// counts nothing).
func TestHardBounceBeforeTheSendIsRecorded(t *testing.T) {
	env := start(t, nil)
	c, sups := sendCampaign(t, env, 2)
	sup := sups[0]
	d := delivery(t, env.App, c.Id, sup.Id)
	// As things stand in the instant between the relay's 250 and the write.
	if _, err := env.App.DB().NewQuery("UPDATE deliveries SET status = 'queued' WHERE id = {:id}").Bind(map[string]any{"id": d.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.DB().NewQuery("UPDATE campaigns SET sent = 1 WHERE id = {:id}").Bind(map[string]any{"id": c.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	out := process(t, env.App, bounces.Report{Kind: bounces.Hard, Token: env.SMTP.To(sup.GetString("email"))[0].From, Status: "5.1.1", Source: "smtp"})
	if out.Action != bounces.Applied || out.Delivery != d.Id {
		t.Fatalf("outcome %+v", out)
	}
	got := record(t, env.App, vocab.Campaigns, c.Id)
	if got.GetInt("sent") != 1 || got.GetInt("bounced") != 1 {
		t.Errorf("campaign sent %d bounced %d, want 1 and 1", got.GetInt("sent"), got.GetInt("bounced"))
	}
	if s := delivery(t, env.App, c.Id, sup.Id).GetString("status"); s != vocab.DeliveryBounced {
		t.Errorf("delivery is %s, want bounced", s)
	}
}
