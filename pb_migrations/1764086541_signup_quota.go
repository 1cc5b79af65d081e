package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/signup"
)

// The hourly count of confirmation emails public signups sent, for the
// app-wide daily cap (signup.QuotaTable): a plain table, since nothing but
// the signup code reads it (no REST API, no rules).
func init() {
	m.Register(func(app core.App) error {
		_, err := app.DB().NewQuery("CREATE TABLE IF NOT EXISTS " + signup.QuotaTable + " (hour TEXT PRIMARY KEY NOT NULL, sent INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID").Execute()
		return err
	}, func(app core.App) error {
		_, err := app.DB().NewQuery("DROP TABLE IF EXISTS " + signup.QuotaTable).Execute()
		return err
	})
}
