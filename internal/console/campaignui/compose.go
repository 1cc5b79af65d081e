package campaignui

import (
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/console"
	"supportercrm/internal/events"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// composePage is the compose page: the editor, and for a saved draft the
// test send, schedule and send-now forms.
type composePage struct {
	editor
	ID, Status, LastError string
	Count                 int
	MinDate               string
}

// editable reports whether a campaign's content may change: a draft, or
// one that failed (saving it makes it a draft again).
func editable(status string) bool {
	return status == vocab.CampaignDraft || status == vocab.CampaignFailed
}

func (p *Pages) newCampaign(e *core.RequestEvent) error {
	f := console.NewForm(nil)
	f.Values.Set("body_format", vocab.FormatMarkdown)
	return p.renderCompose(e, http.StatusOK, nil, f)
}

func (p *Pages) renderCompose(e *core.RequestEvent, status int, r *core.Record, f *console.Form) error {
	ed, err := p.editorFor(f, "Name (for staff only)")
	if err != nil {
		return err
	}
	page := composePage{editor: ed, MinDate: p.Now().In(tz.London).Format("2006-01-02")}
	if r != nil {
		page.ID, page.Status, page.LastError = r.Id, r.GetString("status"), r.GetString("last_error")
		if a, err := campaigns.AudienceOf(r); err == nil {
			page.Count, _ = campaigns.CountAudience(p.App, a)
		}
	}
	return p.Console.RenderStatus(e, status, "campaigns/compose", page)
}

// create saves a new draft, or shows the form again with what to fix.
func (p *Pages) create(e *core.RequestEvent) error {
	f := console.NewForm(e)
	p.checkContent(f, "a name for this campaign (only staff see it)")
	if !f.OK() {
		return p.renderCompose(e, http.StatusBadRequest, nil, f)
	}
	col, err := e.App.FindCachedCollectionByNameOrId(vocab.Campaigns)
	if err != nil {
		return err
	}
	r := core.NewRecord(col)
	fill(r, f)
	r.Set("status", vocab.CampaignDraft)
	if err := e.App.Save(r); err != nil {
		failSave(f, err)
		return p.renderCompose(e, http.StatusBadRequest, nil, f)
	}
	return console.Redirect(e, "/campaigns/"+r.Id, "Saved as a draft.")
}

// show is a campaign's page: the compose page while it can be edited,
// otherwise its progress or results.
func (p *Pages) show(e *core.RequestEvent) error {
	r, err := e.App.FindRecordById(vocab.Campaigns, e.Request.PathValue("id"))
	if err != nil {
		return p.Console.RenderStatus(e, http.StatusNotFound, "error", nil)
	}
	if editable(r.GetString("status")) {
		return p.renderCompose(e, http.StatusOK, r, formFromRecord(r))
	}
	return p.renderStatus(e, r)
}

// update saves a draft's (or failed campaign's) content.
func (p *Pages) update(e *core.RequestEvent) error {
	f := console.NewForm(e)
	var saved *core.Record
	err := e.App.RunInTransaction(func(tx core.App) error {
		r, err := tx.FindRecordById(vocab.Campaigns, e.Request.PathValue("id"))
		if err != nil {
			return err
		}
		saved = r
		if !editable(r.GetString("status")) {
			f.Fail("form", "This campaign is "+statusWords(r.GetString("status"))+" now, so it can't be edited.")
			return nil
		}
		p.checkContent(f, "a name for this campaign (only staff see it)")
		if !f.OK() {
			return nil
		}
		fill(r, f)
		if r.GetString("status") == vocab.CampaignFailed {
			r.Set("status", vocab.CampaignDraft)
			r.Set("last_error", "")
		}
		if err := tx.Save(r); err != nil {
			failSave(f, err)
		}
		return nil
	})
	if err != nil {
		return p.Console.RenderStatus(e, http.StatusNotFound, "error", nil)
	}
	if !f.OK() {
		return p.renderCompose(e, http.StatusBadRequest, saved, f)
	}
	return console.Redirect(e, "/campaigns/"+saved.Id, "Saved.")
}

// previewPart renders the form's content for the chosen supporter (by
// address) or the sample reader, keeps the result for the preview frames,
// and answers with the frames and any problems, each on its field.
func (p *Pages) previewPart(e *core.RequestEvent) error {
	f := console.NewForm(e)
	supporter := ""
	if addr := f.Get("preview_email"); addr != "" {
		s, err := e.App.FindFirstRecordByData(vocab.Supporters, "email", normalizeEmail(addr))
		if err != nil {
			return p.part(e, http.StatusOK, "preview", previewView{Problems: []string{"No supporter has the address " + addr + "; the preview shows sample data."}})
		}
		supporter = s.Id
	}
	m, problems, err := p.Engine.Preview(contentOf(f), supporter)
	if err != nil {
		return err
	}
	v := previewView{Subject: m.Subject}
	for _, pr := range problems {
		v.Problems = append(v.Problems, fieldLabel(pr.Field)+": "+problemText(pr))
	}
	if len(problems) == 0 {
		v.Key = p.preview.put(console.Staff(e).Record.Id, m.HTML)
	}
	return p.part(e, http.StatusOK, "preview", v)
}

type previewView struct {
	Subject, Key string
	Problems     []string
}

// previewFrame serves a kept preview to the member who made it, as the
// engine's own preview page does: the email's HTML under a CSP of its own
// (no script; its inline styles allowed), framed only by the console.
func (p *Pages) previewFrame(e *core.RequestEvent) error {
	html, ok := p.preview.get(console.Staff(e).Record.Id, e.Request.PathValue("key"))
	if !ok {
		html = `<p>This preview has expired; change the campaign to see it again.</p>`
	}
	h := e.Response.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	return e.HTML(http.StatusOK, html)
}

// countPart answers with how many supporters the picked audience reaches,
// by the snapshot's own rule.
func (p *Pages) countPart(e *core.RequestEvent) error {
	f := console.NewForm(e)
	a := audienceOf(f)
	n, err := campaigns.CountAudience(e.App, a)
	if err != nil {
		return err
	}
	return p.part(e, http.StatusOK, "count", countView{Count: n, NoTopic: len(a.Topics) == 0, Tags: a.Tags})
}

type countView struct {
	Count   int
	NoTopic bool
	Tags    []string
}

func fieldLabel(field string) string {
	switch field {
	case "subject":
		return "Subject"
	case "preheader":
		return "Preheader"
	case "layout":
		return "Layout"
	case "supporter":
		return "Preview as"
	}
	return "Body"
}

// snippetPart shows the upcoming-events block to paste into the body, in
// the body's format, with the events it would list today.
func (p *Pages) snippetPart(e *core.RequestEvent) error {
	format := e.Request.URL.Query().Get("body_format")
	if format != vocab.FormatHTML {
		format = vocab.FormatMarkdown
	}
	upcoming, err := events.Next(e.App, p.Now(), events.DigestCount)
	if err != nil {
		return err
	}
	return p.part(e, http.StatusOK, "snippet", snippetView{Snippet: strings.TrimSpace(events.Digest(format)), Events: upcoming})
}

type snippetView struct {
	Snippet string
	Events  []events.Item
}
