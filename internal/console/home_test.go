package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console"
	"supportercrm/internal/fbgraph"
	"supportercrm/internal/outbox"
	"supportercrm/internal/testkit"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// consentAt adds a consent row for sup with action, made at created and
// confirmed at confirmed (zero: not confirmed).
func consentAt(t *testing.T, app core.App, sup *core.Record, action string, created, confirmed time.Time) {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, app, vocab.Consents))
	r.Set("supporter", sup.Id)
	r.Set("action", action)
	r.Set("basis", vocab.BasisConsent)
	r.Set("method", vocab.MethodWebForm)
	if !confirmed.IsZero() {
		r.Set("confirmed_at", confirmed)
	}
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	// created is the database's own time of the insert: move it back.
	if _, err := app.DB().Update(vocab.Consents, dbx.Params{"created": created.UTC().Format("2006-01-02 15:04:05.000Z")}, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
}

// The chart's weeks start on Monday at midnight in London, also across a
// clock change, and count grants, confirmations and withdrawals by week.
func TestGrowthCountsEachWeek(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	sup := newSupporter(t, env.App, "grower@example.org", vocab.StatusSubscribed)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, tz.London)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	now := at("2026-04-01 12:00") // a Wednesday; the clocks went forward on Sunday 29 March
	// Sunday 29 March 23:30 London is 22:30 UTC: still the week of 23 March.
	consentAt(t, env.App, sup, vocab.ActionGrant, at("2026-03-29 23:30"), at("2026-03-30 00:30"))
	// Monday 30 March 00:30 London is 23:30 UTC on Sunday: this week.
	consentAt(t, env.App, sup, vocab.ActionGrant, at("2026-03-30 00:30"), time.Time{})
	consentAt(t, env.App, sup, vocab.ActionWithdraw, at("2026-03-31 09:00"), time.Time{})
	consentAt(t, env.App, sup, vocab.ActionGrant, at("2026-01-01 09:00"), time.Time{}) // before the chart
	weeks, err := console.Growth(env.App, now, 3)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		start   string
		s, c, u int
	}
	want := []got{{"16 Mar", 0, 0, 0}, {"23 Mar", 1, 0, 0}, {"30 Mar", 1, 1, 1}}
	for i, w := range weeks {
		g := got{w.Label(), w.Signups, w.Confirmations, w.Unsubscribes}
		if g != want[i] {
			t.Errorf("week %d = %+v, want %+v", i, g, want[i])
		}
	}
}

func newSupporter(t *testing.T, app core.App, email, status string) *core.Record {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, app, vocab.Supporters))
	r.Set("email", email)
	r.Set("status", status)
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// The home page shows the subscribed count, the next scheduled send in
// London time, recent results, and the alerts: a paused campaign and why,
// an expired Facebook token, mail waiting while SMTP is off.
func TestHomeShowsFiguresAndAlerts(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	for i, s := range []string{vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusPending, vocab.StatusUnsubscribed} {
		newSupporter(t, env.App, "home"+string(rune('a'+i))+"@example.org", s)
	}
	topic, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	campaign := func(name, status string, set map[string]any) {
		r := core.NewRecord(testkit.Collection(t, env.App, vocab.Campaigns))
		r.Load(map[string]any{"name": name, "subject": "Hello", "body_format": vocab.FormatMarkdown, "body": "Hi", "topics": []string{topic.Id}, "status": vocab.CampaignDraft})
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
		// Results are the engine's to write; set them as it does, directly.
		set["status"] = status
		if _, err := env.App.DB().Update(vocab.Campaigns, dbx.Params(set), dbx.HashExp{"id": r.Id}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	sendAt := time.Date(2030, time.July, 1, 8, 30, 0, 0, time.UTC) // 09:30 in London (BST)
	campaign("Summer appeal", vocab.CampaignScheduled, map[string]any{"send_at": sendAt.Format("2006-01-02 15:04:05.000Z")})
	campaign("Spring news", vocab.CampaignPaused, map[string]any{"last_error": "the relay refused 12 messages in a row: 554 5.7.1 blocked", "total": 2000, "sent": 120})
	campaign("Winter news", vocab.CampaignSent, map[string]any{"total": 1500, "sent": 1490, "failed": 4, "bounced": 6, "unsubscribed": 3})
	run := core.NewRecord(testkit.Collection(t, env.App, vocab.SyncRuns))
	tokenErr := &fbgraph.Error{Kind: fbgraph.TokenInvalid, Code: 190, Message: "Error validating access token"}
	run.Load(map[string]any{"source": "facebook", "trigger": "cron", "started": time.Now(), "finished": time.Now(), "error": tokenErr.Error()})
	if err := env.App.Save(run); err != nil {
		t.Fatal(err)
	}
	env.SMTP.Stop()
	s := env.App.Settings()
	s.SMTP.Enabled = false
	if err := env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.Enqueue(env.App, outbox.Mail{To: "waiting@example.org", Kind: vocab.KindAlert, Subject: "Waiting", Text: "x"}); err != nil {
		t.Fatal(err)
	}

	c := newClient(t, env)
	c.loginFromOutbox(staff(t, env, vocab.RoleComms)) // SMTP is off: the code waits in the outbox
	a := c.get("/staff/")
	if a.status != http.StatusOK {
		t.Fatalf("home: HTTP %d", a.status)
	}
	for _, want := range []string{
		`<span class="n">2</span> subscribed now`,
		"Summer appeal</a>: Mon 1 Jul 2030, 09:30",
		"The campaign &#34;Spring news&#34; is paused: the relay refused 12 messages in a row: 554 5.7.1 blocked",
		"The Facebook token has expired",
		"messages are waiting in the outbox because sending mail (SMTP) is off",
		"Winter news</a></td><td>sent</td><td>1,490 of 1,500</td><td>4</td><td>6</td><td>3</td>",
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("home lacks %q", want)
		}
	}
	if !strings.Contains(a.body, "To do: Set up sending mail (SMTP)") {
		t.Errorf("the checklist doesn't ask for SMTP while it is off")
	}
}
