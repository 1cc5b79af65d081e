package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// Saved segments gain an engagement filter (issue 13): supporters who
// opened or clicked, or did not, one of the last N sent campaigns that had
// tracking on (campaigns.Segment.Engagement).
func init() {
	m.Register(func(app core.App) error {
		seg, err := app.FindCollectionByNameOrId(vocab.Segments)
		if err != nil {
			return err
		}
		seg.Fields.Add(
			&core.SelectField{Name: "engagement", MaxSelect: 1, Values: []string{"engaged", "not_engaged"},
				Help: "Only supporters who opened or clicked (engaged), or did not (not_engaged), one of the last few campaigns sent with tracking on."},
			&core.NumberField{Name: "engagement_campaigns", OnlyInt: true, Min: types.Pointer(0.0), Max: types.Pointer(50.0),
				Help: "How many of the last tracked campaigns the engagement filter looks at (empty: 3)."},
		)
		return app.Save(seg)
	}, func(app core.App) error {
		seg, err := app.FindCollectionByNameOrId(vocab.Segments)
		if err != nil {
			return err
		}
		seg.Fields.RemoveByName("engagement")
		seg.Fields.RemoveByName("engagement_campaigns")
		return app.Save(seg)
	})
}
