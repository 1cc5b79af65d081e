package campaignui

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console"
	"supportercrm/internal/schedules"
	"supportercrm/internal/vocab"
)

// Recurring newsletters: the list, and an editor that says the cron spec in
// words with its next five runs in London time. Saving goes through the
// schedules package's own validation (spec, frequency, audience, content),
// whose messages land on their fields.

type scheduleRow struct {
	ID, Name, Kind, Words, Error string
	Enabled, AutoSend            bool
	Next, Last                   time.Time
	LastCampaign                 string
}

func (p *Pages) scheduleRoutes() {
	c := p.Console
	c.Nav("Schedules", "/schedules", console.Comms)
	c.GET("/schedules", console.Comms, p.scheduleList)
	c.GET("/schedules/new", console.Comms, p.scheduleNew)
	c.POST("/schedules/new", console.Comms, p.scheduleSave)
	c.POST("/schedules/spec", console.Comms, p.specPart)
	c.GET("/schedules/{id}", console.Comms, p.scheduleEdit)
	c.POST("/schedules/{id}", console.Comms, p.scheduleSave)
}

func (p *Pages) scheduleList(e *core.RequestEvent) error {
	recs, err := e.App.FindRecordsByFilter(vocab.Schedules, "", "name", 0, 0)
	if err != nil {
		return err
	}
	var rows []scheduleRow
	for _, r := range recs {
		words, err := schedules.Describe(r.GetString("spec"))
		if err != nil {
			words = r.GetString("spec")
		}
		rows = append(rows, scheduleRow{ID: r.Id, Name: r.GetString("name"), Kind: kindWords(r.GetString("kind")), Words: words,
			Error: r.GetString("last_error"), Enabled: r.GetBool("enabled"), AutoSend: r.GetBool("auto_send"),
			Next: r.GetDateTime("next_run_at").Time(), Last: r.GetDateTime("last_run_at").Time(), LastCampaign: r.GetString("last_campaign")})
	}
	return p.Console.Render(e, "schedules/list", rows)
}

func kindWords(k string) string {
	if k == vocab.ScheduleWhatsOn {
		return "What's on (lists upcoming events after the text)"
	}
	return "Newsletter"
}

// scheduleView is the editor page.
type scheduleView struct {
	editor
	ID       string
	SpecHelp template.HTML // parts/spec.html, which typing then replaces
	Last     time.Time
	Kinds    []string
}

// specView is the spec said in words and its next runs, or what is wrong.
type specView struct {
	Words, Error string
	Runs         []time.Time
}

func (p *Pages) specOf(spec string, autoSend bool) specView {
	if spec == "" {
		return specView{Error: "Type a spec, e.g. 0 9 1 * * (09:00 on the 1st of each month)."}
	}
	s, err := schedules.Parse(spec, "")
	if err == nil {
		err = s.CheckFrequency(autoSend, p.Now())
	}
	if err != nil {
		return specView{Error: "This spec can't be used: " + err.Error() + "."}
	}
	words, _ := schedules.Describe(spec)
	return specView{Words: "Runs " + words + ", London time.", Runs: s.NextRuns(p.Now(), 5)}
}

func (p *Pages) renderSchedule(e *core.RequestEvent, status int, r *core.Record, f *console.Form) error {
	ed, err := p.editorFor(f, "Name (each run's campaign is named after it and the date)")
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := p.parts.ExecuteTemplate(&b, "spec", p.specOf(f.Get("spec"), f.Get("auto_send") != "")); err != nil {
		return err
	}
	v := scheduleView{editor: ed, SpecHelp: template.HTML(b.String()), Kinds: []string{vocab.ScheduleNewsletter, vocab.ScheduleWhatsOn}}
	if r != nil {
		v.ID, v.Last = r.Id, r.GetDateTime("last_run_at").Time()
	}
	return p.Console.RenderStatus(e, status, "schedules/edit", v)
}

func (p *Pages) scheduleNew(e *core.RequestEvent) error {
	f := console.NewForm(nil)
	f.Values.Set("body_format", vocab.FormatMarkdown)
	f.Values.Set("spec", "0 9 1 * *")
	f.Values.Set("kind", vocab.ScheduleNewsletter)
	return p.renderSchedule(e, http.StatusOK, nil, f)
}

func (p *Pages) scheduleEdit(e *core.RequestEvent) error {
	r, err := e.App.FindRecordById(vocab.Schedules, e.Request.PathValue("id"))
	if err != nil {
		return p.notFound(e)
	}
	f := formFromRecord(r)
	f.Values.Set("spec", r.GetString("spec"))
	f.Values.Set("kind", r.GetString("kind"))
	for _, k := range []string{"enabled", "auto_send"} {
		if r.GetBool(k) {
			f.Values.Set(k, "on")
		}
	}
	return p.renderSchedule(e, http.StatusOK, r, f)
}

// scheduleSave creates or updates a schedule; nothing is saved while any
// field has a problem.
func (p *Pages) scheduleSave(e *core.RequestEvent) error {
	f := console.NewForm(e)
	var r *core.Record
	if id := e.Request.PathValue("id"); id != "" {
		var err error
		if r, err = e.App.FindRecordById(vocab.Schedules, id); err != nil {
			return p.notFound(e)
		}
	} else {
		col, err := e.App.FindCachedCollectionByNameOrId(vocab.Schedules)
		if err != nil {
			return err
		}
		r = core.NewRecord(col)
	}
	p.checkContent(f, "a name for this schedule")
	if sv := p.specOf(f.Get("spec"), f.Get("auto_send") != ""); sv.Error != "" {
		f.Fail("spec", sv.Error)
	}
	if k := f.Get("kind"); k != vocab.ScheduleNewsletter && k != vocab.ScheduleWhatsOn {
		f.Fail("kind", "Choose what each run builds.")
	}
	if f.OK() {
		fill(r, f)
		r.Set("spec", f.Get("spec"))
		r.Set("kind", f.Get("kind"))
		r.Set("enabled", f.Get("enabled") != "")
		r.Set("auto_send", f.Get("auto_send") != "")
		if err := e.App.Save(r); err != nil {
			failSave(f, err)
		}
	}
	if !f.OK() {
		if r.IsNew() {
			r = nil
		}
		return p.renderSchedule(e, http.StatusBadRequest, r, f)
	}
	return console.Redirect(e, "/schedules/"+r.Id, "Saved.")
}

// specPart is the spec help, updated as staff type.
func (p *Pages) specPart(e *core.RequestEvent) error {
	f := console.NewForm(e)
	return p.part(e, http.StatusOK, "spec", p.specOf(f.Get("spec"), f.Get("auto_send") != ""))
}
