package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// When each event was announced (so the page lists undated announcements
// for a while, not for ever), and the "what's on" digest schedule kind.
func init() {
	m.Register(func(app core.App) error {
		events, err := app.FindCollectionByNameOrId(vocab.Events)
		if err != nil {
			return err
		}
		events.Fields.AddAt(16, &core.DateField{Name: "posted_at", Help: "When Facebook's post announced it."})
		if err := app.Save(events); err != nil {
			return err
		}
		schedules, err := app.FindCollectionByNameOrId(vocab.Schedules)
		if err != nil {
			return err
		}
		schedules.Fields.AddAt(2, &core.SelectField{Name: "kind", MaxSelect: 1, Values: []string{vocab.ScheduleNewsletter, vocab.ScheduleWhatsOn},
			Help: `"whats_on" appends the upcoming events to the body, and skips a run (telling staff) when there are none.`})
		return app.Save(schedules)
	}, func(app core.App) error {
		for coll, field := range map[string]string{vocab.Events: "posted_at", vocab.Schedules: "kind"} {
			c, err := app.FindCollectionByNameOrId(coll)
			if err != nil {
				return err
			}
			c.Fields.RemoveByName(field)
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}
