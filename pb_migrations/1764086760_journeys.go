package pb_migrations

import (
	"errors"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// Journeys: a series of steps that starts for a supporter when they confirm
// (or gain a topic), each step a delay and content like a campaign's. Staff
// edit journeys and steps; journey_sends (one row per supporter and step,
// unique together) are written by the app alone and are how each step goes
// to each supporter once. The welcome email the confirmation used to queue
// is the first step of the shipped "Welcome" journey, and journey mail joins
// the supporter timeline.
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
		journeys := core.NewBaseCollection(vocab.Journeys)
		journeys.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 200, Presentable: true},
			&core.SelectField{Name: "trigger", Required: true, MaxSelect: 1, Values: vocab.JourneyTriggers,
				Help: "confirmed: when a supporter confirms their subscription; topic_added: when a subscribed supporter gains one of the topics below."},
			&core.RelationField{Name: "topics", CollectionId: topics.Id, MaxSelect: 100,
				Help: "For topic_added, the topics that start it (required). For confirmed, only supporters in one of these (empty: everyone). Steps go only while the supporter is still in one."},
			&core.BoolField{Name: "enabled", Help: "Off: nobody new starts it and nothing of it is sent; those waiting wait."},
		)
		journeys.Fields.Add(timestamps()...)
		setRules(journeys, ruleStaff)
		if err := app.Save(journeys); err != nil {
			return err
		}

		steps := core.NewBaseCollection(vocab.JourneySteps)
		steps.Fields.Add(
			&core.RelationField{Name: "journey", Required: true, CollectionId: journeys.Id, MaxSelect: 1, CascadeDelete: true},
			&core.NumberField{Name: "delay_hours", OnlyInt: true, Min: types.Pointer(0.0), Max: types.Pointer(24.0 * 366),
				Help: "Hours after the journey starts for a supporter: 0 at once, 72 after 3 days, 336 after 2 weeks."},
			&core.TextField{Name: "subject", Required: true, Max: 300, Presentable: true, Help: `May use {{.FirstName}}.`},
			&core.TextField{Name: "preheader", Max: 300},
			&core.SelectField{Name: "body_format", Required: true, MaxSelect: 1, Values: []string{vocab.FormatMarkdown, vocab.FormatHTML}},
			&core.TextField{Name: "body", Required: true, Max: 1 << 20, Help: `As a campaign's. Fields: {{.FirstName}} {{.LastName}} {{.Email}} {{.UnsubscribeURL}} {{.PreferencesURL}} {{.WebURL}}.`},
			&core.TextField{Name: "layout", Max: 60, Help: "A layout in templates/campaigns/ (default: default)."},
			&core.NumberField{Name: "sent", OnlyInt: true},
			&core.NumberField{Name: "failed", OnlyInt: true},
			&core.NumberField{Name: "bounced", OnlyInt: true},
			&core.NumberField{Name: "skipped", OnlyInt: true},
		)
		steps.Fields.Add(timestamps()...)
		steps.AddIndex("idx_journey_steps_journey", false, "journey, delay_hours", "")
		setRules(steps, ruleStaff)
		if err := app.Save(steps); err != nil {
			return err
		}

		sends := core.NewBaseCollection(vocab.JourneySends)
		sends.Fields.Add(
			&core.RelationField{Name: "journey", Required: true, CollectionId: journeys.Id, MaxSelect: 1, CascadeDelete: true},
			// Text, not a relation: the row outlives a removed step, as the record of what was (or wasn't) sent.
			&core.TextField{Name: "step", Required: true, Max: 15},
			&core.RelationField{Name: "supporter", Required: true, CollectionId: supporters.Id, MaxSelect: 1, CascadeDelete: true},
			&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: vocab.JourneySendStatuses},
			&core.DateField{Name: "started_at", Help: "When the journey started for this supporter."},
			&core.DateField{Name: "due_at", Help: "When the step is due (while sending: when the worker's claim runs out)."},
			&core.NumberField{Name: "attempts", OnlyInt: true},
			&core.TextField{Name: "subject", Max: 300, Help: "The step's subject as written (not personalised) when it was sent."},
			&core.TextField{Name: "last_error", Max: 2000},
			&core.TextField{Name: "message_id", Max: 300},
			&core.DateField{Name: "sent_at"},
		)
		sends.Fields.Add(timestamps()...)
		sends.AddIndex("idx_journey_sends_once", true, "step, supporter", "")
		sends.AddIndex("idx_journey_sends_due", false, "status, due_at", "")
		sends.AddIndex("idx_journey_sends_supporter", false, "supporter, journey", "")
		sends.ListRule, sends.ViewRule = ruleStaff, ruleStaff
		if err := app.Save(sends); err != nil {
			return err
		}
		if err := seedWelcome(app, journeys, steps); err != nil {
			return err
		}
		return setTimeline(app, func(q string) (string, error) { return withJourneys(q) })
	}, func(app core.App) error {
		if err := setTimeline(app, func(q string) (string, error) { return strings.Replace(q, journeyTimeline, "", 1), nil }); err != nil {
			return err
		}
		return deleteCollections(app, vocab.JourneySends, vocab.JourneySteps, vocab.Journeys)
	})
}

// seedWelcome ships the welcome email as the first step of a journey that
// starts on confirmation (staff edit it from there). It names no charity:
// at install the charity record holds the sample identity, and the
// layout's footer carries the real one when each copy is sent.
func seedWelcome(app core.App, journeys, steps *core.Collection) error {
	j := core.NewRecord(journeys)
	j.Set("name", "Welcome")
	j.Set("trigger", vocab.TriggerConfirmed)
	j.Set("enabled", true)
	if err := app.Save(j); err != nil {
		return err
	}
	s := core.NewRecord(steps)
	s.Set("journey", j.Id)
	s.Set("delay_hours", 0)
	s.Set("subject", "Welcome, and thank you for confirming")
	s.Set("preheader", "Thank you for confirming.")
	s.Set("body_format", vocab.FormatMarkdown)
	s.Set("body", "Hello {{.FirstName}},\n\n"+
		"Thank you for confirming. You'll now hear from us about the topics you chose.\n\n"+
		"Your support helps survivors of human trafficking find safety and rebuild their lives. "+
		"We'll keep our emails worth reading, and you can change what you receive or unsubscribe at any time with the links at the bottom of every email.\n")
	return app.Save(s)
}

// journeyTimeline is the timeline's row for each journey email that is done
// with (sent, failed, bounced, or skipped because the supporter left).
const journeyTimeline = `
  UNION ALL
  SELECT 'j' || js.id, js.supporter, coalesce(nullif(js.sent_at, ''), js.updated), 'journey',
    coalesce((SELECT jn.name FROM journeys jn WHERE jn.id = js.journey), 'Journey') || ': ' || iif(js.subject != '', js.subject, 'a step') || ' (' || js.status || ')', NULL, js.id
  FROM journey_sends js WHERE js.status NOT IN ('queued', 'sending')`

// timelineTail ends the timeline's union (1764086407_crm.go).
const timelineTail = "\n) t\nJOIN supporters s ON s.id = t.supporter"

// withJourneys adds the journey rows to the timeline query as it stands, so
// that other migrations' rows are kept.
func withJourneys(q string) (string, error) {
	i := strings.LastIndex(q, timelineTail)
	if i < 0 {
		return "", errors.New("the supporter timeline's query has an unexpected shape")
	}
	return q[:i] + journeyTimeline + q[i:], nil
}

func setTimeline(app core.App, edit func(string) (string, error)) error {
	v, err := app.FindCollectionByNameOrId(vocab.Timeline)
	if err != nil {
		return err
	}
	q, err := edit(v.ViewQuery)
	if err != nil {
		return err
	}
	v.ViewQuery = q
	return app.Save(v)
}
