package schedules

import (
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/clip"
	"supportercrm/internal/events"
	"supportercrm/internal/vocab"
)

// Runner creates each due schedule's campaign.
type Runner struct {
	App core.App
	// Now is the clock; tests move it across clock changes.
	Now func() time.Time
	// Check reports whether a schedule's content renders (the campaign
	// engine's compiler), so a broken schedule is refused on save.
	Check func(schedule *core.Record) error
	// Alert emails staff (a draft is waiting for review).
	Alert func(subject, text string)
}

// contentFields are copied from a schedule into each run's campaign, with
// its audience (topics and tags) as read on the schedule.
var contentFields = []string{"subject", "preheader", "body_format", "body", "layout"}

// BindHooks validates the spec (its frequency too), time zone, audience and
// content on every save (REST API, dashboard or Go), stores the audience in
// the one form each run's campaign copies, and sets next_run_at from the spec.
func (r *Runner) BindHooks() {
	r.App.OnRecordValidate(vocab.Schedules).BindFunc(func(e *core.RecordEvent) error {
		s := e.Record
		spec, err := Parse(s.GetString("spec"), s.GetString("timezone"))
		if err == nil {
			err = spec.CheckFrequency(s.GetBool("auto_send"), r.Now())
		}
		if err != nil {
			return validation.Errors{"spec": validation.NewError("invalid_spec", err.Error())}
		}
		if problem := campaigns.NormalizeAudience(s); problem != nil {
			return problem.Validation()
		}
		if s.GetString("timezone") == "" {
			s.Set("timezone", DefaultZone)
		}
		if r.Check != nil {
			if err := r.Check(s); err != nil {
				return validation.Errors{"body": validation.NewError("invalid_body", "doesn't render: "+err.Error())}
			}
		}
		orig := s.Original()
		if s.IsNew() || s.GetDateTime("next_run_at").IsZero() || s.GetString("spec") != orig.GetString("spec") ||
			s.GetString("timezone") != orig.GetString("timezone") || (s.GetBool("enabled") && !orig.GetBool("enabled")) {
			s.Set("next_run_at", spec.Next(r.Now()))
		}
		return e.Next()
	})
}

// Tick runs every enabled schedule whose next_run_at has passed. However
// many runs were missed while the server was down, each schedule runs once
// and its next run is computed from now.
func (r *Runner) Tick() {
	now := r.Now()
	due, err := r.App.FindRecordsByFilter(vocab.Schedules, "enabled = true && next_run_at != '' && next_run_at <= {:now}", "next_run_at", 50, 0,
		dbx.Params{"now": now.UTC().Format(types.DefaultDateLayout)})
	if err != nil {
		r.App.Logger().Error("schedules: failed to find due schedules", "error", err.Error())
		return
	}
	for _, s := range due {
		if err := r.run(s, now); err != nil {
			r.App.Logger().Error("schedules: run failed", "schedule", s.Id, "error", err.Error())
		}
	}
}

// run creates the campaign and moves next_run_at in one transaction, so a
// crash can neither lose nor repeat a run.
func (r *Runner) run(s *core.Record, now time.Time) error {
	spec, err := Parse(s.GetString("spec"), s.GetString("timezone"))
	if err != nil {
		return err
	}
	// A schedule saved before these checks may break them: it makes no
	// campaign, never one wider than meant, and is switched off (its
	// next runs would fail the same way) until staff fix it.
	audience, refused := campaigns.AudienceOf(s)
	if freq := spec.CheckFrequency(s.GetBool("auto_send"), now); freq != nil {
		refused = fmt.Errorf("spec: %w", freq)
	}
	if refused != nil {
		return r.refuse(s, refused)
	}
	draftNote, preview, skipped := "", "", false
	err = r.App.RunInTransaction(func(tx core.App) error {
		s, err := tx.FindRecordById(vocab.Schedules, s.Id)
		if err != nil || !s.GetBool("enabled") || s.GetDateTime("next_run_at").Time().After(now) {
			return err // changed meanwhile
		}
		col, err := tx.FindCollectionByNameOrId(vocab.Campaigns)
		if err != nil {
			return err
		}
		if s.GetString("kind") == vocab.ScheduleWhatsOn {
			upcoming, err := events.Next(tx, now, 1)
			if err != nil {
				return err
			}
			if len(upcoming) == 0 {
				skipped = true
				s.Set("last_error", "Skipped the run of "+now.In(spec.loc).Format("2 January 2006")+": no upcoming events.")
				s.Set("last_run_at", now)
				s.Set("next_run_at", spec.Next(now))
				return tx.SaveNoValidate(s)
			}
		}
		c := core.NewRecord(col)
		c.Set("name", s.GetString("name")+" – "+now.In(spec.loc).Format("2 January 2006"))
		for _, f := range contentFields {
			c.Set(f, s.Get(f))
		}
		c.Set("topics", audience.Topics)
		c.Set("tags", audience.Tags)
		c.Set("segment", s.GetString("segment"))
		if s.GetString("kind") == vocab.ScheduleWhatsOn {
			c.Set("body", s.GetString("body")+events.Digest(s.GetString("body_format")))
		}
		status := vocab.CampaignDraft
		if s.GetBool("auto_send") {
			status = vocab.CampaignScheduled
			c.Set("send_at", now)
		}
		if r.Check != nil {
			if err := r.Check(s); err != nil {
				status = vocab.CampaignDraft
				c.Set("last_error", "the schedule's content doesn't render: "+err.Error())
				s.Set("last_error", c.GetString("last_error"))
			}
		}
		c.Set("status", status)
		if err := tx.Save(c); err != nil {
			return fmt.Errorf("failed to create the campaign: %w", err)
		}
		if status == vocab.CampaignDraft {
			draftNote, preview = c.GetString("name"), c.GetString("preview_url")
		} else {
			s.Set("last_error", "")
		}
		s.Set("last_campaign", c.Id)
		s.Set("last_run_at", now)
		s.Set("next_run_at", spec.Next(now))
		return tx.SaveNoValidate(s)
	})
	if err == nil && skipped && r.Alert != nil {
		r.Alert("No \"what's on\" newsletter this time: "+s.GetString("name"),
			"The schedule \""+s.GetString("name")+"\" found no upcoming events, so it created no campaign this time. Its next run is as usual. Events come from the Facebook sync or can be added in the dashboard (Collections › events).")
	}
	if err == nil && draftNote != "" && r.Alert != nil {
		text := "The schedule \"" + s.GetString("name") + "\" has created the campaign \"" + draftNote + "\" as a draft. Review it in the dashboard (Collections › campaigns) and set its status to scheduled to send it."
		if preview != "" {
			text += "\n\nPreview it as a supporter will see it: " + preview
		}
		r.Alert("A newsletter draft is ready for review: "+draftNote, text)
	}
	return err
}

// refuse switches a schedule off, noting why, and tells staff.
func (r *Runner) refuse(s *core.Record, why error) error {
	note := "Switched off, no campaign created: " + why.Error()
	_, err := r.App.DB().NewQuery(`UPDATE {{schedules}} SET enabled = FALSE, last_error = {:note}, updated = {:now} WHERE id = {:id}`).
		Bind(dbx.Params{"id": s.Id, "note": clip.Runes(note, 2000), "now": types.NowDateTime().String()}).Execute()
	if err != nil {
		return err
	}
	if r.Alert != nil {
		r.Alert("A schedule was switched off: "+s.GetString("name"),
			"The schedule \""+s.GetString("name")+"\" created no campaign and was switched off. "+why.Error()+
				"\n\nFix it in the dashboard (Collections › schedules) and switch it on again.")
	}
	return nil
}
