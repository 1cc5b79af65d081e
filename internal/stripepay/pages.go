package stripepay

import (
	"errors"
	"net/http"
	"slices"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/giftaid"
	"supportercrm/internal/signup"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// page is what the giving page templates see.
type page struct {
	Charity charity.Identity
	Title   string
	// Unavailable is true when Stripe isn't configured: the page says so
	// and links to GivingURL (the charity's other ways to give).
	Unavailable bool
	GivingURL   string
	Form        Input
	Errors      FieldErrors
	Token       string
	Amounts     []choice
	Frequencies []choice
	// Wording is HMRC's model declaration, WordingVersion its fingerprint.
	Wording, WordingVersion string
	// OptIn is whether the newsletter box is offered (a public topic
	// "newsletter" exists); ConsentWording is what it says.
	OptIn          bool
	ConsentWording string
	// RoomFrom and RoomStep are the room sponsorship's least weekly gift and
	// step, for people.
	RoomFrom, RoomStep string
	// Heading, Message and Link are for message pages.
	Heading, Message string
	Link             *link
}

type choice struct {
	Value, Label string
	Checked      bool
}

type link struct{ URL, Label string }

// Page templates (templates/pages/NAME.html).
var templates = map[string]string{formDonate: "donate", formSponsor: "sponsor_a_room"}

var titles = map[string]string{formDonate: "Make a donation", formSponsor: "Sponsor a room"}

func (s *Service) render(e *core.RequestEvent, status int, name string, p page) error {
	id, err := s.Identity()
	if err != nil {
		return err
	}
	p.Charity = id
	if name == templates[p.Form.Form] {
		return s.Views.RespondFormsTo(e.Response, status, "no-store", name, p, checkoutOrigin)
	}
	return s.Views.Respond(e.Response, status, "no-store", name, p)
}

// checkoutOrigin is where the giving forms' answer sends the donor; only
// those two pages' policy names it.
const checkoutOrigin = "https://checkout.stripe.com"

func (s *Service) say(e *core.RequestEvent, status int, heading, msg string, l *link) error {
	return s.render(e, status, "message", page{Title: heading, Heading: heading, Message: msg, Link: l})
}

// form renders a giving form with what was typed and its errors.
func (s *Service) form(e *core.RequestEvent, status int, in Input, errs FieldErrors) error {
	a, err := s.settings()
	if err != nil {
		return err
	}
	id, err := s.Identity()
	if err != nil {
		return err
	}
	p := page{Title: titles[in.Form], Form: in, Errors: errs, GivingURL: a.GivingURL, Unavailable: !s.Config.Enabled(),
		RoomFrom: poundsLabel(a.RoomWeek), RoomStep: poundsLabel(a.RoomStep)}
	if p.GivingURL == "" {
		p.GivingURL = id.Website
	}
	if p.Unavailable {
		return s.render(e, status, templates[in.Form], p)
	}
	suggested := a.Suggested
	freqs := []choice{{oneOff, "Once", false}, {vocab.PledgeMonthly, "Monthly", false}, {vocab.PledgeWeekly, "Weekly", false}}
	if in.Form == formSponsor {
		suggested = a.roomChoices()
		freqs = []choice{{vocab.PledgeWeekly, "Weekly", false}, {vocab.PledgeMonthly, "Monthly (the same a week, taken monthly)", false}}
	}
	for _, pence := range suggested {
		v := poundsValue(pence)
		label := poundsLabel(pence)
		if in.Form == formSponsor {
			label += " a week"
		}
		p.Amounts = append(p.Amounts, choice{v, label, in.Amount == v})
	}
	for i := range freqs {
		freqs[i].Checked = freqs[i].Value == in.Frequency
	}
	p.Frequencies = freqs
	p.Wording = giftaid.Wording(id.Name)
	p.WordingVersion = charity.WordingVersion(p.Wording)
	topics, err := s.newsletter()
	if err != nil {
		return err
	}
	p.OptIn, p.ConsentWording = len(topics) > 0, id.ConsentWording
	p.Token = signup.FormToken(s.Signer)
	return s.render(e, status, templates[in.Form], p)
}

// DonatePage serves GET /donate.
func (s *Service) DonatePage(e *core.RequestEvent) error {
	return s.form(e, http.StatusOK, Input{Form: formDonate, Frequency: oneOff}, nil)
}

// SponsorPage serves GET /sponsor-a-room.
func (s *Service) SponsorPage(e *core.RequestEvent) error {
	return s.form(e, http.StatusOK, Input{Form: formSponsor, Frequency: vocab.PledgeWeekly}, nil)
}

// Donate serves POST /donate.
func (s *Service) Donate(e *core.RequestEvent) error { return s.submit(e, formDonate) }

// Sponsor serves POST /sponsor-a-room.
func (s *Service) Sponsor(e *core.RequestEvent) error { return s.submit(e, formSponsor) }

// submit checks a giving form (the bot checks, then every field) and, when
// all is well, sends the donor to Stripe Checkout. Nothing is created
// before every field is right.
func (s *Service) submit(e *core.RequestEvent, form string) error {
	if err := e.Request.ParseForm(); err != nil {
		return s.say(e, http.StatusBadRequest, "We couldn't read that form", "Please go back and try again.", nil)
	}
	f := e.Request.PostForm
	in := Input{Form: form, Amount: f.Get("amount"), Other: f.Get("other_amount"), Frequency: f.Get("frequency"),
		Email: f.Get("email"), FirstName: f.Get("first_name"), LastName: f.Get("last_name"), GiftAid: f.Get("gift_aid") == "yes",
		Title: f.Get("title"), House: f.Get("house"), Address: f.Get("address"), Postcode: f.Get("postcode"),
		WordingVersion: f.Get("wording_version"), OptIn: f.Get("opt_in") == "yes"}
	if !s.Config.Enabled() {
		return s.form(e, http.StatusServiceUnavailable, in, nil)
	}
	if f.Get("website") != "" {
		// The honeypot: a bot, shown the cancelled page as if it had gone.
		return s.Cancelled(e)
	}
	a, err := s.settings()
	if err != nil {
		return err
	}
	id, err := s.Identity()
	if err != nil {
		return err
	}
	g, errs := validate(in, a, id)
	switch age, terr := signup.FormAge(s.Signer, f.Get("form_token")); {
	case terr != nil:
		if errs == nil {
			errs = FieldErrors{}
		}
		errs["form"] = "For your security, please check your details and press the button again."
	case age < s.MinSubmit && errs == nil:
		return s.Cancelled(e) // faster than anyone types: a bot
	}
	if errs != nil {
		return s.form(e, http.StatusBadRequest, in, errs)
	}
	topics, err := s.newsletter()
	if err != nil {
		return err
	}
	to, err := s.begin(e.Request.Context(), g, in.OptIn && len(topics) > 0, id, e.RealIP(), e.Request.UserAgent())
	if err != nil {
		e.App.Logger().Error("stripe: failed to start a checkout", "error", err.Error())
		return s.say(e, http.StatusBadGateway, "We couldn't reach our payment provider",
			"Nothing has been taken. Please go back and try again in a few minutes.", &link{"/" + map[string]string{formDonate: "donate", formSponsor: "sponsor-a-room"}[form], "Back to the form"})
	}
	return e.Redirect(http.StatusSeeOther, to)
}

// Thanks serves GET /donate/thank-you, where Stripe sends a donor who
// paid. It shows nothing of the gift: the address bar is no proof of who
// is looking.
func (s *Service) Thanks(e *core.RequestEvent) error {
	return s.render(e, http.StatusOK, "giving_thanks", page{Title: "Thank you"})
}

// Cancelled serves GET /donate/cancelled, where Stripe sends a donor who
// went back.
func (s *Service) Cancelled(e *core.RequestEvent) error {
	return s.render(e, http.StatusOK, "giving_cancelled", page{Title: "Your gift was not made"})
}

// ManagePage serves GET /sponsor-a-room/manage: one field, the address.
func (s *Service) ManagePage(e *core.RequestEvent) error {
	return s.managePage(e, http.StatusOK, "", nil)
}

func (s *Service) managePage(e *core.RequestEvent, status int, email string, errs FieldErrors) error {
	return s.render(e, status, "sponsor_manage", page{Title: "Manage my sponsorship", Unavailable: !s.Config.Enabled(),
		Form: Input{Email: email}, Errors: errs, Token: signup.FormToken(s.Signer)})
}

// Manage serves POST /sponsor-a-room/manage: the same answer whether or not
// the address is a donor's.
func (s *Service) Manage(e *core.RequestEvent) error {
	if err := e.Request.ParseForm(); err != nil {
		return s.say(e, http.StatusBadRequest, "We couldn't read that form", "Please go back and try again.", nil)
	}
	f := e.Request.PostForm
	if !s.Config.Enabled() {
		return s.managePage(e, http.StatusServiceUnavailable, f.Get("email"), nil)
	}
	done := func() error { return s.say(e, http.StatusOK, "Check your inbox", manageAnswer, nil) }
	if f.Get("website") != "" {
		return done()
	}
	email, msg := signup.NormalizeEmail(f.Get("email"))
	age, terr := signup.FormAge(s.Signer, f.Get("form_token"))
	switch {
	case msg != "":
		return s.managePage(e, http.StatusBadRequest, f.Get("email"), FieldErrors{"email": msg})
	case terr != nil:
		return s.managePage(e, http.StatusBadRequest, f.Get("email"), FieldErrors{"form": "For your security, please press the button again."})
	case age < s.MinSubmit:
		return done()
	}
	if err := s.sendManageLink(email); err != nil {
		return err
	}
	return done()
}

// Portal serves GET /sponsor-a-room/manage/portal?token=…, the mailed link:
// a fresh customer portal session, and a redirect to it. It changes
// nothing here, so a mail scanner following it does no harm.
func (s *Service) Portal(e *core.RequestEvent) error {
	if !s.Config.Enabled() {
		return s.say(e, http.StatusServiceUnavailable, "Online giving isn't set up", "Please contact us to change your regular gift.", nil)
	}
	to, err := s.portalURL(e.Request.Context(), e.Request.URL.Query().Get("token"))
	again := &link{"/sponsor-a-room/manage", "Email me a new link"}
	switch {
	case errors.Is(err, tokens.ErrExpired):
		return s.say(e, http.StatusBadRequest, "This link has expired", "Links to manage your gift work for 24 hours.", again)
	case errors.Is(err, errNoPortal):
		return s.say(e, http.StatusBadRequest, "There's nothing to manage", "We have no regular gift of yours collected online. If you think this is wrong, please contact us.", nil)
	case slices.ContainsFunc([]error{tokens.ErrMalformed, tokens.ErrSignature, tokens.ErrPurpose}, func(t error) bool { return errors.Is(err, t) }):
		return s.say(e, http.StatusBadRequest, "This link doesn't work", "It may have been cut short or changed. Please copy the whole link from the email.", again)
	case err != nil:
		e.App.Logger().Error("stripe: failed to open a customer portal", "error", err.Error())
		return s.say(e, http.StatusBadGateway, "We couldn't reach our payment provider", "Please try the link again in a few minutes.", nil)
	}
	return e.Redirect(http.StatusSeeOther, to)
}
