package campaignui_test

import (
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
