package campaignui_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console/campaignui"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/templates"
)

// Complaints that arrive after sending (bounce reports move the campaign's
// complaints counter) show in the counters the page and its stream draw.
func TestProgressShowsComplaints(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	topic, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	c := core.NewRecord(testkit.Collection(t, env.App, vocab.Campaigns))
	c.Load(map[string]any{"name": "News", "subject": "News", "body_format": vocab.FormatMarkdown,
		"body": "Hello", "topics": []string{topic.Id}, "status": vocab.CampaignDraft})
	if err := env.App.Save(c); err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.DB().NewQuery(`UPDATE {{campaigns}} SET total = 1000, sent = 997, bounced = 3, complaints = 2 WHERE id = {:id}`).
		Bind(dbx.Params{"id": c.Id}).Execute(); err != nil {
		t.Fatal(err)
	}

	pr, err := campaignui.ReadProgressForTest(env.App, c.Id)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Complaints != 2 || pr.Bounced != 3 || pr.Done != 1000 {
		t.Fatalf("progress %+v, want 2 complaints, 3 bounced, 1000 done", pr)
	}
	parts, err := campaignui.ParsePartsForTest(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := parts.ExecuteTemplate(&b, "progress", pr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `id="n-complaints">2<`) {
		t.Fatalf("the counters don't show the complaints:\n%s", b.String())
	}
}

// A campaign sent with tracking on shows its opens, clicks and top links on
// its page; one sent without shows no such section.
func TestCampaignPageShowsEngagementWhenTracked(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	topic, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	campaign := func(tracked bool) *core.Record {
		c := core.NewRecord(testkit.Collection(t, env.App, vocab.Campaigns))
		c.Load(map[string]any{"name": "News", "subject": "News", "body_format": vocab.FormatMarkdown,
			"body": "Hello", "topics": []string{topic.Id}, "status": vocab.CampaignDraft, "tracking": tracked})
		if err := env.App.Save(c); err != nil {
			t.Fatal(err)
		}
		if _, err := env.App.DB().NewQuery(`UPDATE {{campaigns}} SET status = 'sent', total = 3, sent = 3 WHERE id = {:id}`).
			Bind(dbx.Params{"id": c.Id}).Execute(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	tracked, untracked := campaign(true), campaign(false)
	events := testkit.Collection(t, env.App, vocab.TrackingEvents)
	for _, ev := range []struct{ delivery, kind, url string }{
		{"d1", vocab.TrackOpen, ""}, {"d1", vocab.TrackOpen, ""}, {"d2", vocab.TrackOpen, ""},
		{"d1", vocab.TrackClick, "https://example.org/appeal"}, {"d2", vocab.TrackClick, "https://example.org/appeal"},
		{"d2", vocab.TrackClick, "https://example.org/appeal"},
	} {
		r := core.NewRecord(events)
		r.Load(map[string]any{"delivery": ev.delivery, "campaign": tracked.Id, "supporter": "s" + ev.delivery, "kind": ev.kind, "url": ev.url})
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
	}

	staff := core.NewRecord(testkit.Collection(t, env.App, vocab.Staff))
	staff.SetEmail("comms@example.org")
	staff.SetPassword("a-long-password-1")
	staff.Set("role", vocab.RoleComms)
	if err := env.App.Save(staff); err != nil {
		t.Fatal(err)
	}
	tok, err := staff.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	page := func(id string) string {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/staff/campaigns/"+id, nil)
		req.AddCookie(&http.Cookie{Name: "staff_session", Value: tok})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("campaign page: HTTP %d", res.StatusCode)
		}
		return string(body)
	}
	body := page(tracked.Id)
	for _, want := range []string{`id="n-opens">2<`, `id="n-clicks">2<`, "<td>https://example.org/appeal</td><td>2</td><td>3</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the tracked campaign's page lacks %q", want)
		}
	}
	if strings.Contains(page(untracked.Id), `id="engagement"`) {
		t.Error("an untracked campaign's page shows opens and clicks")
	}
}
