package pb_migrations_test

import (
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	_ "supportercrm/pb_migrations"
)

// Suppression notes written before the engine stored codes only held
// go-mail's text, naming the recipient: the migration cuts every note with
// an address down to its campaign and codes, and leaves the others.
func TestSuppressionNotesLoseTheirAddresses(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	notes := map[string]string{
		"a": `campaign 4kbdpbhfk3n8vww: sending SMTP RCPT TO command: 550 "5.1.1 <reader3@example.org>: Recipient address rejected: User unknown", affected recipient(s): <reader3@example.org>, affected message ID: <f5de@lanternhouse.org.uk>`,
		"b": `campaign x1: failed: 554 mailbox x@y.example unavailable`,
		"c": `asked by phone, wrote from jo@example.org`,
		"d": `Erased on request on 2026-11-02.`,
		"e": `campaign x2: 550 5.1.1`,
	}
	want := map[string]string{
		"a": "campaign 4kbdpbhfk3n8vww: 550 5.1.1",
		"b": "campaign x1: 554",
		"c": "",
		"d": notes["d"],
		"e": notes["e"],
	}
	for id, note := range notes {
		_, err := app.DB().Insert("suppressions", dbx.Params{"id": id + "00000000000000", "email_hash": id, "reason": "hard_bounce", "note": note}).Execute()
		if err != nil {
			t.Fatal(err)
		}
	}
	ran := false
	for _, m := range core.AppMigrations.Items() {
		if m.File == "1764086510_suppression_notes.go" {
			if err := m.Up(app); err != nil {
				t.Fatal(err)
			}
			ran = true
		}
	}
	if !ran {
		t.Fatal("migration not found")
	}
	for id, w := range want {
		var got string
		if err := app.DB().Select("note").From("suppressions").Where(dbx.HashExp{"email_hash": id}).Row(&got); err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("note %s = %q, want %q", id, got, w)
		}
	}
}
