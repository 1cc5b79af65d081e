package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Campaigns can be archived out of the console's list (a campaign that has
// sent keeps its deliveries, the supporters' mail history, so it is archived
// rather than deleted). The index serves the list: newest first, archived or
// not, a page at a time.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		c.Fields.Add(&core.BoolField{Name: "archived", Help: "Hidden from the console's campaign list; the campaign and its results are kept."})
		c.AddIndex("idx_campaigns_list", false, "archived, created", "")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		c.RemoveIndex("idx_campaigns_list")
		c.Fields.RemoveByName("archived")
		return app.Save(c)
	})
}
