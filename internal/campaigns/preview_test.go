package campaigns_test

import (
	"strings"
	"testing"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// A preview renders through the engine for the chosen supporter, or for
// the sample reader, sends nothing, and writes nothing; one that doesn't
// render says why, at the line typed.
func TestPreviewForASupporterSendsNothing(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	e := bareEngine(t, env, campaigns.Config{}, false)
	sup := seed(t, env, 2)[1]
	c := campaigns.Content{Subject: "News for {{.FirstName}}", Preheader: "Spring", Format: vocab.FormatMarkdown,
		Body: "# Dear {{.FirstName}} {{.LastName}}\n\n[Unsubscribe]({{.UnsubscribeURL}})"}
	before := testkit.Dump(t, env.App, vocab.Campaigns, vocab.Deliveries, vocab.Outbox)

	m, problems, err := e.Preview(c, sup.Id)
	if err != nil || problems != nil {
		t.Fatalf("preview: %v %v", err, problems)
	}
	if m.Subject != "News for Reader1" || !strings.Contains(m.HTML, "Dear Reader1") || !strings.Contains(m.Text, "Dear Reader1") {
		t.Errorf("not rendered for the supporter: %q\n%s", m.Subject, m.Text)
	}
	if !strings.Contains(m.HTML, env.URL+"/unsubscribe?token=test-copy") {
		t.Error("the preview's unsubscribe link is not the test copy's")
	}
	m, _, _ = e.Preview(c, "")
	if m.Subject != "News for Alex" {
		t.Errorf("sample preview subject %q", m.Subject)
	}
	_, problems, err = e.Preview(campaigns.Content{Subject: "Hi", Format: vocab.FormatMarkdown, Body: "# News\n\nDear {{.Firstname}}"}, "")
	if err != nil || len(problems) != 1 || problems[0].Line != 3 || !strings.Contains(problems[0].Msg, "did you mean FirstName?") {
		t.Errorf("broken preview: %v %+v", err, problems)
	}
	if _, problems, _ = e.Preview(c, "nosuchsupporter"); len(problems) != 1 || problems[0].Field != "supporter" {
		t.Errorf("unknown supporter: %+v", problems)
	}
	if after := testkit.Dump(t, env.App, vocab.Campaigns, vocab.Deliveries, vocab.Outbox); after != before {
		t.Errorf("a preview changed the database:\n%s\n%s", before, after)
	}
	if n := len(env.SMTP.Mails()); n != 0 {
		t.Errorf("a preview sent %d mails", n)
	}
}
