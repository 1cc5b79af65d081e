package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// The console home page's growth chart counts consent rows per week:
// grants and withdrawals by when they were made, confirmations by when
// they happened. These indexes make each count a range scan of the weeks
// shown instead of a pass over every consent.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Consents)
		if err != nil {
			return err
		}
		c.AddIndex("idx_consents_growth", false, "action, created", "")
		c.AddIndex("idx_consents_confirmed", false, "confirmed_at", "confirmed_at != ''")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Consents)
		if err != nil {
			return err
		}
		c.RemoveIndex("idx_consents_growth")
		c.RemoveIndex("idx_consents_confirmed")
		return app.Save(c)
	})
}
