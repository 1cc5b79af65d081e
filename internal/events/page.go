package events

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/views"
)

// Page serves GET /events.
type Page struct {
	App      core.App
	Views    *views.Set
	Identity func() (charity.Identity, error)
	Now      func() time.Time
}

type pageData struct {
	Charity charity.Identity
	Title   string
	Listing
}

// Serve renders the public events page. It may be cached briefly: it holds
// nothing personal and changes only when events do.
func (p *Page) Serve(e *core.RequestEvent) error {
	id, err := p.Identity()
	if err != nil {
		return err
	}
	l, err := List(p.App, p.Now())
	if err != nil {
		return err
	}
	return p.Views.Respond(e.Response, http.StatusOK, "public, max-age=60", "events", pageData{Charity: id, Title: "What's on", Listing: l})
}
