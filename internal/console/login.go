package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"

	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// Sign-in is PocketBase's own password + one-time-code MFA on the staff
// collection, driven from server-rendered forms: the password step makes an
// MFA record (method "password") and an OTP whose code is emailed through
// the outbox; the code step checks both, deletes them, and issues the
// session. With MFA switched off on the collection the password alone signs
// in. The REST API (auth-with-password, then request-otp and auth-with-otp)
// enforces the same collection options.

const (
	badLogin = "That email address and password don't match an active staff account."
	badCode  = "That code isn't right or has expired. Check the latest email, or sign in again for a new code."
	tooMany  = "Too many failed attempts. Wait a few minutes, then try again."
)

type loginPage struct {
	Form *Form
	Next string
}

func (c *Console) authRoutes() {
	c.GET("/login", public, c.loginPage)
	c.POST("/login", public, c.login)
	c.GET("/login/code", public, c.codePage)
	c.POST("/login/code", public, c.code)
	c.POST("/logout", Comms, c.logout)
	c.GET("/invite", public, c.invitePage)
	c.POST("/invite", public, c.acceptInvite)
}

func (c *Console) loginPage(e *core.RequestEvent) error {
	if Staff(e) != nil {
		return e.Redirect(http.StatusSeeOther, Prefix+"/")
	}
	return c.Render(e, "login", loginPage{Form: NewForm(nil), Next: safeNext(e.Request.URL.Query().Get("next"))})
}

func (c *Console) login(e *core.RequestEvent) error {
	f := NewForm(e)
	page := loginPage{Form: f, Next: safeNext(f.Get("next"))}
	if !f.Require("email", "your email address", "password", "your password") {
		return c.RenderStatus(e, http.StatusBadRequest, "login", page)
	}
	email := f.Get("email")
	keys := []string{accountKey(email), ipKey(e.RealIP())}
	if c.fails.blocked(keys...) {
		f.Fail("email", tooMany)
		return c.RenderStatus(e, http.StatusTooManyRequests, "login", page)
	}
	rec, err := e.App.FindAuthRecordByEmail(vocab.Staff, email)
	if err != nil {
		rec = nil // not found, or unreadable: answered as a wrong password
		dummyPasswordCheck(e.App)
	}
	if rec == nil || !rec.ValidatePassword(f.Values.Get("password")) || rec.GetBool("disabled") {
		c.fails.fail(keys...)
		f.Fail("email", badLogin)
		return c.RenderStatus(e, http.StatusBadRequest, "login", page)
	}
	if !rec.Collection().MFA.Enabled {
		if err := c.startSession(e, rec); err != nil {
			return err
		}
		return e.Redirect(http.StatusSeeOther, page.Next)
	}
	mfaID, err := c.beginMFA(e.App, rec)
	if err != nil {
		return err
	}
	ttl := rec.Collection().MFA.DurationTime()
	e.SetCookie(cookie(e, mfaCookie, c.cfg.Signer.Sign(tokens.StaffMFA, mfaID, ttl), ttl))
	return e.Redirect(http.StatusSeeOther, Prefix+"/login/code?next="+url.QueryEscape(page.Next))
}

// beginMFA records the passed password step and mails a one-time code,
// returning the MFA record's id. The OTP is found again through the MFA's
// record: the newest one of this member.
func (c *Console) beginMFA(app core.App, rec *core.Record) (string, error) {
	mfa := core.NewMFA(app)
	mfa.SetCollectionRef(rec.Collection().Id)
	mfa.SetRecordRef(rec.Id)
	mfa.SetMethod(core.MFAMethodPassword)
	if err := app.Save(mfa); err != nil {
		return "", err
	}
	code := security.RandomStringWithAlphabet(rec.Collection().OTP.Length, "1234567890")
	otp := core.NewOTP(app)
	otp.SetCollectionRef(rec.Collection().Id)
	otp.SetRecordRef(rec.Id)
	otp.SetPassword(code)
	if err := app.Save(otp); err != nil {
		return "", err
	}
	if err := c.queueCode(app, rec, otp, code); err != nil {
		return "", err
	}
	return mfa.Id, nil
}

// pendingMFA reads the half-done sign-in from its cookie.
func (c *Console) pendingMFA(e *core.RequestEvent) (*core.MFA, *core.Record, error) {
	ck, err := e.Request.Cookie(mfaCookie)
	if err != nil {
		return nil, nil, err
	}
	claims, err := c.cfg.Signer.Verify(tokens.StaffMFA, ck.Value)
	if err != nil {
		return nil, nil, err
	}
	mfa, err := e.App.FindMFAById(claims.Subject)
	if err != nil {
		return nil, nil, err
	}
	rec, err := e.App.FindRecordById(vocab.Staff, mfa.RecordRef())
	if err != nil {
		return nil, nil, err
	}
	if mfa.CollectionRef() != rec.Collection().Id || mfa.HasExpired(rec.Collection().MFA.DurationTime()) {
		return nil, nil, errors.New("the sign-in has expired")
	}
	return mfa, rec, nil
}

func (c *Console) codePage(e *core.RequestEvent) error {
	if _, _, err := c.pendingMFA(e); err != nil {
		return Redirect(e, "/login", "Your sign-in has expired. Enter your email address and password again.")
	}
	return c.Render(e, "code", loginPage{Form: NewForm(nil), Next: safeNext(e.Request.URL.Query().Get("next"))})
}

func (c *Console) code(e *core.RequestEvent) error {
	f := NewForm(e)
	page := loginPage{Form: f, Next: safeNext(f.Get("next"))}
	mfa, rec, err := c.pendingMFA(e)
	if err != nil {
		return Redirect(e, "/login", "Your sign-in has expired. Enter your email address and password again.")
	}
	keys := []string{accountKey(rec.Email()), ipKey(e.RealIP())}
	if c.fails.blocked(keys...) {
		f.Fail("code", tooMany)
		return c.RenderStatus(e, http.StatusTooManyRequests, "code", page)
	}
	code := strings.ReplaceAll(f.Get("code"), " ", "")
	otp := c.matchingOTP(e.App, rec, code)
	if otp == nil || rec.GetBool("disabled") {
		c.fails.fail(keys...)
		f.Fail("code", badCode)
		return c.RenderStatus(e, http.StatusBadRequest, "code", page)
	}
	if err := e.App.Delete(otp); err != nil {
		return err
	}
	if err := e.App.Delete(mfa); err != nil {
		return err
	}
	if !rec.Verified() {
		rec.SetVerified(true)
		if err := e.App.Save(rec); err != nil {
			return err
		}
	}
	if err := c.startSession(e, rec); err != nil {
		return err
	}
	if err := audit(e.App, rec, "staff.sign_in", "staff/"+rec.Id, "", e.RealIP()); err != nil {
		return err
	}
	return e.Redirect(http.StatusSeeOther, page.Next)
}

// matchingOTP is the member's unexpired one-time code that code matches.
func (c *Console) matchingOTP(app core.App, rec *core.Record, code string) *core.OTP {
	if code == "" || len(code) > 20 {
		return nil
	}
	otps, err := app.FindAllOTPsByRecord(rec)
	if err != nil {
		return nil
	}
	for _, o := range otps {
		if !o.HasExpired(rec.Collection().OTP.DurationTime()) && o.ValidatePassword(code) {
			return o
		}
	}
	return nil
}

func (c *Console) logout(e *core.RequestEvent) error {
	if err := c.endSession(e, Staff(e)); err != nil {
		return err
	}
	return Redirect(e, "/login", "You have signed out.")
}

// dummyPasswordCheck spends the time of a real password check, so an
// unknown address answers as slowly as a known one (as PocketBase does).
func dummyPasswordCheck(app core.App) {
	recs, err := app.FindRecordsByFilter(vocab.Staff, "", "", 1, 0)
	if err == nil && len(recs) == 1 {
		_ = recs[0].ValidatePassword("")
	}
}
