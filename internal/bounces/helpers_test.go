package bounces_test

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/bounces"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// bounceDomain is the VERP domain of the test apps.
const bounceDomain = "bounces.example.org"

// start runs an app whose messages carry VERP envelope senders.
func start(t testing.TB, more func(*pb_hooks.Config)) *testkit.Env {
	t.Helper()
	return testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) {
		c.Bounces.Domain = bounceDomain
		c.Campaigns.FlushInterval = 20 * time.Millisecond
		c.Campaigns.WatchInterval = 50 * time.Millisecond
		if more != nil {
			more(c)
		}
	}})
}

// sendCampaign sends a campaign to n new subscribers and waits until it is
// sent; it returns the campaign and the supporters.
func sendCampaign(t testing.TB, env *testkit.Env, n int) (*core.Record, []*core.Record) {
	t.Helper()
	sups := testkit.Subscribers(t, env.App, n)
	c := testkit.DueCampaign(t, env.App, "Winter news", "Dear {{.FirstName}}, thank you.")
	testkit.Eventually(t, 60*time.Second, func() bool {
		r, err := env.App.FindRecordById(vocab.Campaigns, c.Id)
		return err == nil && r.GetString("status") == vocab.CampaignSent
	})
	c, err := env.App.FindRecordById(vocab.Campaigns, c.Id)
	if err != nil {
		t.Fatal(err)
	}
	return c, sups
}

// delivery is the campaign's delivery to a supporter.
func delivery(t testing.TB, app core.App, campaign, supporter string) *core.Record {
	t.Helper()
	d, err := app.FindFirstRecordByFilter(vocab.Deliveries, "campaign = {:c} && supporter = {:s}", map[string]any{"c": campaign, "s": supporter})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func record(t testing.TB, app core.App, coll, id string) *core.Record {
	t.Helper()
	r, err := app.FindRecordById(coll, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// resend sends one more campaign to every subscriber and waits until it is
// sent.
func resend(t testing.TB, env *testkit.Env, subject string) *core.Record {
	t.Helper()
	c := testkit.DueCampaign(t, env.App, subject, "Dear {{.FirstName}}, more news.")
	testkit.Eventually(t, 60*time.Second, func() bool {
		r, err := env.App.FindRecordById(vocab.Campaigns, c.Id)
		return err == nil && r.GetString("status") == vocab.CampaignSent
	})
	return record(t, env.App, vocab.Campaigns, c.Id)
}

// process applies a report or fails the test.
func process(t testing.TB, app core.App, r bounces.Report) bounces.Outcome {
	t.Helper()
	out, err := bounces.Process(app, r)
	if err != nil {
		t.Fatalf("Process(%+v): %v", r, err)
	}
	return out
}
