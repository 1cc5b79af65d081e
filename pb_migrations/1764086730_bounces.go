package pb_migrations

import (
	"errors"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Bounces and complaints that arrive after sending (issue 11): the
// bounce_reports collection (admins read, only the app writes), a
// complaints counter and a once-only alert mark on campaigns, the consent
// method "complaint", indexes that find a message by its Message-ID, and
// the reports on the supporter timeline.
func init() {
	m.Register(func(app core.App) error {
		supporters, err := app.FindCollectionByNameOrId(vocab.Supporters)
		if err != nil {
			return err
		}
		deliveries, err := app.FindCollectionByNameOrId(vocab.Deliveries)
		if err != nil {
			return err
		}
		outboxes, err := app.FindCollectionByNameOrId(vocab.Outbox)
		if err != nil {
			return err
		}
		campaigns, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}

		reports := core.NewBaseCollection(vocab.BounceReports)
		reports.ListRule, reports.ViewRule = ruleAdmin, ruleAdmin
		reports.Fields.Add(
			&core.TextField{Name: "event_key", Required: true, Max: 300, Help: "The report's source and id there, so a report seen twice is applied once."},
			&core.TextField{Name: "source", Required: true, Max: 40, Presentable: true, Help: "Where the report came from: imap, smtp, ses, postmark, mailgun, sendgrid."},
			&core.SelectField{Name: "kind", Required: true, MaxSelect: 1, Values: []string{"hard", "soft", "complaint"}, Presentable: true},
			&core.TextField{Name: "status", Max: 20, Help: "Enhanced status code (RFC 3463), e.g. 5.1.1."},
			&core.TextField{Name: "diagnostic", Max: 1000, Help: "What the receiving server said, with addresses removed."},
			&core.TextField{Name: "ref", Max: 20, Help: "The message reported on: d + delivery id, or o + outbox id."},
			&core.RelationField{Name: "supporter", CollectionId: supporters.Id, MaxSelect: 1},
			&core.RelationField{Name: "delivery", CollectionId: deliveries.Id, MaxSelect: 1},
			&core.RelationField{Name: "outbox", CollectionId: outboxes.Id, MaxSelect: 1},
			&core.RelationField{Name: "campaign", CollectionId: campaigns.Id, MaxSelect: 1},
			&core.TextField{Name: "effect", Max: 300, Help: "What the report changed."},
			&core.DateField{Name: "reported_at", Help: "When the report says the mail bounced or was reported."},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		reports.AddIndex("idx_bounce_reports_event", true, "event_key", "")
		reports.AddIndex("idx_bounce_reports_ref", false, "ref, kind", "")
		reports.AddIndex("idx_bounce_reports_supporter", false, "supporter, kind, reported_at", "")
		if err := app.Save(reports); err != nil {
			return err
		}

		campaigns.Fields.Add(
			&core.NumberField{Name: "complaints", OnlyInt: true, Help: "Recipients who reported the campaign as spam."},
			&core.DateField{Name: "complaint_alerted_at", Help: "When admins were told the complaint rate passed 0.1%."},
		)
		if err := app.Save(campaigns); err != nil {
			return err
		}
		deliveries.AddIndex("idx_deliveries_message_id", false, "message_id", "message_id != ''")
		if err := app.Save(deliveries); err != nil {
			return err
		}
		outboxes.AddIndex("idx_outbox_message_id", false, "message_id", "message_id != ''")
		if err := app.Save(outboxes); err != nil {
			return err
		}
		if err := setConsentMethods(app, vocab.ConsentMethods); err != nil {
			return err
		}
		return editTimeline(app, func(q string) (string, error) {
			at := strings.LastIndex(q, timelineEnd)
			if at < 0 {
				return "", errors.New("the supporter timeline's query has changed shape: add the bounce reports by hand")
			}
			return q[:at] + timelineBounces + q[at:], nil
		})
	}, func(app core.App) error {
		if err := editTimeline(app, func(q string) (string, error) {
			return strings.Replace(q, timelineBounces, "", 1), nil
		}); err != nil {
			return err
		}
		if err := setConsentMethods(app, slices.DeleteFunc(slices.Clone(vocab.ConsentMethods), func(m string) bool { return m == vocab.MethodComplaint })); err != nil {
			return err
		}
		for coll, idx := range map[string]string{vocab.Deliveries: "idx_deliveries_message_id", vocab.Outbox: "idx_outbox_message_id"} {
			c, err := app.FindCollectionByNameOrId(coll)
			if err != nil {
				return err
			}
			c.RemoveIndex(idx)
			if err := app.Save(c); err != nil {
				return err
			}
		}
		campaigns, err := app.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		campaigns.Fields.RemoveByName("complaints")
		campaigns.Fields.RemoveByName("complaint_alerted_at")
		if err := app.Save(campaigns); err != nil {
			return err
		}
		return deleteCollections(app, vocab.BounceReports)
	})
}

// timelineEnd closes the timeline's union of sources; other migrations add
// their sources just before it, so each one's rows survive the others'.
const timelineEnd = "\n) t\nJOIN supporters s ON s.id = t.supporter"

// timelineBounces puts each bounce report on its supporter's timeline.
const timelineBounces = `
  UNION ALL
  SELECT 'j' || b.id, b.supporter, b.reported_at, iif(b.kind = 'complaint', 'complaint', 'bounce'),
    CASE b.kind WHEN 'hard' THEN 'Bounced' WHEN 'soft' THEN 'Bounced for now' ELSE 'Reported as spam' END
      || iif(b.status != '', ' ' || b.status, '') || ' (' || b.source || ')' || iif(b.effect != '', ': ' || b.effect, ''),
    NULL, b.id
  FROM bounce_reports b WHERE b.supporter != ''`

func editTimeline(app core.App, edit func(string) (string, error)) error {
	v, err := app.FindCollectionByNameOrId(vocab.Timeline)
	if err != nil {
		return err
	}
	if v.ViewQuery, err = edit(v.ViewQuery); err != nil {
		return err
	}
	return app.Save(v)
}

func setConsentMethods(app core.App, methods []string) error {
	c, err := app.FindCollectionByNameOrId(vocab.Consents)
	if err != nil {
		return err
	}
	c.Fields.GetByName("method").(*core.SelectField).Values = methods
	return app.Save(c)
}
