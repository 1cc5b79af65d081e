package signup_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// Bots posting one victim's address from many places get it at most three
// confirmation or "already subscribed" emails in 24 hours, and the whole
// app sends at most its daily number; every signup gets the same answer.
// (The 10-minute spacing between two emails to one address is switched off
// here, to reach the daily limit without waiting.)
func TestConfirmationFloodIsCapped(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) { c.ResendAfter = 0; c.ConfirmationsPerDay = 9 }})
	app := env.App
	testkit.Login(t, env, "admin")
	topic, err := app.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	known := core.NewRecord(testkit.Collection(t, app, vocab.Supporters))
	known.Load(map[string]any{"email": "known@example.org", "status": vocab.StatusSubscribed, "topics": []string{topic.Id}})
	if err := app.Save(known); err != nil {
		t.Fatal(err)
	}
	// Three confirmations to old@ a little over a day ago no longer count.
	for range 3 {
		at := types.NowDateTime().Add(-25 * time.Hour).String()
		if _, err := app.DB().Insert(vocab.Outbox, dbx.Params{
			"id": core.GenerateDefaultRandomId(), "to": "old@example.org", "kind": vocab.KindConfirm, "subject": "Please confirm",
			"status": vocab.OutboxSent, "created": at, "updated": at,
		}).Execute(); err != nil {
			t.Fatal(err)
		}
	}

	var want string
	post := func(email string, times int) {
		t.Helper()
		for range times {
			status, body := env.PostJSON(t, "/api/subscribe", `{"email":"`+email+`","topics":["newsletter"],"consent":true}`)
			if status != http.StatusAccepted {
				t.Fatalf("signup %s = %d %s", email, status, body)
			}
			if want == "" {
				want = canonicalJSON(t, body)
			} else if got := canonicalJSON(t, body); got != want {
				t.Fatalf("signup %s answered %s, others %s", email, got, want)
			}
		}
	}
	post("first@example.org", 1)  // 1 sent today
	post("victim@example.org", 6) // 3 of them mailed: 4
	post("known@example.org", 5)  // "already subscribed", 3 times: 7
	post("old@example.org", 1)    // 8
	post("last@example.org", 1)   // 9: the day's last
	post("late@example.org", 2)   // over the app's daily number: not mailed
	post("victim@example.org", 1)

	testkit.Eventually(t, 10*time.Second, func() bool { return env.Count(t, vocab.Outbox, "status = 'queued'") == 0 })
	for email, n := range map[string]int{"first@example.org": 1, "victim@example.org": 3, "known@example.org": 3, "old@example.org": 1, "last@example.org": 1, "late@example.org": 0} {
		if got := len(env.SMTP.To(email)); got != n {
			t.Errorf("%s got %d emails, want %d", email, got, n)
		}
	}
	if n := env.Count(t, vocab.Outbox, "kind = 'confirm' || kind = 'already_subscribed'") - 3; n != 9 {
		t.Errorf("%d emails sent in all, want the day's 9", n)
	}
	alerts, err := app.FindRecordsByFilter(vocab.Outbox, "kind = 'staff_alert'", "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0].GetString("subject"), "daily cap of 9") {
		t.Errorf("%d staff alerts, want one about the cap", len(alerts))
	}
}
