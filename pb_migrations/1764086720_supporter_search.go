package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// The staff console's supporter search matches the start of a first or last
// name whatever its case ("smi" finds Smith). These expression indexes let
// it do so over a whole list without a scan; they hold lower(), which SQLite
// folds for A to Z only, so they serve every writer (the import writes rows
// without record hooks) and any tool that opens the database. Addresses are
// stored lowercased, so the email index serves address prefixes already.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Supporters)
		if err != nil {
			return err
		}
		c.AddIndex("idx_supporters_first_lower", false, "lower(first_name)", "")
		c.AddIndex("idx_supporters_last_lower", false, "lower(last_name)", "")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Supporters)
		if err != nil {
			return err
		}
		c.RemoveIndex("idx_supporters_first_lower")
		c.RemoveIndex("idx_supporters_last_lower")
		return app.Save(c)
	})
}
