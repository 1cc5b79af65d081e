package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Open and click tracking, off by default: a campaign's switch, the
// charity's statement of it for the privacy wording, and the events. Staff
// read the events; only the app writes them (internal/tracking). The ids
// are plain text, not relations, so that a click's one INSERT stays cheap;
// erasure deletes a supporter's rows.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		c.Fields.Add(&core.BoolField{Name: "tracking",
			Help: "Count opens (a pixel) and clicks (signed redirects) of this campaign. Off unless the privacy notice says so."})
		if err := app.Save(c); err != nil {
			return err
		}
		ch, err := app.FindCollectionByNameOrId(vocab.Charity)
		if err != nil {
			return err
		}
		ch.Fields.Add(&core.TextField{Name: "privacy_tracking", Max: 2000,
			Help: "What the privacy notice says about open and click tracking; shown under the signup form's consent."})
		if err := app.Save(ch); err != nil {
			return err
		}
		ev := core.NewBaseCollection(vocab.TrackingEvents)
		ev.Fields.Add(
			&core.TextField{Name: "delivery", Required: true, Max: 15},
			&core.TextField{Name: "campaign", Required: true, Max: 15},
			&core.TextField{Name: "supporter", Required: true, Max: 15},
			&core.SelectField{Name: "kind", Required: true, MaxSelect: 1, Values: []string{vocab.TrackOpen, vocab.TrackClick}},
			&core.NumberField{Name: "link", OnlyInt: true, Help: "A click's link, by its place in the message (from 0)."},
			&core.TextField{Name: "url", Max: 2048},
		)
		ev.Fields.Add(timestamps()...)
		ev.AddIndex("idx_tracking_campaign", false, "campaign, kind", "")
		ev.AddIndex("idx_tracking_delivery", false, "delivery", "")
		ev.AddIndex("idx_tracking_supporter", false, "supporter", "")
		ev.ListRule, ev.ViewRule = ruleStaff, ruleStaff
		return app.Save(ev)
	}, func(app core.App) error {
		for _, f := range []struct{ coll, field string }{{vocab.Campaigns, "tracking"}, {vocab.Charity, "privacy_tracking"}} {
			c, err := app.FindCollectionByNameOrId(f.coll)
			if err != nil {
				return err
			}
			c.Fields.RemoveByName(f.field)
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return deleteCollections(app, vocab.TrackingEvents)
	})
}
