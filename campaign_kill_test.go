package main

import (
	"hash/crc32"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// The real binary sends through a relay that misbehaves as real ones do
// (a first-attempt 451 for one address in ten, the line dropped after its
// 250 to every 13th message, 421 to every 17th RSET, connections closed
// after 2 s idle, which the 30 s wait before a retry always passes), is
// stopped in the middle of the campaign, then restarted: after SIGKILL
// nobody is missed and duplicates stay within the in-flight limit; after
// SIGTERM there are none, and every attempt recorded is one the relay saw.
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
	sink := testkit.NewRelay(t, testkit.RelayOptions{IdleTimeout: 2 * time.Second})
	sink.SetPolicy(func(rcpt string, attempt int) error {
		if attempt == 1 && crc32.ChecksumIEEE([]byte(rcpt))%10 == 0 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	})
	sink.Fail(testkit.AfterData, testkit.Fault{Every: 13})
	sink.Fail(testkit.AtRset, testkit.Fault{Code: 421, Every: 17})
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
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
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
	if sink.Fired(testkit.AfterData) == 0 || sink.Fired(testkit.AtRset) == 0 || sink.IdleCloses() == 0 {
		t.Errorf("the relay's trouble didn't happen: %d drops after data, %d RSET refusals, %d idle closes",
			sink.Fired(testkit.AfterData), sink.Fired(testkit.AtRset), sink.IdleCloses())
	}
	if maxDuplicates == 0 {
		deliveries, err := app.FindAllRecords(vocab.Deliveries)
		if err != nil {
			t.Fatal(err)
		}
		retried := 0
		for _, d := range deliveries {
			if seen := sink.RcptCount(d.GetString("email")); seen != d.GetInt("attempts") {
				t.Errorf("%s: %d attempts recorded, %d seen by the relay", d.GetString("email"), d.GetInt("attempts"), seen)
			}
			if d.GetInt("attempts") > 1 {
				retried++
			}
		}
		if retried == 0 {
			t.Error("no delivery was retried")
		}
	}
}

func unique(s *testkit.SMTPSink) int { return len(s.Accepted()) }

func mustCount(t *testing.T, app core.App, collection, filter string) int {
	t.Helper()
	recs, err := app.FindRecordsByFilter(collection, filter, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}
