package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// The public archive: a sent campaign staff mark public is listed at
// /archive, shown at /archive/{slug} and carried in /archive/feed.xml.
// Campaigns are private by default; internal/archive refuses the flag on
// one not yet sent and fills in a slug.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		c.Fields.Add(
			&core.BoolField{Name: "public", Help: "Show it in the public archive (/archive) and its feed. Only a sent campaign can be public; it is shown as to a reader called \"friend\", with no personal links."},
			&core.TextField{Name: "slug", Max: 80, Pattern: `^[a-z0-9][a-z0-9-]*$`, Help: "Its address in the archive, /archive/{slug}. Filled in from the subject when made public; lowercase letters, digits and dashes."},
		)
		c.AddIndex("idx_campaigns_slug", true, "slug", "slug != ''")
		c.AddIndex("idx_campaigns_archive", false, "public, status, finished_at", "")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		c.RemoveIndex("idx_campaigns_slug")
		c.RemoveIndex("idx_campaigns_archive")
		c.Fields.RemoveByName("public")
		c.Fields.RemoveByName("slug")
		return app.Save(c)
	})
}
