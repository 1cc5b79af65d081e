package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// Events from the charity's Facebook Page (or entered by staff), and a log of
// each sync. Facebook-owned fields are written by the sync; the staff-owned
// ones (hidden, featured, blurb, and a date or place when Facebook gives
// none) never are.
func init() {
	m.Register(func(app core.App) error {
		events := core.NewBaseCollection(vocab.Events)
		events.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 300, Presentable: true},
			&core.SelectField{Name: "source", Required: true, MaxSelect: 1, Values: []string{vocab.SourceFacebookPost, vocab.SourceFacebookEvent, vocab.SourceManual}},
			&core.TextField{Name: "facebook_id", Max: 100, Help: "Set by the sync; empty for events entered by staff."},
			&core.TextField{Name: "description", Max: 2 << 20},
			&core.DateField{Name: "start"},
			&core.DateField{Name: "end"},
			&core.BoolField{Name: "date_only", Help: "Facebook gave a date without a time."},
			&core.TextField{Name: "timezone", Max: 60},
			&core.TextField{Name: "place", Max: 500},
			&core.BoolField{Name: "online"},
			&core.URLField{Name: "cover_url"},
			&core.URLField{Name: "ticket_url"},
			&core.URLField{Name: "facebook_url"},
			&core.BoolField{Name: "cancelled"},
			&core.BoolField{Name: "removed", Help: "No longer on the Page (kept, not deleted)."},
			&core.DateField{Name: "facebook_updated"},
			&core.DateField{Name: "synced_at"},
			&core.BoolField{Name: "hidden", Help: "Staff: leave off the events page and newsletters."},
			&core.BoolField{Name: "featured", Help: "Staff: list first."},
			&core.TextField{Name: "blurb", Max: 1000, Help: "Staff: a short text shown instead of Facebook's."},
			&core.DateField{Name: "staff_start", Help: "Staff: the date and time, when Facebook's post gives none."},
			&core.TextField{Name: "staff_place", Max: 500, Help: "Staff: the place, when Facebook's post gives none."},
		)
		events.Fields.Add(timestamps()...)
		events.AddIndex("idx_events_facebook_id", true, "facebook_id", "facebook_id != ''")
		events.AddIndex("idx_events_start", false, "start", "")
		// The public sees what the events page shows; staff see everything.
		events.ListRule = types.Pointer(`(hidden = false && removed = false) || @request.auth.collectionName = "staff"`)
		events.ViewRule = events.ListRule
		events.CreateRule = ruleStaff
		events.UpdateRule = ruleStaff
		events.DeleteRule = ruleAdmin
		if err := app.Save(events); err != nil {
			return err
		}

		runs := core.NewBaseCollection(vocab.SyncRuns)
		runs.Fields.Add(
			&core.TextField{Name: "source", Max: 20, Presentable: true},
			&core.TextField{Name: "trigger", Max: 20},
			&core.DateField{Name: "started"},
			&core.DateField{Name: "finished"},
			&core.NumberField{Name: "fetched", OnlyInt: true},
			&core.NumberField{Name: "created_count", OnlyInt: true},
			&core.NumberField{Name: "updated_count", OnlyInt: true},
			&core.NumberField{Name: "removed_count", OnlyInt: true},
			&core.TextField{Name: "error", Max: 2000},
		)
		runs.Fields.Add(timestamps()...)
		runs.AddIndex("idx_sync_runs_started", false, "started", "")
		runs.ListRule = ruleStaff
		runs.ViewRule = ruleStaff
		return app.Save(runs)
	}, func(app core.App) error {
		return deleteCollections(app, vocab.SyncRuns, vocab.Events)
	})
}
