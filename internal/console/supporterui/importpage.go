package supporterui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"supportercrm/internal/console"
	"supportercrm/internal/csvio"
	"supportercrm/internal/importer"
	"supportercrm/internal/vocab"
)

// importLimit caps an uploaded supporter file (100,000 rows are about 15 MB).
const importLimit = 256 << 20

type importView struct {
	Form    *console.Form
	Recent  []Job
	Columns []string
}

// importRoute lets the upload route take a whole file, not just a form.
func (p *Pages) importRoute(r *router.Route[*core.RequestEvent]) {
	r.Unbind(apis.DefaultBodyLimitMiddlewareId).Bind(apis.BodyLimit(importLimit))
}

func (p *Pages) importPage(e *core.RequestEvent) error {
	return p.renderImport(e, http.StatusOK, console.NewForm(nil))
}

func (p *Pages) renderImport(e *core.RequestEvent, status int, f *console.Form) error {
	return p.c.RenderStatus(e, status, "supporters/import", importView{Form: f, Recent: p.imports.Recent(), Columns: importer.Columns})
}

// startImport spools the upload to a file of the job's own (the request's
// temporary files go when it ends), refuses a file that can't be imported
// with a message on the form and nothing changed, and otherwise starts the
// import and shows its progress.
func (p *Pages) startImport(e *core.RequestEvent) error {
	f := console.NewForm(nil)
	up, _, err := e.Request.FormFile("file")
	if err != nil {
		f.Fail("file", "Choose a CSV file to import.")
		return p.renderImport(e, http.StatusBadRequest, f)
	}
	defer up.Close()
	spool, err := os.CreateTemp("", "console-import-*.csv")
	if err != nil {
		return err
	}
	os.Remove(spool.Name()) // gone once the job closes it
	if _, err := io.Copy(spool, up); err != nil {
		spool.Close()
		return fmt.Errorf("failed to spool the upload: %w", err)
	}
	confirm := e.Request.PostFormValue("confirm") == "yes"
	job, err := p.imports.Start(spool, console.Staff(e).Record, confirm)
	var fe *csvio.FileError
	switch {
	case errors.As(err, &fe):
		spool.Close()
		f.Fail("file", "This file can't be imported, and nothing was changed: "+fe.Error()+".")
		return p.renderImport(e, http.StatusBadRequest, f)
	case errors.Is(err, ErrImportRunning):
		spool.Close()
		f.Fail("file", "Another import is running. Wait for its report, then import this file.")
		return p.renderImport(e, http.StatusConflict, f)
	case err != nil:
		spool.Close()
		return err
	}
	detail := fmt.Sprintf("started import %s, %d bytes", job.ID, job.Total)
	if confirm {
		detail += ", confirmation emails to rows without consent evidence"
	}
	if err := console.AuditRequest(p.app, e, "supporters.import", "supporters", detail); err != nil {
		p.app.Logger().Error("failed to audit an import", "job", job.ID, "error", err.Error())
	}
	return console.Redirect(e, "/import/"+job.ID, "")
}

// imported records an import's outcome in the audit trail.
func (p *Pages) imported(j Job) {
	by, _ := p.app.FindRecordById(vocab.Staff, j.By) // nil if they have gone since

	r := j.Report
	detail := fmt.Sprintf("finished import %s: %d rows, %d created, %d updated, %d unchanged, %d errors", j.ID, r.Rows, r.Created, r.Updated, r.Unchanged, r.ErrorCount)
	if j.Failed != "" {
		detail = fmt.Sprintf("import %s stopped part way after %d rows", j.ID, r.Rows)
	}
	if err := console.Audit(p.app, by, "supporters.import", "supporters", detail); err != nil {
		p.app.Logger().Error("failed to audit an import", "job", j.ID, "error", err.Error())
	}
}

// jobView is an import's progress, then its report.
type jobView struct {
	Job     Job
	Skipped []skipCount
}

type skipCount struct {
	Reason string
	Count  int
}

// jobPage shows an import. While it runs the page asks for itself again
// every second (htmx) and swaps in its progress, until the report comes.
func (p *Pages) jobPage(e *core.RequestEvent) error {
	j, ok := p.imports.Job(e.Request.PathValue("job"))
	if !ok {
		return p.c.RenderStatus(e, http.StatusNotFound, "supporters/missing", nil)
	}
	v := jobView{Job: j}
	for reason, n := range j.Report.Skipped {
		v.Skipped = append(v.Skipped, skipCount{reason, n})
	}
	sort.Slice(v.Skipped, func(a, b int) bool { return v.Skipped[a].Reason < v.Skipped[b].Reason })
	return p.c.Render(e, "supporters/import_job", v)
}
