package campaignui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/console"
	"supportercrm/internal/vocab"
)

// errGone is a campaign that is not there (deleted meanwhile, or a bad id).
var errGone = errors.New("no such campaign")

// campaign loads the campaign of the path, or answers 404.
func (p *Pages) campaign(e *core.RequestEvent) (*core.Record, error) {
	r, err := e.App.FindRecordById(vocab.Campaigns, e.Request.PathValue("id"))
	if err != nil {
		return nil, errGone
	}
	return r, nil
}

func (p *Pages) notFound(e *core.RequestEvent) error {
	return p.Console.RenderStatus(e, http.StatusNotFound, "campaigns/missing", nil)
}

// testSend queues marked test copies of the saved campaign through the
// engine's test-send path (the outbox), within the member's allowance.
func (p *Pages) testSend(e *core.RequestEvent) error {
	r, err := p.campaign(e)
	if err != nil {
		return p.notFound(e)
	}
	f := formFromRecord(r)
	posted := console.NewForm(e)
	addrs := posted.Get("test_addresses")
	f.Values.Set("test_addresses", addrs)
	n := len(strings.FieldsFunc(addrs, func(c rune) bool { return c == ',' || c == '\n' || c == ';' }))
	switch {
	case n > testBurst:
		f.Fail("test_addresses", fmt.Sprintf("Send to at most %d addresses at a time.", testBurst))
	case n > 0 && !p.tests.allow(console.Staff(e).Record.Id, n):
		f.Fail("test_addresses", fmt.Sprintf("You have sent the test copies allowed for now (%d at once, then one more every %d minutes). Try again in a few minutes.", testBurst, int(testEvery/time.Minute)))
	default:
		problems, err := p.Engine.SendTests(r, addrs)
		if err != nil {
			return err
		}
		for _, pr := range problems {
			if pr.Field == "test_addresses" {
				f.Fail("test_addresses", sentence(pr.Msg))
			} else {
				f.Fail(pr.Field, problemText(pr))
			}
		}
	}
	if !f.OK() {
		return p.renderCompose(e, http.StatusBadRequest, r, f)
	}
	return console.Redirect(e, "/campaigns/"+r.Id, fmt.Sprintf("A test copy is on its way to %d %s.", n, plural(n, "address", "addresses")))
}

// checkSendable fails what stops a campaign being sent: content that
// doesn't render, and an audience of no one.
func (p *Pages) checkSendable(r *core.Record, f *console.Form) int {
	if _, problems, err := p.Engine.Preview(campaigns.ContentOf(r), ""); err != nil {
		f.Fail("form", err.Error())
	} else {
		failProblems(f, problems)
	}
	a, err := campaigns.AudienceOf(r)
	if err != nil {
		f.Fail("topics", "Choose at least one topic.")
		return 0
	}
	n, err := campaigns.CountAudience(p.App, a)
	if err != nil {
		f.Fail("form", err.Error())
	} else if n == 0 {
		f.Fail("topics", "No one would receive this: no subscribed supporter is in these topics"+tagWords(a.Tags)+". Choose other topics or tags.")
	}
	return n
}

func tagWords(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	return " with these tags"
}

// schedule sets a draft to go at a London date and time in the future.
func (p *Pages) schedule(e *core.RequestEvent) error {
	r, err := p.campaign(e)
	if err != nil {
		return p.notFound(e)
	}
	posted := console.NewForm(e)
	f := formFromRecord(r)
	for _, k := range []string{"send_date", "send_time"} {
		f.Values.Set(k, posted.Get(k))
	}
	at, err := londonInput(f.Get("send_date"), f.Get("send_time"))
	switch {
	case f.Get("send_date") == "":
		f.Fail("send_date", "Choose the day to send it.")
	case f.Get("send_time") == "":
		f.Fail("send_time", "Choose the time to send it (London time).")
	case err != nil:
		f.Fail("send_date", "Give the date as 2026-12-03 and the time as 09:30.")
	case !at.After(p.Now()):
		f.Fail("send_time", "That time has passed ("+console.London(at)+" London time). Choose a time in the future, or use Send now.")
	}
	if f.OK() {
		p.checkSendable(r, f)
	}
	if f.OK() {
		if err := p.begin(e, r.Id, at); err != nil {
			f.Fail("form", err.Error())
		}
	}
	if !f.OK() {
		return p.renderCompose(e, http.StatusBadRequest, r, f)
	}
	_ = console.AuditRequest(e.App, e, "campaign.schedule", "campaigns/"+r.Id, "for "+console.London(at)+" London time")
	return console.Redirect(e, "/campaigns/"+r.Id, "Scheduled for "+console.London(at)+" (London time).")
}

// begin moves a draft to scheduled at at, if it is still a draft: through
// a record save, so the engine's hooks (start now if due) and the
// console's guards (no sending under the sample identity) run.
func (p *Pages) begin(e *core.RequestEvent, id string, at time.Time) error {
	return e.App.RunInTransaction(func(tx core.App) error {
		r, err := tx.FindRecordById(vocab.Campaigns, id)
		if err != nil {
			return errGone
		}
		if s := r.GetString("status"); s != vocab.CampaignDraft {
			return fmt.Errorf("This campaign is %s now; reload the page.", strings.ToLower(statusWords(s)))
		}
		r.Set("status", vocab.CampaignScheduled)
		r.Set("send_at", at.UTC())
		if err := tx.Save(r); err != nil {
			return fmt.Errorf("It can't be scheduled: %w", err)
		}
		return nil
	})
}

// confirmSend asks before sending now, stating who it will reach.
func (p *Pages) confirmSend(e *core.RequestEvent) error {
	r, err := p.campaign(e)
	if err != nil {
		return p.notFound(e)
	}
	if r.GetString("status") != vocab.CampaignDraft {
		return console.Redirect(e, "/campaigns/"+r.Id, "Only a draft can be sent.")
	}
	f := formFromRecord(r)
	n := p.checkSendable(r, f)
	if !f.OK() {
		return p.renderCompose(e, http.StatusBadRequest, r, f)
	}
	return p.Console.Render(e, "campaigns/confirm", confirmView{ID: r.Id, Name: r.GetString("name"), Subject: r.GetString("subject"), Count: n})
}

type confirmView struct {
	ID, Name, Subject string
	Count             int
}

// sendNow starts a draft at once, after the confirmation.
func (p *Pages) sendNow(e *core.RequestEvent) error {
	r, err := p.campaign(e)
	if err != nil {
		return p.notFound(e)
	}
	f := formFromRecord(r)
	n := p.checkSendable(r, f)
	if f.OK() {
		if err := p.begin(e, r.Id, p.Now()); err != nil {
			f.Fail("form", err.Error())
		}
	}
	if !f.OK() {
		return p.renderCompose(e, http.StatusBadRequest, r, f)
	}
	_ = console.AuditRequest(e.App, e, "campaign.send", "campaigns/"+r.Id, fmt.Sprintf("sent now to about %d supporters", n))
	return console.Redirect(e, "/campaigns/"+r.Id, "Sending has started.")
}

// unschedule takes a scheduled campaign back to a draft.
func (p *Pages) unschedule(e *core.RequestEvent) error {
	return p.setStatus(e, []string{vocab.CampaignScheduled}, vocab.CampaignDraft, "campaign.unschedule", "Back to a draft: it will not be sent.")
}

// move changes a campaign from one status to another (pause, resume).
func (p *Pages) move(from, to, action, flash string) func(*core.RequestEvent) error {
	return func(e *core.RequestEvent) error { return p.setStatus(e, []string{from}, to, action, flash) }
}

// cancel stops a campaign for good, from any status that allows it.
func (p *Pages) cancel(e *core.RequestEvent) error {
	return p.setStatus(e, []string{vocab.CampaignDraft, vocab.CampaignScheduled, vocab.CampaignPreparing, vocab.CampaignSending, vocab.CampaignPaused},
		vocab.CampaignCancelled, "campaign.cancel", "Cancelled. Messages already handed to the relay still arrive; no more will go.")
}

// setStatus is one UPDATE that changes the status only if it is still one
// of from, so a change the engine made meanwhile (it finished, or paused
// itself) is never overwritten; the engine sees the new status within its
// watch interval. The change is audited.
func (p *Pages) setStatus(e *core.RequestEvent, from []string, to, action, flash string) error {
	id := e.Request.PathValue("id")
	var was string
	err := e.App.RunInTransaction(func(tx core.App) error {
		if err := tx.DB().Select("status").From(vocab.Campaigns).Where(dbx.HashExp{"id": id}).Row(&was); err != nil {
			return errGone
		}
		ok := false
		for _, s := range from {
			ok = ok || (s == was && campaigns.CanMove(was, to))
		}
		if !ok {
			return nil
		}
		_, err := tx.DB().Update(vocab.Campaigns, dbx.Params{"status": to, "updated": types.NowDateTime().String()},
			dbx.HashExp{"id": id, "status": was}).Execute()
		if err == nil {
			err = console.AuditRequest(tx, e, action, "campaigns/"+id, "from "+was+" to "+to)
		}
		was = "moved"
		return err
	})
	switch {
	case errors.Is(err, errGone):
		return p.notFound(e)
	case err != nil:
		return err
	case was != "moved":
		return console.Redirect(e, "/campaigns/"+id, "Nothing was changed: the campaign is "+strings.ToLower(statusWords(was))+" now.")
	}
	if to == vocab.CampaignSending {
		go p.Engine.Tick() // pick it up now rather than on the next tick
	}
	return console.Redirect(e, "/campaigns/"+id, flash)
}

// archive hides a campaign from the list (or brings it back).
func (p *Pages) archive(on bool) func(*core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		id := e.Request.PathValue("id")
		cond := dbx.And(dbx.HashExp{"id": id}, dbx.NotIn("status", vocab.CampaignScheduled, vocab.CampaignPreparing, vocab.CampaignSending, vocab.CampaignPaused))
		res, err := e.App.DB().Update(vocab.Campaigns, dbx.Params{"archived": on, "updated": types.NowDateTime().String()}, cond).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return console.Redirect(e, "/campaigns/"+id, "A campaign that is scheduled or sending can't be archived; cancel it first.")
		}
		if on {
			return console.Redirect(e, "/campaigns", "Archived: it is kept, with its results, under Archived campaigns.")
		}
		return console.Redirect(e, "/campaigns/"+id, "Back in the campaign list.")
	}
}

// deleteCampaign deletes a draft, or a cancelled campaign that sent
// nothing. A campaign that sent anything keeps its deliveries, the
// supporters' mail history, so it can only be archived.
func (p *Pages) deleteCampaign(e *core.RequestEvent) error {
	var name string
	err := e.App.RunInTransaction(func(tx core.App) error {
		r, err := tx.FindRecordById(vocab.Campaigns, e.Request.PathValue("id"))
		if err != nil {
			return errGone
		}
		s := r.GetString("status")
		if s != vocab.CampaignDraft && s != vocab.CampaignCancelled {
			return errors.New("only a draft or a cancelled campaign can be deleted")
		}
		var handed int
		if err := tx.DB().Select("count(*)").From(vocab.Deliveries).
			Where(dbx.And(dbx.HashExp{"campaign": r.Id}, dbx.NotIn("status", vocab.DeliveryQueued, vocab.DeliverySkipped))).Row(&handed); err != nil {
			return err
		}
		if handed > 0 {
			return errors.New("it sent messages, which stay in the supporters' mail history; archive it instead")
		}
		name = r.GetString("name")
		return tx.Delete(r)
	})
	switch {
	case errors.Is(err, errGone):
		return p.notFound(e)
	case err != nil:
		return console.Redirect(e, "/campaigns/"+e.Request.PathValue("id"), "Not deleted: "+err.Error()+".")
	}
	_ = console.AuditRequest(e.App, e, "campaign.delete", "campaigns/"+e.Request.PathValue("id"), name)
	return console.Redirect(e, "/campaigns", "Deleted "+name+".")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
