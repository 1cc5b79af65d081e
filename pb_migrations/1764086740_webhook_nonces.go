package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/bouncehooks"
)

// The signature tokens bounce webhooks have accepted (bouncehooks.NonceTable),
// so a captured Mailgun signature is never accepted twice: a plain table,
// read only by the webhook code (no REST API, no rules).
func init() {
	m.Register(func(app core.App) error {
		if _, err := app.DB().NewQuery("CREATE TABLE IF NOT EXISTS " + bouncehooks.NonceTable + " (provider TEXT NOT NULL, nonce TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (provider, nonce)) WITHOUT ROWID").Execute(); err != nil {
			return err
		}
		_, err := app.DB().NewQuery("CREATE INDEX IF NOT EXISTS idx_" + bouncehooks.NonceTable + "_seen_at ON " + bouncehooks.NonceTable + " (seen_at)").Execute()
		return err
	}, func(app core.App) error {
		_, err := app.DB().NewQuery("DROP TABLE IF EXISTS " + bouncehooks.NonceTable).Execute()
		return err
	})
}
