package supporterui

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console"
	"supportercrm/internal/csvio"
	"supportercrm/internal/exporter"
	"supportercrm/internal/vocab"
)

type exportsView struct {
	Form     *console.Form
	Topics   []topicOption
	Statuses []string
}

func (p *Pages) exportsPage(e *core.RequestEvent) error {
	return p.renderExports(e, http.StatusOK, console.NewForm(nil))
}

func (p *Pages) renderExports(e *core.RequestEvent, status int, f *console.Form) error {
	opts, _, err := topics(p.app)
	if err != nil {
		return err
	}
	return p.c.RenderStatus(e, status, "supporters/exports", exportsView{Form: f, Topics: opts, Statuses: vocab.SupporterStatuses[:5]})
}

// exportSupporters streams the supporters that match the form's filters
// (the search's own) as CSV, and records who exported what.
func (p *Pages) exportSupporters(e *core.RequestEvent) error {
	f := console.NewForm(e)
	q := Query{Status: f.Get("status"), Topic: f.Get("topic"), Tag: f.Get("tag")}
	if errs := q.Check(p.app); errs != nil {
		for name, msg := range errs {
			f.Fail(name, msg)
		}
		return p.renderExports(e, http.StatusBadRequest, f)
	}
	var what []string
	for _, kv := range [][2]string{{"status", q.Status}, {"topic", q.Topic}, {"tag", q.Tag}} {
		if kv[1] != "" {
			what = append(what, kv[0]+" "+kv[1])
		}
	}
	filter := "all supporters"
	if len(what) > 0 {
		filter = "supporters with " + strings.Join(what, ", ")
	}
	return p.download(e, "supporters", "supporters.export", filter, func(w io.Writer) (int, error) {
		return exporter.Supporters(p.app, w, exporter.Filter{Status: q.Status, Topic: q.Topic, Tag: q.Tag})
	})
}

func (p *Pages) exportConsents(e *core.RequestEvent) error {
	return p.download(e, "consents", "consents.export", "every consent record", func(w io.Writer) (int, error) {
		return exporter.Consents(p.app, w)
	})
}

// download audits an export (who exported what), then streams it as a CSV
// attachment. The audit row is written first, so no data leaves unrecorded.
// A refusal before the first byte (a filter gone stale) is a 400 page.
func (p *Pages) download(e *core.RequestEvent, name, action, what string, write func(io.Writer) (int, error)) error {
	if err := console.AuditRequest(p.app, e, action, name, what); err != nil {
		return err
	}
	_, sent, err := csvio.Download(e.Response, name, write)
	switch {
	case err == nil:
		return nil
	case sent:
		p.app.Logger().Error("export cut short", "export", name, "error", err.Error())
		return nil
	case errors.Is(err, exporter.ErrBadFilter):
		f := console.NewForm(e)
		f.Fail("topic", err.Error())
		return p.renderExports(e, http.StatusBadRequest, f)
	}
	return err
}
