package pb_migrations

import (
	"errors"
	"slices"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Campaigns are prepared in chunks and sent by one process at a time: the
// "preparing" status (the audience is being written), the snapshot's
// resumable cursor, and the lease that names the sending process. All four
// fields are the engine's own, hidden from the API for staff.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		status, ok := c.Fields.GetByName("status").(*core.SelectField)
		if !ok {
			return errNoStatus
		}
		status.Values = vocab.CampaignStatuses
		if f, ok := c.Fields.GetByName("tags").(*core.JSONField); ok {
			f.Help = `Optional: only supporters with one of these tags: a list such as ["leeds", "york"], or text such as "leeds, york".`
		}
		if f, ok := c.Fields.GetByName("send_at").(*core.DateField); ok {
			f.Help = `When a scheduled campaign starts, e.g. "2026-12-03 09:00:00.000Z" (UTC). Required to schedule; set it to now to send at once.`
		}
		at := slices.IndexFunc(c.Fields, func(f core.Field) bool { return f.GetName() == "created" })
		c.Fields.AddAt(at,
			&core.TextField{Name: "snapshot_prefix", Max: 6, Hidden: true},
			&core.NumberField{Name: "snapshot_cursor", OnlyInt: true, Hidden: true},
			&core.TextField{Name: "lease_holder", Max: 200, Hidden: true},
			&core.DateField{Name: "lease_expires", Hidden: true},
		)
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		status, ok := c.Fields.GetByName("status").(*core.SelectField)
		if !ok {
			return errNoStatus
		}
		status.Values = slices.DeleteFunc(slices.Clone(status.Values), func(v string) bool { return v == vocab.CampaignPreparing })
		for _, f := range []string{"snapshot_prefix", "snapshot_cursor", "lease_holder", "lease_expires"} {
			c.Fields.RemoveByName(f)
		}
		return app.Save(c)
	})
}

var errNoStatus = errors.New("campaigns.status is not a select field")
