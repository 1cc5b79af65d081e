package pb_migrations_test

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	_ "supportercrm/pb_migrations"
)

// Every migration can be reverted, newest first, down to an empty schema.
func TestEveryMigrationReverts(t *testing.T) {
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Cleanup()
	reverted, err := core.NewMigrationsRunner(app, core.AppMigrations).Down(len(core.AppMigrations.Items()))
	if err != nil {
		t.Fatal(err)
	}
	if len(reverted) != len(core.AppMigrations.Items()) {
		t.Fatalf("reverted %d of %d migrations", len(reverted), len(core.AppMigrations.Items()))
	}
	for _, n := range []string{"supporters", "topics", "consents", "outbox", "suppressions", "staff", "charity", "campaigns", "deliveries", "schedules", "events", "sync_runs", "donations", "pledges", "gift_aid_declarations", "supporter_timeline", "supporter_giving"} {
		if _, err := app.FindCollectionByNameOrId(n); err == nil {
			t.Errorf("%s still exists", n)
		}
	}
}
