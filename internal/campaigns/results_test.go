package campaigns_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// execSQL runs a statement on the app's writer, failing the test on error.
func execSQL(t testing.TB, env *testkit.Env, q string) {
	t.Helper()
	if _, err := env.App.NonconcurrentDB().NewQuery(q).Execute(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// campaign reads a campaign record.
func campaign(t testing.TB, env *testkit.Env, id string) *core.Record {
	t.Helper()
	c, err := env.App.FindRecordById(vocab.Campaigns, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readerMails counts the messages that reached supporters (not staff).
func readerMails(env *testkit.Env) int {
	n := 0
	for _, m := range env.SMTP.Mails() {
		if strings.HasPrefix(m.To[0], "reader") {
			n++
		}
	}
	return n
}

// Results that can't be written (here a trigger makes the database refuse
// every delivery marked sent, as a full disk would) stop the run: no more
// than the in-flight messages go out unrecorded, the campaign pauses with
// the reason, and the writer keeps retrying its batch. Once writes work
// again everything that went out is recorded, and a resume reaches the rest
// once.
func TestUnrecordableResultsStopTheRunAndPause(t *testing.T) {
	const n = 600
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	admin := addAdmin(t, env)
	sups := seed(t, env, n)
	execSQL(t, env, `CREATE TRIGGER refuse_sent BEFORE UPDATE OF status ON deliveries
		WHEN NEW.status = 'sent' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`)
	c := schedule(t, env)

	limit := campaigns.Config{}.InFlightLimit()
	var status string
	testkit.Eventually(t, 30*time.Second, func() bool {
		status = campaign(t, env, c.Id).GetString("status")
		return status == vocab.CampaignPaused || readerMails(env) > limit
	})
	time.Sleep(500 * time.Millisecond) // time for any sender that was not held back
	if got := readerMails(env); status != vocab.CampaignPaused || got > limit || got == 0 {
		t.Fatalf("with results unrecordable: campaign %s after %d messages, want paused after 1 to %d", status, got, limit)
	}
	paused := waitStatus(t, env, c.Id, vocab.CampaignPaused, time.Second)
	if note := paused.GetString("last_error"); !strings.Contains(note, "could not be recorded") || !strings.Contains(note, "database or disk is full") {
		t.Errorf("pause note = %q", note)
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return alertsTo(t, env, admin, "results") > 0 })

	// The writer is still trying: once the database takes writes again, what
	// went out is recorded as sent, and nothing more goes out.
	execSQL(t, env, `DROP TRIGGER refuse_sent`)
	out := readerMails(env)
	filter := "campaign = '" + c.Id + "'"
	testkit.Eventually(t, 10*time.Second, func() bool { return env.Count(t, vocab.Deliveries, filter+" && status = 'sent'") == out })
	time.Sleep(300 * time.Millisecond)
	if got, rec := readerMails(env), waitStatus(t, env, c.Id, vocab.CampaignPaused, time.Second); got != out || rec.GetInt("sent") != out {
		t.Errorf("after the writes recovered: %d messages (was %d), sent counter %d", got, out, rec.GetInt("sent"))
	}

	if status, body := apiPatch(t, env, comms, c.Id, `{"status":"sending"}`); status != http.StatusOK {
		t.Fatalf("resume = %d %s", status, body)
	}
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	assertOncePerRecipient(t, env, sups, c.Id)
	if done.GetInt("sent") != n || done.GetString("last_error") != "" {
		t.Errorf("after the resume: sent %d last_error %q", done.GetInt("sent"), done.GetString("last_error"))
	}
}
