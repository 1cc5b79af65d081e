package signup

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// acceptedMessage is the one answer to every accepted signup.
const acceptedMessage = "Thank you! Please check your inbox: we've sent you an email to confirm your subscription."

// Handlers serves the public pages and endpoints.
type Handlers struct {
	S *Service
}

// page is what the page templates see.
type page struct {
	Charity          charity.Identity
	Title            string
	Heading          string
	Message          string
	Link             *pageLink
	Form             formValues
	Topics           []topicChoice
	Errors           FieldErrors
	Token            string
	Delivery         string // the campaign message an unsubscribe link came from
	PreferencesToken string
	UnsubscribeToken string
	Snippet          string
}

type pageLink struct{ URL, Label string }

type formValues struct {
	Email, FirstName, LastName string
	Consent                    bool
}

type topicChoice struct {
	Topic
	Checked bool
}

func (h *Handlers) render(e *core.RequestEvent, status int, name string, p page) error {
	id, err := h.S.Identity()
	if err != nil {
		return err
	}
	p.Charity = id
	return h.S.Views.Respond(e.Response, status, "no-store", name, p)
}

func (h *Handlers) message(e *core.RequestEvent, status int, heading, msg string, link *pageLink) error {
	return h.render(e, status, "message", page{Title: heading, Heading: heading, Message: msg, Link: link})
}

func (h *Handlers) signupPage(e *core.RequestEvent, status int, f formValues, chosen []string, errs FieldErrors) error {
	topics, err := h.S.PublicTopics()
	if err != nil {
		return err
	}
	choices := make([]topicChoice, len(topics))
	for i, t := range topics {
		choices[i] = topicChoice{Topic: t, Checked: slices.Contains(chosen, t.Slug)}
	}
	return h.render(e, status, "signup", page{
		Title: "Sign up", Form: f, Topics: choices, Errors: errs,
		Token: FormToken(h.S.Signer),
	})
}

// SignupPage serves GET /.
func (h *Handlers) SignupPage(e *core.RequestEvent) error {
	return h.signupPage(e, http.StatusOK, formValues{}, nil, nil)
}

// SubscribeForm serves POST /subscribe (the signup page and the embedded form).
func (h *Handlers) SubscribeForm(e *core.RequestEvent) error {
	if err := parseForm(e.Request); err != nil {
		return h.message(e, http.StatusBadRequest, "We couldn't read that form", "Please go back and try again.", &pageLink{"/", "Back to the signup form"})
	}
	f := e.Request.PostForm
	in := Input{Email: f.Get("email"), FirstName: f.Get("first_name"), LastName: f.Get("last_name"), Topics: f["topics"], Consent: f.Get("consent") == "true" || f.Get("consent") == "on"}
	method := vocab.MethodWebForm
	if f.Get("source") == "embed" {
		method = vocab.MethodEmbeddedForm
	}
	if f.Get("website") != "" {
		return h.accepted(e, false) // honeypot filled: a bot
	}
	switch h.checkFormToken(f.Get("form_token")) {
	case formTooFast:
		return h.accepted(e, false)
	case formInvalid:
		_, errs := Validate(in)
		if errs == nil {
			errs = FieldErrors{}
		}
		errs["form"] = "For your security, please check your details and press “Sign me up” again."
		return h.signupPage(e, http.StatusBadRequest, formValues{in.Email, in.FirstName, in.LastName, in.Consent}, in.Topics, errs)
	}
	errs, err := h.S.Subscribe(Request{Input: in, Method: method, IP: e.RealIP(), UserAgent: e.Request.UserAgent()})
	if err != nil {
		return err
	}
	if errs != nil {
		return h.signupPage(e, http.StatusBadRequest, formValues{in.Email, in.FirstName, in.LastName, in.Consent}, in.Topics, errs)
	}
	return h.accepted(e, false)
}

// jsonSignup is the body of POST /api/subscribe.
type jsonSignup struct {
	Email     string   `json:"email"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Topics    []string `json:"topics"`
	Consent   bool     `json:"consent"`
	Website   string   `json:"website"`    // honeypot
	FormToken string   `json:"form_token"` // optional: from /embed.js
}

// SubscribeJSON serves POST /api/subscribe.
func (h *Handlers) SubscribeJSON(e *core.RequestEvent) error {
	if mt, _, _ := mime.ParseMediaType(e.Request.Header.Get("Content-Type")); mt != "application/json" {
		return jsonError(e, http.StatusUnsupportedMediaType, "Send the signup as JSON (Content-Type: application/json).", nil)
	}
	var body jsonSignup
	dec := json.NewDecoder(e.Request.Body)
	if err := dec.Decode(&body); err != nil {
		return jsonError(e, http.StatusBadRequest, "The request body is not valid JSON of the expected shape: email, first_name, last_name (strings), topics (a list of slugs), consent (true).", nil)
	}
	if body.Website != "" {
		return h.accepted(e, true)
	}
	if body.FormToken != "" {
		switch h.checkFormToken(body.FormToken) {
		case formTooFast:
			return h.accepted(e, true)
		case formInvalid:
			return jsonError(e, http.StatusBadRequest, "Please check the highlighted fields.", FieldErrors{"form_token": "The form token is invalid or has expired; reload the form."})
		}
	}
	errs, err := h.S.Subscribe(Request{
		Input:  Input{Email: body.Email, FirstName: body.FirstName, LastName: body.LastName, Topics: body.Topics, Consent: body.Consent},
		Method: vocab.MethodAPI, IP: e.RealIP(), UserAgent: e.Request.UserAgent(),
	})
	if err != nil {
		return err
	}
	if errs != nil {
		return jsonError(e, http.StatusBadRequest, "Please check the highlighted fields.", errs)
	}
	return h.accepted(e, true)
}

func (h *Handlers) accepted(e *core.RequestEvent, asJSON bool) error {
	if asJSON {
		return e.JSON(http.StatusAccepted, map[string]string{"message": acceptedMessage})
	}
	return h.message(e, http.StatusAccepted, "Check your inbox", acceptedMessage, nil)
}

// jsonError answers in PocketBase's error shape: status, message, and a
// per-field data object.
func jsonError(e *core.RequestEvent, status int, msg string, errs FieldErrors) error {
	data := map[string]any{}
	for k, v := range errs {
		data[k] = map[string]string{"code": "invalid", "message": v}
	}
	return e.JSON(status, map[string]any{"status": status, "message": msg, "data": data})
}

type formCheck int

const (
	formOK formCheck = iota
	formInvalid
	formTooFast
)

// FormToken signs the time a form is served, for the bot check. The time is
// the token's subject, in Unix milliseconds (base 36): the token's own issue
// time counts whole seconds, which let a post 1.1 s after the page pass a
// 2 s minimum.
func FormToken(s *tokens.Signer) string {
	return s.Sign(tokens.Form, strconv.FormatInt(s.Now().UnixMilli(), 36), tokens.FormTTL)
}

// checkFormToken reads the signed time the form was served. A missing or bad
// token is a stale page (or a bot posting blind); a post faster than a human
// could fill the form is a bot.
func (h *Handlers) checkFormToken(tok string) formCheck {
	age, err := FormAge(h.S.Signer, tok)
	if err != nil {
		return formInvalid
	}
	if age < h.S.MinSubmit {
		return formTooFast
	}
	return formOK
}

// FormAge is how long ago the form a FormToken came with was served; an
// error for a missing, forged or expired token. Other public forms (the
// giving forms) use it for the same bot check.
func FormAge(s *tokens.Signer, tok string) (time.Duration, error) {
	c, err := s.Verify(tokens.Form, tok)
	if err != nil {
		return 0, err
	}
	served, err := strconv.ParseInt(c.Subject, 36, 64)
	if err != nil {
		return 0, tokens.ErrMalformed
	}
	return s.Now().Sub(time.UnixMilli(served)), nil
}

// ConfirmPage serves GET /confirm.
func (h *Handlers) ConfirmPage(e *core.RequestEvent) error {
	token := e.Request.URL.Query().Get("token")
	outcome, sup, err := h.S.Confirm(token)
	if err != nil {
		return h.linkFailure(e, err)
	}
	prefs := &pageLink{"/preferences?token=" + h.S.Signer.Sign(tokens.Preferences, sup.Id, tokens.PreferencesTTL), "Choose your topics"}
	if outcome == AlreadyDone {
		return h.message(e, http.StatusOK, "You're already confirmed", "Your subscription was confirmed earlier. There's nothing more to do.", prefs)
	}
	return h.message(e, http.StatusOK, "You're subscribed", "Thank you for confirming. We've sent you a welcome email, and you'll hear from us about the topics you chose.", prefs)
}

// UnsubscribePage serves GET /unsubscribe: one button, no change (mail
// scanners fetch links).
func (h *Handlers) UnsubscribePage(e *core.RequestEvent) error {
	token := e.Request.URL.Query().Get("token")
	sup, err := h.S.Supporter(tokens.Unsubscribe, token)
	if err != nil {
		return h.linkFailure(e, err)
	}
	return h.render(e, http.StatusOK, "unsubscribe", page{
		Title: "Unsubscribe", Form: formValues{Email: sup.GetString("email")}, Token: token, Delivery: e.Request.URL.Query().Get("d"),
		PreferencesToken: h.S.Signer.Sign(tokens.Preferences, sup.Id, tokens.PreferencesTTL),
	})
}

// Unsubscribe serves POST /unsubscribe: the page's button, and RFC 8058
// one-click from mailbox providers (body List-Unsubscribe=One-Click), which
// must get a 200 and no redirect.
func (h *Handlers) Unsubscribe(e *core.RequestEvent) error {
	_ = parseForm(e.Request)
	method := vocab.MethodLink
	if e.Request.PostForm.Get("List-Unsubscribe") == "One-Click" {
		method = vocab.MethodOneClick
	}
	q := e.Request.URL.Query()
	token := q.Get("token")
	if _, err := h.S.Unsubscribe(token, q.Get("d"), method, e.RealIP(), e.Request.UserAgent()); err != nil {
		if method == vocab.MethodOneClick {
			var le *LinkError
			if errors.As(err, &le) {
				return e.String(http.StatusBadRequest, le.Message)
			}
			return err
		}
		return h.linkFailure(e, err)
	}
	if method == vocab.MethodOneClick {
		return e.String(http.StatusOK, "You have been unsubscribed.")
	}
	return h.message(e, http.StatusOK, "You've been unsubscribed", "We won't email you again. Thank you for your support; if you change your mind, you're always welcome to sign up again.", &pageLink{"/", "Sign up again"})
}

// PreferencesPage serves GET /preferences.
func (h *Handlers) PreferencesPage(e *core.RequestEvent) error {
	token := e.Request.URL.Query().Get("token")
	sup, err := h.S.Supporter(tokens.Preferences, token)
	if err != nil {
		return h.linkFailure(e, err)
	}
	mine := sup.GetStringSlice("topics")
	if sup.GetString("status") != vocab.StatusSubscribed {
		mine = nil
	}
	return h.preferencesPage(e, http.StatusOK, token, sup, formValues{Email: sup.GetString("email"), FirstName: sup.GetString("first_name"), LastName: sup.GetString("last_name")}, func(t Topic) bool { return slices.Contains(mine, t.ID) }, nil)
}

func (h *Handlers) preferencesPage(e *core.RequestEvent, status int, token string, sup *core.Record, f formValues, checked func(Topic) bool, errs FieldErrors) error {
	topics, err := h.S.Choices(sup)
	if err != nil {
		return err
	}
	choices := make([]topicChoice, len(topics))
	for i, t := range topics {
		choices[i] = topicChoice{Topic: t, Checked: checked(t)}
	}
	return h.render(e, status, "preferences", page{
		Title: "Email preferences", Form: f, Topics: choices, Errors: errs, Token: token,
		UnsubscribeToken: h.S.Signer.Sign(tokens.Unsubscribe, sup.Id, tokens.UnsubscribeTTL),
	})
}

// Preferences serves POST /preferences.
func (h *Handlers) Preferences(e *core.RequestEvent) error {
	token := e.Request.URL.Query().Get("token")
	if err := parseForm(e.Request); err != nil {
		return h.message(e, http.StatusBadRequest, "We couldn't read that form", "Please go back and try again.", nil)
	}
	f := e.Request.PostForm
	in := PreferencesInput{FirstName: f.Get("first_name"), LastName: f.Get("last_name"), Topics: f["topics"], IP: e.RealIP(), UserAgent: e.Request.UserAgent()}
	errs, err := h.S.UpdatePreferences(token, in)
	if err != nil {
		return h.linkFailure(e, err)
	}
	if errs != nil {
		sup, err := h.S.Supporter(tokens.Preferences, token)
		if err != nil {
			return h.linkFailure(e, err)
		}
		return h.preferencesPage(e, http.StatusBadRequest, token, sup, formValues{Email: sup.GetString("email"), FirstName: in.FirstName, LastName: in.LastName}, func(t Topic) bool { return slices.Contains(in.Topics, t.Slug) }, errs)
	}
	if len(in.Topics) == 0 {
		return h.message(e, http.StatusOK, "You've been unsubscribed", "You unticked every topic, so we won't email you again. You can choose topics again from this page's link at any time.", &pageLink{"/preferences?token=" + token, "Back to my preferences"})
	}
	return h.message(e, http.StatusOK, "Preferences saved", "Thank you. We'll only email you about the topics you chose.", &pageLink{"/preferences?token=" + token, "Back to my preferences"})
}

func (h *Handlers) linkFailure(e *core.RequestEvent, err error) error {
	var le *LinkError
	if errors.As(err, &le) {
		return h.message(e, http.StatusBadRequest, le.Heading, le.Message, &pageLink{"/", "Go to the signup page"})
	}
	return err
}

func parseForm(r *http.Request) error {
	err := r.ParseMultipartForm(64 << 10)
	if errors.Is(err, http.ErrNotMultipart) {
		return nil // ParseForm already ran
	}
	return err
}
