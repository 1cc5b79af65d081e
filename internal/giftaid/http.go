package giftaid

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
)

// Handlers serves the public Gift Aid page. Only the signed link says who
// the donor is: the page asks for no email address, so it can't be used to
// find out who gives, and a forged form has no valid token (CSRF).
type Handlers struct {
	S *Service
}

// page is what pages/gift_aid.html sees.
type page struct {
	Charity        charity.Identity
	Title          string
	Token          string
	Form           Input
	Errors         FieldErrors
	Wording        string
	WordingVersion string
	// HomeArea is the outward code ("LS6") of the home on the donor's latest
	// declaration, offered for them to confirm; empty when there is none.
	HomeArea string
	Active   []declared
}

// declared is a declaration in force as the page shows it: the home by its
// postcode's outward part only.
type declared struct{ On, Method, Area string }

// message is what pages/message.html sees.
type message struct {
	Charity        charity.Identity
	Title, Heading string
	Message        string
	Link           *link
}

type link struct{ URL, Label string }

// Page serves GET /gift-aid?token=…: the declaration form and, when a
// declaration is in force, a cancel button. The names are filled in; a stored
// home address never is: the donor types it, or confirms the one behind a
// hint that shows the postcode's outward part only.
func (h *Handlers) Page(e *core.RequestEvent) error {
	token := e.Request.URL.Query().Get("token")
	sup, err := h.S.Donor(token)
	if err != nil {
		return h.failure(e, err)
	}
	home, err := StoredHome(h.S.App, sup.Id)
	if err != nil {
		return err
	}
	form := Input{FirstName: sup.GetString("first_name"), LastName: sup.GetString("last_name")}
	if home != nil {
		form = Input{Title: home.GetString("title"), FirstName: home.GetString("first_name"), LastName: home.GetString("last_name")}
	}
	return h.form(e, http.StatusOK, token, sup.Id, home, form, nil)
}

// form renders the page; home is the supporter's StoredHome (nil for none).
func (h *Handlers) form(e *core.RequestEvent, status int, token, supporterID string, home *core.Record, f Input, errs FieldErrors) error {
	id, err := h.S.Identity()
	if err != nil {
		return err
	}
	active, err := Active(h.S.App, supporterID)
	if err != nil {
		return err
	}
	p := page{Charity: id, Title: "Gift Aid", Token: token, Form: f, Errors: errs,
		Wording: Wording(id.Name), WordingVersion: charity.WordingVersion(Wording(id.Name))}
	if home != nil {
		p.HomeArea = Outward(home.GetString("postcode"))
	}
	for _, d := range active {
		p.Active = append(p.Active, declared{On: d.GetDateTime("declared_on").Time().In(london).Format(dateForPeople), Method: d.GetString("method"), Area: Outward(d.GetString("postcode"))})
	}
	return h.render(e, status, "gift_aid", p)
}

// Submit serves POST /gift-aid: action "declare" records a declaration,
// "cancel" cancels those in force. The token comes in the form body.
func (h *Handlers) Submit(e *core.RequestEvent) error {
	if err := e.Request.ParseForm(); err != nil {
		return h.say(e, http.StatusBadRequest, "We couldn't read that form", "Please go back and try again.", nil)
	}
	f := e.Request.PostForm
	token := f.Get("token")
	back := &link{"/gift-aid?token=" + url.QueryEscape(token), "Back to the Gift Aid page"}
	if f.Get("action") == "cancel" {
		n, err := h.S.Cancel(token)
		if err != nil {
			return h.failure(e, err)
		}
		if n == 0 {
			return h.say(e, http.StatusOK, "Nothing to cancel", "You have no Gift Aid declaration with us at the moment.", back)
		}
		return h.say(e, http.StatusOK, "Gift Aid cancelled", "We won't claim Gift Aid on donations you make from today. Thank you for letting us know; if you'd like to declare again later, come back to this page.", back)
	}
	in := Input{Title: f.Get("title"), FirstName: f.Get("first_name"), LastName: f.Get("last_name"), House: f.Get("house"),
		Address: f.Get("address"), Postcode: f.Get("postcode"), Confirm: f.Get("confirm") == "yes", SameHome: f.Get("home") == "same"}
	errs, err := h.S.Declare(token, Request{Input: in, WordingVersion: f.Get("wording_version"), IP: e.RealIP(), UserAgent: e.Request.UserAgent()})
	if err != nil {
		return h.failure(e, err)
	}
	if errs != nil {
		sup, err := h.S.Donor(token)
		if err != nil {
			return h.failure(e, err)
		}
		home, err := StoredHome(h.S.App, sup.Id)
		if err != nil {
			return err
		}
		return h.form(e, http.StatusBadRequest, token, sup.Id, home, in, errs)
	}
	return h.say(e, http.StatusOK, "Thank you: Gift Aid declared",
		"We'll claim Gift Aid on your donations from the past 4 years and in the future, adding 25p to every £1 you give at no extra cost to you. Please tell us if you stop paying enough UK tax, change your name or move home.", back)
}

func (h *Handlers) failure(e *core.RequestEvent, err error) error {
	var le *LinkError
	if errors.As(err, &le) {
		return h.say(e, http.StatusBadRequest, le.Heading, le.Message, nil)
	}
	return err
}

func (h *Handlers) say(e *core.RequestEvent, status int, heading, msg string, l *link) error {
	id, err := h.S.Identity()
	if err != nil {
		return err
	}
	return h.render(e, status, "message", message{Charity: id, Title: heading, Heading: heading, Message: msg, Link: l})
}

func (h *Handlers) render(e *core.RequestEvent, status int, name string, data any) error {
	return h.S.Views.Respond(e.Response, status, "no-store", name, data)
}
