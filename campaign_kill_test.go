package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// The real binary is stopped in the middle of a campaign, then restarted:
// after SIGKILL nobody is missed and duplicates stay within the in-flight
// limit; after SIGTERM there are none.
func TestCampaignSurvivesKill(t *testing.T) {
	testCampaignStop(t, syscall.SIGKILL, campaigns.Config{Connections: 8}.InFlightLimit())
}

func TestCampaignSurvivesSIGTERM(t *testing.T) {
	testCampaignStop(t, syscall.SIGTERM, 0)
}

func testCampaignStop(t *testing.T, sig syscall.Signal, maxDuplicates int) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const n = 3000
	bin := buildBinary(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	sink := testkit.NewSMTPSink(t)
	sink.Start(t)
	configure(t, dataDir, "http://"+addr, sink.Port, func(app core.App) {
		testkit.Subscribers(t, app, n)
		testkit.DueCampaign(t, app, "Help us open a third house, {{.FirstName}}", "Dear {{.FirstName}},\n\nThis winter we can open a third safe house.")
	})
	// After a kill the campaign waits for its lease to expire: 3 s here.
	env := []string{"CRM_SEND_RATE=800", "CRM_SMTP_CONNECTIONS=8", "CRM_CAMPAIGN_LEASE_SECONDS=3"}

	srv := start(t, bin, dataDir, addr, env...)
	for len(sink.Mails()) < n/3 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	atStop := len(sink.Mails())
	if atStop >= n {
		t.Fatalf("the campaign finished before the %v (%d mails); slow it down", sig, atStop)
	}

	srv = start(t, bin, dataDir, addr, env...)
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dataDir}) // a second reader, as SQLite allows
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	var c *core.Record
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if c, err = app.FindFirstRecordByFilter(vocab.Campaigns, ""); err == nil && c.GetString("status") == vocab.CampaignSent {
			break
		}
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()

	mails := sink.Mails()
	if got := unique(sink); got != n {
		t.Fatalf("%d of %d recipients reached (stopped at %d mails)", got, n, atStop)
	}
	if dup := len(mails) - n; dup > maxDuplicates {
		t.Errorf("%d duplicates after %v, want at most %d", dup, sig, maxDuplicates)
	} else {
		t.Logf("%v at %d mails: %d duplicates (limit %d)", sig, atStop, dup, maxDuplicates)
	}
	if rows, err := app.CountRecords(vocab.Deliveries); err != nil || rows != n {
		t.Fatalf("deliveries = %d (%v), want one per recipient", rows, err)
	}
	if c == nil || c.GetString("status") != vocab.CampaignSent || c.GetInt("sent") != n {
		t.Fatalf("campaign after restart: %v", c)
	}
	if left := mustCount(t, app, vocab.Deliveries, "status != 'sent'"); left != 0 {
		t.Errorf("%d deliveries not sent", left)
	}
}

func unique(s *testkit.SMTPSink) int {
	seen := map[string]bool{}
	for _, m := range s.Mails() {
		for _, r := range m.To {
			seen[r] = true
		}
	}
	return len(seen)
}

func mustCount(t *testing.T, app core.App, collection, filter string) int {
	t.Helper()
	recs, err := app.FindRecordsByFilter(collection, filter, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}
