package campaigns

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// transitions are the status changes staff may make; the engine makes the
// others (scheduled → sending → sent, → failed, → paused on relay failure).
var transitions = map[string][]string{
	vocab.CampaignDraft:     {vocab.CampaignScheduled, vocab.CampaignCancelled},
	vocab.CampaignScheduled: {vocab.CampaignDraft, vocab.CampaignCancelled},
	// A campaign being prepared can only be cancelled: paused, it would
	// resume as sending with half its audience written.
	vocab.CampaignPreparing: {vocab.CampaignCancelled},
	vocab.CampaignSending:   {vocab.CampaignPaused, vocab.CampaignCancelled},
	vocab.CampaignPaused:    {vocab.CampaignSending, vocab.CampaignCancelled},
	vocab.CampaignFailed:    {vocab.CampaignDraft},
}

// contentFields can't change once a campaign has started sending.
var contentFields = []string{"subject", "preheader", "body", "body_format", "layout", "topics", "tags", "segment"}

// engineFields are written by the engine only; edits through the API are ignored.
var engineFields = []string{"total", "sent", "failed", "bounced", "skipped", "unsubscribed", "started_at", "finished_at", "last_error", "preview_url",
	"snapshot_prefix", "snapshot_cursor", "lease_holder", "lease_expires", "complaints", "complaint_alerted_at"}

// Enqueue queues a transactional message (the outbox); used for test sends.
type Enqueue func(app core.App, to, subject, html, text string) error

// BindHooks validates every campaign change made through the REST API and
// the dashboard, sends test copies, and keeps the preview link fresh.
func (e *Engine) BindHooks(enqueue Enqueue) {
	e.enqueue = enqueue
	// Every save, Go code's too (a schedule's run), stores the audience in
	// one form; the request hooks below refuse a bad one first, with the
	// field named in the message.
	e.App.OnRecordValidate(vocab.Campaigns).BindFunc(func(ev *core.RecordEvent) error {
		if problem := NormalizeAudience(ev.Record); problem != nil {
			return problem.Validation()
		}
		return ev.Next()
	})
	e.App.OnRecordCreateRequest(vocab.Campaigns).BindFunc(func(ev *core.RecordRequestEvent) error {
		r := ev.Record
		if r.GetString("status") == "" {
			r.Set("status", vocab.CampaignDraft)
		}
		if s := r.GetString("status"); s != vocab.CampaignDraft && s != vocab.CampaignScheduled {
			return ev.BadRequestError("A new campaign is a draft or scheduled.", nil)
		}
		for _, f := range engineFields {
			r.Set(f, nil)
		}
		if r.Id == "" {
			r.Id = core.GenerateDefaultRandomId()
		}
		return e.checkAndSave(ev, enqueue)
	})
	// A campaign saved as scheduled and already due starts now, not on the
	// next tick (begin re-checks its status, so a second start is harmless).
	startIfDue := func(ev *core.RecordEvent) error {
		r := ev.Record
		if r.GetString("status") == vocab.CampaignScheduled && !r.GetDateTime("send_at").Time().After(time.Now()) {
			go e.Tick()
		}
		return ev.Next()
	}
	// A campaign created by Go code rather than the API (a schedule's run)
	// gets its preview link too, so a draft left for review can be seen.
	e.App.OnRecordCreate(vocab.Campaigns).BindFunc(func(ev *core.RecordEvent) error {
		r := ev.Record
		if r.GetString("preview_url") == "" {
			if r.Id == "" {
				r.Id = core.GenerateDefaultRandomId()
			}
			if link, err := e.previewURL(r.Id); err == nil {
				r.Set("preview_url", link)
			} else {
				ev.App.Logger().Warn("campaigns: no preview link", "campaign", r.Id, "error", err.Error())
			}
		}
		return ev.Next()
	})
	e.App.OnRecordAfterCreateSuccess(vocab.Campaigns).BindFunc(startIfDue)
	e.App.OnRecordAfterUpdateSuccess(vocab.Campaigns).BindFunc(startIfDue)
	e.App.OnRecordUpdateRequest(vocab.Campaigns).BindFunc(func(ev *core.RecordRequestEvent) error {
		// One transaction from the read to the save: the engine writes its
		// counters and status through the same single writer, so it can't
		// slip in between and be overwritten by a stale copy.
		return ev.App.RunInTransaction(func(tx core.App) error {
			ev.App = tx
			r := ev.Record
			cur, err := tx.FindRecordById(vocab.Campaigns, r.Id)
			if err != nil {
				return err
			}
			from, to := cur.GetString("status"), r.GetString("status")
			if from != r.Original().GetString("status") {
				return ev.BadRequestError(fmt.Sprintf("The campaign is now %s; reload it and try again.", from), nil)
			}
			if from != to && !slices.Contains(transitions[from], to) {
				return ev.BadRequestError(fmt.Sprintf("A campaign can't go from %s to %s.", from, to), nil)
			}
			if from != vocab.CampaignDraft && from != vocab.CampaignScheduled && from != vocab.CampaignFailed {
				for _, f := range contentFields {
					if fmt.Sprint(r.Get(f)) != fmt.Sprint(cur.Get(f)) {
						return ev.BadRequestError(fmt.Sprintf("The %s can't change once a campaign has started sending.", f), nil)
					}
				}
			}
			for _, f := range engineFields {
				r.Set(f, cur.Get(f))
			}
			if to == vocab.CampaignDraft && from == vocab.CampaignFailed {
				r.Set("last_error", "")
			}
			return e.checkAndSave(ev, enqueue)
		})
	})
}

// checkAndSave checks the audience and send time, compiles a campaign being
// scheduled (so one that won't render can't be), saves it with a fresh
// preview link, then sends any test copies.
func (e *Engine) checkAndSave(ev *core.RecordRequestEvent, enqueue Enqueue) error {
	r := ev.Record
	if problem := NormalizeAudience(r); problem != nil {
		return ev.BadRequestError(problem.Error(), problem.Validation())
	}
	if err := checkSendAt(ev); err != nil {
		return ev.BadRequestError(`"send_at": `+err.Error(), validation.Errors{"send_at": validation.NewError("invalid_send_at", err.Error())})
	}
	tests, err := parseAddresses(r.GetString("test_addresses"))
	if err != nil {
		return ev.BadRequestError("test_addresses: "+err.Error(), nil)
	}
	r.Set("test_addresses", "")
	var compiled *Compiled
	if r.GetString("status") == vocab.CampaignScheduled || len(tests) > 0 {
		if compiled, err = e.compile(r); err != nil {
			return ev.BadRequestError("The campaign doesn't render: "+err.Error(), nil)
		}
	}
	id, err := e.Identity()
	if err != nil {
		return err
	}
	r.Set("preview_url", previewURL(id, e.Signer, r.Id))
	if err := ev.Next(); err != nil {
		return err
	}
	return queueTests(ev.App, enqueue, compiled, id, r, tests)
}

// queueTests queues a marked test copy of a compiled campaign for each
// address, for the sample reader.
func queueTests(tx core.App, enqueue Enqueue, compiled *Compiled, id charity.Identity, r *core.Record, to []string) error {
	for _, addr := range to {
		rcpt := Recipient{FirstName: "Alex", LastName: "Example", Email: addr}
		rcpt.UnsubscribeURL, rcpt.PreferencesURL, _ = testLinks(id.AppURL)
		rcpt.WebURL = r.GetString("preview_url")
		m, err := compiled.Render(rcpt)
		if err != nil {
			return err
		}
		m = asTestCopy(m)
		if err := enqueue(tx, addr, m.Subject, m.HTML, m.Text); err != nil {
			return err
		}
	}
	return nil
}

// SendTests is the test send of a save with test_addresses, for callers
// other than the REST API (the staff console): it queues a marked test copy
// of campaign r, as saved, to each address (comma- or newline-separated,
// at most 20). Addresses that can't be read, or a campaign that doesn't
// render, give problems and queue nothing.
func (e *Engine) SendTests(r *core.Record, addresses string) ([]Problem, error) {
	tests, err := parseAddresses(addresses)
	if err != nil {
		return []Problem{{Field: "test_addresses", Msg: err.Error()}}, nil
	}
	if len(tests) == 0 {
		return []Problem{{Field: "test_addresses", Msg: "give at least one address"}}, nil
	}
	if e.enqueue == nil {
		return nil, errors.New("campaigns: test sends are not wired (BindHooks)")
	}
	compiled, id, problems, err := e.build(ContentOf(r))
	if problems != nil || err != nil {
		return problems, err
	}
	return nil, e.App.RunInTransaction(func(tx core.App) error {
		return queueTests(tx, e.enqueue, compiled, id, r, tests)
	})
}

// previewURL is the signed link to a campaign's preview page.
func (e *Engine) previewURL(campaignID string) (string, error) {
	id, err := e.Identity()
	if err != nil {
		return "", err
	}
	return previewURL(id, e.Signer, campaignID), nil
}

func previewURL(id charity.Identity, signer *tokens.Signer, campaignID string) string {
	return id.AppURL + "/preview?token=" + url.QueryEscape(signer.Sign(tokens.Preview, campaignID, tokens.PreviewTTL))
}

// parseAddresses reads a comma- or newline-separated list of up to 20 addresses.
func parseAddresses(s string) ([]string, error) {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ';' }) {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "" {
			continue
		}
		a, err := mail.ParseAddress(part)
		if err != nil || a.Address != part {
			return nil, fmt.Errorf("%q is not an email address", part)
		}
		out = append(out, part)
	}
	if len(out) > 20 {
		return nil, errors.New("at most 20 addresses")
	}
	return out, nil
}

// CanMove reports whether staff may change a campaign from one status to
// another (the REST API's rule, for the console too).
func CanMove(from, to string) bool { return slices.Contains(transitions[from], to) }
