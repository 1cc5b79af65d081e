package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Saved segments: named, typed audiences (campaigns.Segment) that a
// campaign or schedule can target beside its topics. Staff read and write
// them; a giving filter is for admins alone (internal/segments).
func init() {
	m.Register(func(app core.App) error {
		topics, err := app.FindCollectionByNameOrId(vocab.Topics)
		if err != nil {
			return err
		}
		seg := core.NewBaseCollection(vocab.Segments)
		seg.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
			&core.RelationField{Name: "topics", CollectionId: topics.Id, MaxSelect: 100, Help: "Only supporters in one of these topics (empty: any)."},
			&core.JSONField{Name: "tags", MaxSize: 4096, Help: `Only supporters with one of these tags, e.g. ["leeds"] (empty: any).`},
			&core.SelectField{Name: "statuses", MaxSelect: len(vocab.SupporterStatuses), Values: vocab.SupporterStatuses,
				Help: "Only supporters with one of these statuses (empty: any). Campaigns mail subscribed supporters only."},
			&core.DateField{Name: "joined_after", Help: "Only supporters who joined (confirmed, or else were first stored) after this."},
			&core.DateField{Name: "joined_before", Help: "Only supporters who joined before this."},
			&core.JSONField{Name: "postcode_areas", MaxSize: 4096, Help: `Only supporters whose postcode is in one of these areas, e.g. ["LS", "M"].`},
			&core.SelectField{Name: "giving", MaxSelect: 1, Values: []string{"donated", "not_donated", "active_pledge"},
				Help: "Admins only: has donated, has not, or has an active pledge."},
		)
		seg.Fields.Add(timestamps()...)
		setRules(seg, ruleStaff)
		if err := app.Save(seg); err != nil {
			return err
		}
		for _, name := range []string{vocab.Campaigns, vocab.Schedules} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				return err
			}
			c.Fields.Add(&core.RelationField{Name: "segment", CollectionId: seg.Id, MaxSelect: 1,
				Help: "Optional: only the supporters of its topics who are also in this saved segment."})
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	}, func(app core.App) error {
		for _, name := range []string{vocab.Campaigns, vocab.Schedules} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				return err
			}
			c.Fields.RemoveByName("segment")
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return deleteCollections(app, vocab.Segments)
	})
}
