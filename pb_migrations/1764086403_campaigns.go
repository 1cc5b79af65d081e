package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Campaigns and their deliveries. Staff read both; comms and admins write
// campaigns (hooks validate every status change); deliveries are written only
// by the engine.
func init() {
	m.Register(func(app core.App) error {
		topics, err := app.FindCollectionByNameOrId(vocab.Topics)
		if err != nil {
			return err
		}
		supporters, err := app.FindCollectionByNameOrId(vocab.Supporters)
		if err != nil {
			return err
		}
		campaigns := core.NewBaseCollection(vocab.Campaigns)
		campaigns.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true, Help: "For staff; supporters see the subject."},
			&core.TextField{Name: "subject", Required: true, Max: 300, Help: `May use {{.FirstName}}.`},
			&core.TextField{Name: "preheader", Max: 300, Help: "The line inboxes show after the subject."},
			&core.SelectField{Name: "body_format", Required: true, MaxSelect: 1, Values: []string{vocab.FormatMarkdown, vocab.FormatHTML}},
			&core.TextField{Name: "body", Required: true, Max: 1 << 20, Help: `Markdown or HTML. Fields: {{.FirstName}} {{.LastName}} {{.Email}} {{.UnsubscribeURL}} {{.PreferencesURL}} {{.WebURL}}.`},
			&core.TextField{Name: "layout", Max: 60, Help: "A layout in templates/campaigns/ (default: default)."},
			&core.RelationField{Name: "topics", Required: true, CollectionId: topics.Id, MaxSelect: 100, Help: "Sent to subscribed supporters in any of these topics."},
			&core.JSONField{Name: "tags", MaxSize: 4096, Help: `Optional: only supporters with one of these tags, e.g. ["leeds"].`},
			&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: vocab.CampaignStatuses},
			&core.DateField{Name: "send_at", Help: "When a scheduled campaign starts (UTC)."},
			&core.TextField{Name: "test_addresses", Max: 2000, Help: "Comma-separated. Saving sends a marked test to these at once, then clears the field."},
			&core.URLField{Name: "preview_url", Help: "Open to see the campaign as a supporter will (set on save)."},
			&core.NumberField{Name: "total", OnlyInt: true},
			&core.NumberField{Name: "sent", OnlyInt: true},
			&core.NumberField{Name: "failed", OnlyInt: true},
			&core.NumberField{Name: "bounced", OnlyInt: true},
			&core.NumberField{Name: "skipped", OnlyInt: true},
			&core.NumberField{Name: "unsubscribed", OnlyInt: true},
			&core.DateField{Name: "started_at"},
			&core.DateField{Name: "finished_at"},
			&core.TextField{Name: "last_error", Max: 2000},
		)
		campaigns.Fields.Add(timestamps()...)
		campaigns.AddIndex("idx_campaigns_due", false, "status, send_at", "")
		campaigns.ListRule = ruleStaff
		campaigns.ViewRule = ruleStaff
		campaigns.CreateRule = ruleStaff
		campaigns.UpdateRule = ruleStaff
		if err := app.Save(campaigns); err != nil {
			return err
		}

		deliveries := core.NewBaseCollection(vocab.Deliveries)
		deliveries.Fields.Add(
			&core.RelationField{Name: "campaign", Required: true, CollectionId: campaigns.Id, MaxSelect: 1, CascadeDelete: true},
			&core.RelationField{Name: "supporter", Required: true, CollectionId: supporters.Id, MaxSelect: 1},
			&core.TextField{Name: "email", Max: 254, Presentable: true},
			&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: vocab.DeliveryStatuses},
			&core.NumberField{Name: "attempts", OnlyInt: true},
			&core.TextField{Name: "last_error", Max: 2000},
			&core.TextField{Name: "message_id", Max: 300},
			&core.DateField{Name: "next_attempt_at"},
			&core.DateField{Name: "sent_at"},
		)
		deliveries.Fields.Add(timestamps()...)
		deliveries.AddIndex("idx_deliveries_once", true, "campaign, supporter", "")
		deliveries.AddIndex("idx_deliveries_work", false, "campaign, status, id", "")
		deliveries.AddIndex("idx_deliveries_supporter", false, "supporter, created", "")
		deliveries.ListRule = ruleStaff
		deliveries.ViewRule = ruleStaff
		return app.Save(deliveries)
	}, func(app core.App) error {
		return deleteCollections(app, vocab.Deliveries, vocab.Campaigns)
	})
}
