package campaigns

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// ViewPage serves GET /view: a supporter's own copy of a campaign, from the
// "view in browser" link in it.
func (e *Engine) ViewPage(ev *core.RequestEvent) error {
	claims, err := e.Signer.Verify(tokens.View, ev.Request.URL.Query().Get("token"))
	if err != nil {
		return ev.BadRequestError("This link doesn't work; please use the one in the email.", nil)
	}
	d, err := e.App.FindRecordById(vocab.Deliveries, claims.Subject)
	if err != nil && e.ViewElse != nil {
		return e.ViewElse(ev, claims.Subject)
	}
	if err != nil {
		return ev.NotFoundError("This email is no longer available.", nil)
	}
	c, err := e.App.FindRecordById(vocab.Campaigns, d.GetString("campaign"))
	if err != nil {
		return ev.NotFoundError("This email is no longer available.", nil)
	}
	sup, err := e.App.FindRecordById(vocab.Supporters, d.GetString("supporter"))
	if err != nil || sup.GetString("status") == vocab.StatusErased {
		return ev.NotFoundError("This email is no longer available.", nil)
	}
	id, err := e.Identity()
	if err != nil {
		return err
	}
	compiled, err := e.compile(c)
	var m Message
	if err == nil {
		m, err = compiled.Render(e.recipient(id, job{ID: d.Id, Supporter: sup.Id, Email: sup.GetString("email"),
			FirstName: sup.GetString("first_name"), LastName: sup.GetString("last_name")}))
	}
	if err != nil { // staff's to fix: the reader gets no template internals
		e.App.Logger().Error("campaigns: a view in the browser failed to render", "campaign", c.Id, "error", err.Error())
		return ev.InternalServerError("This email can't be shown at the moment.", nil)
	}
	return e.page(ev, m.HTML)
}

// PreviewPage serves GET /preview: the campaign as a sample supporter sees
// it, from the link on the campaign record.
func (e *Engine) PreviewPage(ev *core.RequestEvent) error {
	claims, err := e.Signer.Verify(tokens.Preview, ev.Request.URL.Query().Get("token"))
	if err != nil {
		return ev.BadRequestError("This preview link is invalid or has expired; save the campaign for a new one.", nil)
	}
	c, err := e.App.FindRecordById(vocab.Campaigns, claims.Subject)
	if err != nil {
		return ev.NotFoundError("No such campaign.", nil)
	}
	compiled, err := e.compile(c)
	if err != nil {
		return ev.BadRequestError("The campaign doesn't render: "+err.Error(), nil)
	}
	id, err := e.Identity()
	if err != nil {
		return err
	}
	m, err := compiled.Render(Recipient{FirstName: "Alex", LastName: "Example", Email: "alex@example.org",
		UnsubscribeURL: id.AppURL + "/unsubscribe?token=preview", PreferencesURL: id.AppURL + "/preferences?token=preview", WebURL: "#"})
	if err != nil {
		return ev.BadRequestError("The campaign doesn't render: "+err.Error(), nil)
	}
	return e.page(ev, m.HTML)
}

func (e *Engine) page(ev *core.RequestEvent, html string) error {
	h := ev.Response.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; frame-ancestors 'self'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	return ev.HTML(http.StatusOK, html)
}
