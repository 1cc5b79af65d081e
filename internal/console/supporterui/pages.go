package supporterui

import (
	"net/http"
	"strconv"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console"
	"supportercrm/internal/erasure"
	"supportercrm/internal/importer"
	"supportercrm/internal/signup"
	"supportercrm/internal/vocab"
)

// Pages are the supporter and admin-data pages of the console.
type Pages struct {
	c       *console.Console
	app     core.App
	imports *Imports
	eraser  *erasure.Eraser
}

// Register adds the pages to the console (after c.Mount). imp imports
// supporter files; its Finished hook is set here, to audit each import.
// Every route names its role, so the console checks it on the server
// before a handler runs: comms staff may search supporters and read their
// timeline (without giving data); every other page and action is admins'.
func Register(c *console.Console, app core.App, imp *importer.Importer) *Pages {
	p := &Pages{c: c, app: app, eraser: &erasure.Eraser{App: app, Hash: signup.HashEmail}}
	p.imports = &Imports{Importer: imp, Finished: p.imported}

	c.Nav("Supporters", "/supporters", console.Comms)
	c.GET("/supporters", console.Comms, p.list)
	c.GET("/supporters/{id}", console.Comms, p.withSupporter(p.show))
	c.GET("/supporters/{id}/edit", console.Admin, p.withSupporter(p.editPage))
	c.POST("/supporters/{id}/edit", console.Admin, p.withSupporter(p.edit))
	c.GET("/supporters/{id}/erase", console.Admin, p.withSupporter(p.erasePage))
	c.POST("/supporters/{id}/erase", console.Admin, p.withSupporter(p.erase))

	c.Nav("Import", "/import", console.Admin)
	c.GET("/import", console.Admin, p.importPage)
	p.importRoute(c.POST("/import", console.Admin, p.startImport))
	c.GET("/import/{job}", console.Admin, p.jobPage)

	c.Nav("Exports", "/exports", console.Admin)
	c.GET("/exports", console.Admin, p.exportsPage)
	c.POST("/exports/supporters", console.Admin, p.exportSupporters)
	c.POST("/exports/consents", console.Admin, p.exportConsents)

	c.Nav("Giving", "/giving/donations", console.Admin)
	c.GET("/giving/donations", console.Admin, p.donations)
	c.GET("/giving/pledges", console.Admin, p.pledges)
	c.GET("/giving/declarations", console.Admin, p.declarations)
	c.GET("/giving/claims", console.Admin, p.claimsPage)
	c.POST("/giving/claims", console.Admin, p.makeClaim)
	c.POST("/giving/claims/download", console.Admin, p.claimDownload)
	return p
}

// Wait blocks until any import running has finished (at shutdown).
func (p *Pages) Wait() { p.imports.Wait() }

// admin reports whether the signed-in member is an admin.
func admin(e *core.RequestEvent) bool { return console.Staff(e).Admin() }

// pageNumber reads the page query parameter: 1 when missing or bad.
func pageNumber(e *core.RequestEvent) int {
	n, err := strconv.Atoi(e.Request.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// withSupporter finds the supporter of the path's id for h, or answers 404.
func (p *Pages) withSupporter(h func(*core.RequestEvent, *core.Record) error) func(*core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		sup, err := p.app.FindRecordById(vocab.Supporters, e.Request.PathValue("id"))
		if err != nil {
			return p.c.RenderStatus(e, http.StatusNotFound, "supporters/missing", nil)
		}
		return h(e, sup)
	}
}
