package journeys

import (
	"strconv"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// counters are written by the worker only; edits through the API are ignored.
var counters = []string{"sent", "failed", "bounced", "skipped"}

// BindHooks binds everything the journeys need: supporters starting and
// leaving them, and the checks and consequences of staff's edits.
func (s *Service) BindHooks() {
	s.bindSupporters()
	s.App.OnRecordValidate(vocab.Journeys).BindFunc(func(e *core.RecordEvent) error {
		if e.Record.GetString("trigger") == vocab.TriggerTopicAdded && len(e.Record.GetStringSlice("topics")) == 0 {
			return validation.Errors{"topics": validation.NewError("validation_required", "A journey that starts when a topic is added needs at least one topic.")}
		}
		return e.Next()
	})
	// A step that doesn't render can't be saved; the message names what to fix.
	check := func(e *core.RecordRequestEvent) error {
		if err := s.Engine.Check(e.Record); err != nil {
			return e.BadRequestError("The step doesn't render: "+err.Error(),
				validation.Errors{"body": validation.NewError("invalid_body", err.Error())})
		}
		return e.Next()
	}
	s.App.OnRecordCreateRequest(vocab.JourneySteps).BindFunc(func(e *core.RecordRequestEvent) error {
		for _, f := range counters {
			e.Record.Set(f, 0)
		}
		return check(e)
	})
	s.App.OnRecordUpdateRequest(vocab.JourneySteps).BindFunc(func(e *core.RecordRequestEvent) error {
		for _, f := range counters {
			e.Record.Set(f, e.Record.Original().Get(f))
		}
		if e.Record.GetString("journey") != e.Record.Original().GetString("journey") {
			return e.BadRequestError("A step can't move to another journey; add a new step there instead.",
				validation.Errors{"journey": validation.NewError("invalid_journey", "can't change")})
		}
		return check(e)
	})
	// A new step reaches those already on the journey, if it is still ahead of them.
	s.App.OnRecordCreate(vocab.JourneySteps).BindFunc(func(e *core.RecordEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		return s.backfill(e.App, e.Record)
	})
	// A new delay moves the due time of everyone waiting for the step.
	s.App.OnRecordUpdate(vocab.JourneySteps).BindFunc(func(e *core.RecordEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		if e.Record.GetInt("delay_hours") == e.Record.Original().GetInt("delay_hours") {
			return nil
		}
		_, err := e.App.DB().NewQuery(`UPDATE {{journey_sends}} SET due_at = ` + dueSQL + `, updated = {:now}
			WHERE step = {:step} AND status = {:queued}`).
			Bind(dbx.Params{"hours": hours(e.Record), "step": e.Record.Id, "queued": vocab.SendQueued, "now": stamp(s.now())}).Execute()
		if err == nil {
			s.wakeAfter(e.App)
		}
		return err
	})
	// A removed step is skipped by everyone waiting for it; its sends stay
	// as the record of who got it.
	s.App.OnRecordDelete(vocab.JourneySteps).BindFunc(func(e *core.RecordEvent) error {
		if _, err := e.App.DB().Update(vocab.JourneySends,
			dbx.Params{"status": vocab.DeliverySkipped, "last_error": "the step was removed", "updated": stamp(s.now())},
			dbx.HashExp{"step": e.Record.Id, "status": vocab.SendQueued}).Execute(); err != nil {
			return err
		}
		return e.Next()
	})
}

// dueSQL is a send's due time: its journey's start plus {:hours}.
const dueSQL = `strftime('%Y-%m-%d %H:%M:%fZ', started_at, '+' || {:hours} || ' hours')`

func hours(step *core.Record) string { return strconv.Itoa(step.GetInt("delay_hours")) }

// backfill gives a new step to the supporters on its journey who are still
// subscribed, when it falls due after now (one whose time has passed is not
// sent late).
func (s *Service) backfill(tx core.App, step *core.Record) error {
	now := stamp(s.now())
	_, err := tx.DB().NewQuery(`INSERT OR IGNORE INTO {{journey_sends}} (id, journey, step, supporter, status, started_at, due_at, created, updated)
		SELECT substr(lower(hex(randomblob(8))), 1, 15), {:journey}, {:step}, e.supporter, {:queued}, e.started_at, ` + dueSQL + `, {:now}, {:now}
		FROM (SELECT supporter, min(started_at) AS started_at FROM {{journey_sends}} WHERE journey = {:journey} GROUP BY supporter) e
		JOIN {{supporters}} s ON s.id = e.supporter AND s.status = {:subscribed}
		WHERE ` + dueSQL + ` > {:now}`).
		Bind(dbx.Params{"journey": step.GetString("journey"), "step": step.Id, "queued": vocab.SendQueued, "hours": hours(step),
			"subscribed": vocab.StatusSubscribed, "now": now}).Execute()
	return err
}
