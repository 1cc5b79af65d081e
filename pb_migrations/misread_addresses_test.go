package pb_migrations_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/erasure"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

const misreadMigration = "1764086540_misread_addresses.go"

// rerun runs the address check migration again on a live app, as `serve`
// would on a database that had not had it yet.
func rerun(t *testing.T, app core.App) {
	t.Helper()
	if _, err := app.DB().Delete(core.DefaultMigrationsTable, dbx.HashExp{"file": misreadMigration}).Execute(); err != nil {
		t.Fatal(err)
	}
	applied, err := core.NewMigrationsRunner(app, core.AppMigrations).Up()
	if err != nil || !slices.Contains(applied, misreadMigration) {
		t.Fatalf("migration up: applied %v, %v", applied, err)
	}
}

// Rows stored before addresses were checked for their shape: those that
// reach a suppressed, erased or unsubscribed person, or nobody can tell
// whom, are never mailed again (neither queued mail nor a campaign); one
// that reaches someone else is tagged for staff and still mailed.
func TestMisreadAddressesAreStoppedOrFlagged(t *testing.T) {
	env := testkit.Start(t, testkit.Options{SMTPDown: true})
	app := env.App
	topic, err := app.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	manual := core.NewRecord(testkit.Collection(t, app, vocab.Suppressions))
	manual.Set("email_hash", "victim@example.org")
	manual.Set("reason", vocab.SuppressManual)
	if err := app.Save(manual); err != nil {
		t.Fatal(err)
	}
	people := testkit.Subscribers(t, app, 2) // reader00000 is erased, reader00001 unsubscribes
	if _, err := (&erasure.Eraser{App: app, Hash: signup.HashEmail}).Erase(people[0].Id); err != nil {
		t.Fatal(err)
	}
	people[1].Set("status", vocab.StatusUnsubscribed)
	if err := app.Save(people[1]); err != nil {
		t.Fatal(err)
	}

	// As an older version stored them: no hooks, no checks.
	stopped := []string{"=?utf-8?q?victim?=@example.org", "=?utf-8?q?reader00000?=@example.org", `"reader00001"@example.org`, "=?x-unknown?q?who?=@example.org", "Victim@Example.org"}
	flagged, plain := "=?utf-8?q?fresh?=@example.org", "plain@example.org"
	ids := map[string]string{}
	for _, email := range append(slices.Clone(stopped), flagged, plain) {
		id := core.GenerateDefaultRandomId()
		ids[email] = id
		now := types.NowDateTime().String()
		if _, err := app.DB().Insert(vocab.Supporters, dbx.Params{
			"id": id, "email": email, "status": vocab.StatusSubscribed, "topics": `["` + topic.Id + `"]`, "tags": `["volunteer"]`,
			"notes": "Met at the Leeds fair.", "created": now, "updated": now,
		}).Execute(); err != nil {
			t.Fatal(err)
		}
		if _, err := app.DB().Insert(vocab.Outbox, dbx.Params{
			"id": core.GenerateDefaultRandomId(), "to": email, "supporter": id, "kind": vocab.KindWelcome, "subject": "Welcome", "text": "Hello",
			"status": vocab.OutboxQueued, "next_attempt_at": now, "created": now, "updated": now,
		}).Execute(); err != nil {
			t.Fatal(err)
		}
	}

	rerun(t, app)
	for _, email := range append(slices.Clone(stopped), flagged, plain) {
		sup, err := app.FindRecordById(vocab.Supporters, ids[email])
		if err != nil {
			t.Fatal(err)
		}
		suppressed, err := signup.IsSuppressed(app, email)
		if err != nil {
			t.Fatal(err)
		}
		queued := env.Count(t, vocab.Outbox, "supporter = '"+sup.Id+"' && status = 'queued'")
		tagged := slices.Equal(sup.GetStringSlice("tags"), []string{"volunteer", signup.CheckAddressTag})
		noted := strings.HasPrefix(sup.GetString("notes"), "Met at the Leeds fair.\n\nAddress check ")
		switch {
		case sup.GetString("status") != vocab.StatusSubscribed:
			t.Errorf("%s: status changed to %s", email, sup.GetString("status"))
		case email == plain:
			if !slices.Equal(sup.GetStringSlice("tags"), []string{"volunteer"}) || suppressed || queued != 1 {
				t.Errorf("%s: a plain address was touched: tags %v, suppressed %v, queued %d", email, sup.GetStringSlice("tags"), suppressed, queued)
			}
		case email == flagged:
			if !tagged || !noted || suppressed || queued != 1 || !strings.Contains(sup.GetString("notes"), "Mail to it goes on") {
				t.Errorf("%s: want tagged and noted, still mailed; got tags %v, notes %q, suppressed %v, queued %d", email, sup.GetStringSlice("tags"), sup.GetString("notes"), suppressed, queued)
			}
		default:
			if !tagged || !noted || !suppressed || queued != 0 || !strings.Contains(sup.GetString("notes"), "now suppressed") {
				t.Errorf("%s: want tagged, noted, suppressed, nothing queued; got tags %v, notes %q, suppressed %v, queued %d", email, sup.GetStringSlice("tags"), sup.GetString("notes"), suppressed, queued)
			}
		}
		if strings.Contains(sup.GetString("notes"), "victim") || strings.Contains(sup.GetString("notes"), "reader") {
			t.Errorf("%s: the note names an address: %q", email, sup.GetString("notes"))
		}
	}

	// Running it again changes nothing.
	before := testkit.Dump(t, app, vocab.Supporters, vocab.Suppressions, vocab.Outbox)
	rerun(t, app)
	if after := testkit.Dump(t, app, vocab.Supporters, vocab.Suppressions, vocab.Outbox); after != before {
		t.Errorf("a second run changed the database")
	}

	// The relay comes up and a newsletter goes out: only the plain and the
	// flagged rows get mail (each its queued welcome and the campaign).
	env.SMTP.Start(t)
	testkit.DueCampaign(t, app, "News", "Hello {{.FirstName}}")
	env.SMTP.WaitFor(t, plain, 2, 20*time.Second)
	env.SMTP.WaitFor(t, flagged, 2, 20*time.Second)
	testkit.Eventually(t, 20*time.Second, func() bool {
		c, err := app.FindFirstRecordByData(vocab.Campaigns, "subject", "News")
		return err == nil && c.GetString("status") == vocab.CampaignSent
	})
	for _, m := range env.SMTP.Mails() {
		if !slices.Equal(m.To, []string{plain}) && !slices.Equal(m.To, []string{flagged}) {
			t.Errorf("mail went to %v", m.To)
		}
	}
	if n := env.Count(t, vocab.Deliveries, "status = 'skipped'"); n != len(stopped) {
		t.Errorf("%d campaign deliveries skipped, want %d", n, len(stopped))
	}
}
