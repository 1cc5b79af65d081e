package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Recurring newsletters: a cron spec in a time zone, the content each run's
// campaign starts from, and the next run stored so nothing depends on memory.
func init() {
	m.Register(func(app core.App) error {
		topics, err := app.FindCollectionByNameOrId(vocab.Topics)
		if err != nil {
			return err
		}
		campaigns, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		s := core.NewBaseCollection(vocab.Schedules)
		s.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
			&core.BoolField{Name: "enabled"},
			&core.TextField{Name: "spec", Required: true, Max: 100, Help: `When to run: 5 cron fields ("0 9 1 * *" = 09:00 on the 1st) or @monthly, @weekly, @daily.`},
			&core.TextField{Name: "timezone", Max: 60, Help: "Default Europe/London; clock changes neither skip nor double a run."},
			&core.BoolField{Name: "auto_send", Help: "Send each run's campaign at once; otherwise it is left as a draft and staff are emailed."},
			&core.TextField{Name: "subject", Required: true, Max: 300},
			&core.TextField{Name: "preheader", Max: 300},
			&core.SelectField{Name: "body_format", Required: true, MaxSelect: 1, Values: []string{vocab.FormatMarkdown, vocab.FormatHTML}},
			&core.TextField{Name: "body", Required: true, Max: 1 << 20},
			&core.TextField{Name: "layout", Max: 60},
			&core.RelationField{Name: "topics", Required: true, CollectionId: topics.Id, MaxSelect: 100},
			&core.JSONField{Name: "tags", MaxSize: 4096},
			&core.DateField{Name: "next_run_at", Help: "Set from the spec on save."},
			&core.DateField{Name: "last_run_at"},
			&core.RelationField{Name: "last_campaign", CollectionId: campaigns.Id, MaxSelect: 1},
			&core.TextField{Name: "last_error", Max: 2000},
		)
		s.Fields.Add(timestamps()...)
		s.AddIndex("idx_schedules_due", false, "enabled, next_run_at", "")
		s.ListRule = ruleStaff
		s.ViewRule = ruleStaff
		s.CreateRule = ruleStaff
		s.UpdateRule = ruleStaff
		s.DeleteRule = ruleAdmin
		return app.Save(s)
	}, func(app core.App) error {
		return deleteCollections(app, vocab.Schedules)
	})
}
