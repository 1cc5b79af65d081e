package journeys

import (
	"slices"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// bindSupporters starts and ends journeys as supporters change. It watches
// every save of a supporter (signup's confirmation, the preferences page,
// the dashboard, erasure), in that save's transaction. Changes made by
// plain SQL (the campaign engine's bounces) are caught at send time: the
// send-time check skips anyone no longer subscribed.
func (s *Service) bindSupporters() {
	s.App.OnRecordUpdate(vocab.Supporters).BindFunc(func(e *core.RecordEvent) error {
		old := e.Record.Original()
		if err := e.Next(); err != nil {
			return err
		}
		return s.supporterSaved(e.App, old, e.Record)
	})
}

// supporterSaved starts the journeys a change triggers, or ends the
// supporter's journeys when they are no longer subscribed.
func (s *Service) supporterSaved(tx core.App, old, sup *core.Record) error {
	was, is := old.GetString("status"), sup.GetString("status")
	if is != vocab.StatusSubscribed {
		if was == is {
			return nil
		}
		return leave(tx, sup.Id, "left the series: supporter is "+is, s.now())
	}
	topics := sup.GetStringSlice("topics")
	confirmed := was != vocab.StatusSubscribed && !sup.GetDateTime("confirmed_at").IsZero() &&
		!sup.GetDateTime("confirmed_at").Equal(old.GetDateTime("confirmed_at"))
	var added []string
	for _, t := range topics {
		if was != vocab.StatusSubscribed || !slices.Contains(old.GetStringSlice("topics"), t) {
			added = append(added, t)
		}
	}
	if !confirmed && len(added) == 0 {
		return nil
	}
	journeys, err := tx.FindRecordsByFilter(vocab.Journeys, "enabled = true", "created", 0, 0)
	if err != nil {
		return err
	}
	started := false
	for _, j := range journeys {
		jt := j.GetStringSlice("topics")
		var starts bool
		switch j.GetString("trigger") {
		case vocab.TriggerConfirmed:
			starts = confirmed && (len(jt) == 0 || overlaps(jt, topics))
		case vocab.TriggerTopicAdded:
			starts = overlaps(jt, added)
		}
		if !starts {
			continue
		}
		if err := s.enrol(tx, j.Id, sup.Id); err != nil {
			return err
		}
		started = true
	}
	if started {
		s.wakeAfter(tx)
	}
	return nil
}

func overlaps(a, b []string) bool {
	return slices.ContainsFunc(a, func(x string) bool { return slices.Contains(b, x) })
}

// enrol writes the supporter's row for each step of the journey, due its
// delay after now. A step they already have a row for (they started it
// before) is left as it is: each step goes to each supporter once.
func (s *Service) enrol(tx core.App, journeyID, supporterID string) error {
	steps, err := tx.FindAllRecords(vocab.JourneySteps, dbx.HashExp{"journey": journeyID})
	if err != nil {
		return err
	}
	now := s.now()
	for _, st := range steps {
		due := now.Add(time.Duration(st.GetInt("delay_hours")) * time.Hour)
		_, err := tx.DB().NewQuery(`INSERT OR IGNORE INTO {{journey_sends}} (id, journey, step, supporter, status, started_at, due_at, created, updated)
			VALUES ({:id}, {:journey}, {:step}, {:supporter}, {:queued}, {:started}, {:due}, {:at}, {:at})`).
			Bind(dbx.Params{"id": core.GenerateDefaultRandomId(), "journey": journeyID, "step": st.Id, "supporter": supporterID,
				"queued": vocab.SendQueued, "started": stamp(now), "due": stamp(due), "at": stamp(now)}).Execute()
		if err != nil {
			return err
		}
	}
	return nil
}

// leave skips every step the supporter is waiting for, counting each on its
// step. A send a worker holds is left to its send-time check.
func leave(tx core.App, supporterID, why string, now time.Time) error {
	where := dbx.HashExp{"supporter": supporterID, "status": vocab.SendQueued}
	return skip(tx, where, why, now)
}

// skip marks the queued sends matching where skipped, with why, and counts
// them on their steps.
func skip(tx core.App, where dbx.HashExp, why string, now time.Time) error {
	var steps []struct {
		Step string `db:"step"`
		N    int    `db:"n"`
	}
	if err := tx.DB().Select("step", "count(*) AS n").From(vocab.JourneySends).Where(where).GroupBy("step").All(&steps); err != nil {
		return err
	}
	if len(steps) == 0 {
		return nil
	}
	if _, err := tx.DB().Update(vocab.JourneySends, dbx.Params{"status": vocab.DeliverySkipped, "last_error": why, "updated": stamp(now)}, where).Execute(); err != nil {
		return err
	}
	for _, st := range steps {
		if err := count(tx, st.Step, vocab.DeliverySkipped, st.N); err != nil {
			return err
		}
	}
	return nil
}

// count adds n to a step's counter for status (sent, failed, bounced or
// skipped); a removed step has none.
func count(tx core.App, stepID, status string, n int) error {
	if !slices.Contains([]string{vocab.DeliverySent, vocab.DeliveryFailed, vocab.DeliveryBounced, vocab.DeliverySkipped}, status) {
		return nil
	}
	_, err := tx.DB().NewQuery("UPDATE {{journey_steps}} SET [[" + status + "]] = [[" + status + "]] + {:n} WHERE id = {:id}").
		Bind(dbx.Params{"n": n, "id": stepID}).Execute()
	return err
}

// stamp is t as PocketBase stores dates.
func stamp(t time.Time) string {
	d, _ := types.ParseDateTime(t)
	return d.String()
}
