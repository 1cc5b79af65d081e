package pb_migrations_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// The timeline of one supporter, built by the real flows end to end, comes
// out in time order with the right kinds; the giving view totals it.
func TestSupporterTimeline(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	const email = "tim@example.org"
	// Each step starts once the last one is recorded (the outbox writes
	// sent_at after the relay has the message), a few milliseconds later.
	until := func(what string, done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !done(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	sent := func(kind string) {
		t.Helper()
		until(kind+" mail sent", func() bool { return env.Count(t, vocab.Outbox, "kind = '"+kind+"' && status = 'sent'") == 1 })
	}
	get := func(link string) string {
		t.Helper()
		status, body := env.Do(t, http.MethodGet, strings.TrimPrefix(link, env.URL), "", "")
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d", link, status)
		}
		return body
	}

	// Sign up, confirm (the welcome journey's first step), receive a campaign.
	if status, body := env.PostJSON(t, "/api/subscribe", `{"email":"`+email+`","first_name":"Tim","topics":["newsletter","events"],"consent":true}`); status != http.StatusAccepted {
		t.Fatalf("signup = %d %s", status, body)
	}
	confirm := env.SMTP.WaitFor(t, email, 1, 10*time.Second)[0]
	sent(vocab.KindConfirm)
	get(env.Link(t, confirm.Text, "/confirm"))
	welcome := env.SMTP.WaitFor(t, email, 2, 10*time.Second)[1]
	until("welcome recorded", func() bool { return env.Count(t, vocab.JourneySends, "status = 'sent'") == 1 })
	testkit.DueCampaign(t, env.App, "Winter sleep-out", "Hello {{.FirstName}}")
	env.SMTP.WaitFor(t, email, 3, 10*time.Second)
	until("the delivery recorded", func() bool { return env.Count(t, vocab.Deliveries, "status = 'sent'") == 1 })

	// Give (the thank-you invites Gift Aid), pledge, declare, unsubscribe.
	sup, err := env.App.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err != nil {
		t.Fatal(err)
	}
	save := func(coll string, data map[string]any) *core.Record {
		t.Helper()
		r := core.NewRecord(testkit.Collection(t, env.App, coll))
		r.Load(data)
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	save(vocab.Donations, map[string]any{"supporter": sup.Id, "amount_pence": 2500, "currency": "GBP", "method": "card", "donated_on": time.Now(), "gift_aid_eligible": true})
	thanks := env.SMTP.WaitFor(t, email, 4, 10*time.Second)[3]
	sent(vocab.KindThankYou)
	save(vocab.Pledges, map[string]any{"supporter": sup.Id, "purpose": "Sponsor a room", "amount_pence": 250, "frequency": vocab.PledgeWeekly, "starts_on": time.Now(), "status": vocab.PledgeActive})
	save(vocab.Pledges, map[string]any{"supporter": sup.Id, "amount_pence": 1000, "frequency": vocab.PledgeMonthly, "starts_on": time.Now(), "status": vocab.PledgeEnded, "ends_on": time.Now()})
	time.Sleep(5 * time.Millisecond)
	page := get(env.Link(t, thanks.Text, "/gift-aid"))
	form := url.Values{"action": {"declare"}, "first_name": {"Tim"}, "last_name": {"Line"}, "house": {"4"}, "address": {"Kirkgate, Leeds"}, "postcode": {"LS2 7DJ"}, "confirm": {"yes"}}
	for _, m := range regexp.MustCompile(`name="(token|wording_version)" value="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if status, body := env.PostForm(t, "/gift-aid", form); status != http.StatusOK {
		t.Fatalf("Gift Aid declaration = %d %s", status, body)
	}
	time.Sleep(5 * time.Millisecond)
	unsub := env.Link(t, welcome.Text, "/unsubscribe")
	if status, _ := env.Do(t, http.MethodPost, strings.TrimPrefix(unsub, env.URL), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); status != http.StatusOK {
		t.Fatalf("one-click unsubscribe = %d", status)
	}

	// Someone else's history must not show up.
	testkit.Subscribers(t, env.App, 1)

	rows, err := env.App.FindRecordsByFilter(vocab.Timeline, "supporter = {:s}", "at,id", 0, 0, dbx.Params{"s": sup.Id})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.GetString("kind"))
		t.Logf("%s  %-18s %6d  %s", r.GetString("at"), r.GetString("kind"), r.GetInt("amount_pence"), r.GetString("summary"))
	}
	want := []string{"signup", "consent_grant", "email", "consent_confirmed", "journey", "campaign", "donation", "email", "pledge", "pledge", "gift_aid", "unsubscribe"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("kinds in order:\n got %v\nwant %v", got, want)
	}
	for _, r := range rows {
		switch r.GetString("kind") {
		case "campaign":
			if !strings.Contains(r.GetString("summary"), "Winter sleep-out (sent)") || r.GetString("ref") == "" {
				t.Errorf("campaign row %q", r.GetString("summary"))
			}
		case "donation":
			if r.GetInt("amount_pence") != 2500 || !strings.Contains(r.GetString("summary"), "£25.00 by card, Gift Aid eligible") {
				t.Errorf("donation row %d %q", r.GetInt("amount_pence"), r.GetString("summary"))
			}
		case "consent_grant":
			if !strings.Contains(r.GetString("summary"), "newsletter") || !strings.Contains(r.GetString("summary"), "(api)") {
				t.Errorf("consent row %q", r.GetString("summary"))
			}
		case "journey":
			if r.GetString("summary") != "Welcome: Welcome, and thank you for confirming (sent)" || r.GetString("ref") == "" {
				t.Errorf("journey row %q", r.GetString("summary"))
			}
		case "unsubscribe":
			if r.GetString("summary") != "Unsubscribed: events, newsletter (one_click)" {
				t.Errorf("unsubscribe row %q", r.GetString("summary"))
			}
		}
	}

	giving, err := env.App.FindRecordById(vocab.Giving, sup.Id)
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]int{"donation_count": 1, "donated_pence": 2500, "active_pledges": 1, "weekly_pledged_pence": 250, "monthly_pledged_pence": 0} {
		if got := giving.GetInt(field); got != want {
			t.Errorf("giving %s = %d, want %d", field, got, want)
		}
	}
	if giving.GetString("gift_aid") != "active" || giving.GetString("supporter") != sup.Id || giving.GetString("last_donation_on") == "" {
		t.Errorf("giving: %v", giving.FieldsData())
	}
	if n := env.Count(t, vocab.Giving, ""); n != 1 {
		t.Errorf("%d supporters in the giving view, want only the donor", n)
	}
}
