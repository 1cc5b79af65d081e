package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// The console's cookies: the session (a PocketBase auth token of the staff
// record, so it expires with the collection's token duration and dies when
// the record's token key changes), the CSRF secret, and the half-done
// sign-in between the password and the emailed code.
const (
	sessionCookie = "staff_session"
	csrfCookie    = "staff_csrf"
	mfaCookie     = "staff_mfa"
	staffKey      = "console.staff"
	csrfField     = "_csrf"
	csrfHeader    = "X-CSRF-Token"
)

// Member is the signed-in staff member.
type Member struct{ Record *core.Record }

// Admin reports whether the member has the admin role.
func (m *Member) Admin() bool { return m != nil && m.Record.GetString("role") == vocab.RoleAdmin }

// Staff is the signed-in member of a console request, or nil.
func Staff(e *core.RequestEvent) *Member {
	m, _ := e.Get(staffKey).(*Member)
	return m
}

// session reads and checks the session cookie: a valid auth token of a staff
// record that is not disabled.
func (c *Console) session(e *core.RequestEvent) *Member {
	if m := Staff(e); m != nil {
		return m
	}
	ck, err := e.Request.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	rec, err := e.App.FindAuthRecordByToken(ck.Value, core.TokenTypeAuth)
	if err != nil || rec.Collection().Name != vocab.Staff || rec.GetBool("disabled") {
		return nil
	}
	return &Member{Record: rec}
}

// secure reports whether cookies should be marked Secure: the request came
// over TLS, or the Application URL is https (TLS ends at a proxy).
func secure(e *core.RequestEvent) bool {
	return e.IsTLS() || strings.HasPrefix(e.App.Settings().Meta.AppURL, "https://")
}

func cookie(e *core.RequestEvent, name, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true, Secure: secure(e), SameSite: http.SameSiteStrictMode}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	} else {
		ck.MaxAge, ck.Expires = -1, time.Unix(0, 0)
	}
	return ck
}

// startSession signs rec in: a fresh auth token in the session cookie and a
// fresh CSRF secret (so one planted before sign-in is worthless).
func (c *Console) startSession(e *core.RequestEvent, rec *core.Record) error {
	tok, err := rec.NewAuthToken()
	if err != nil {
		return err
	}
	e.SetCookie(cookie(e, sessionCookie, tok, rec.Collection().AuthToken.DurationTime()))
	e.SetCookie(cookie(e, mfaCookie, "", 0))
	c.newCSRFSecret(e)
	return nil
}

// endSession signs the member out everywhere: the cookie goes, and a new
// token key invalidates every token issued to the record.
func (c *Console) endSession(e *core.RequestEvent, m *Member) error {
	e.SetCookie(cookie(e, sessionCookie, "", 0))
	if m == nil {
		return nil
	}
	m.Record.RefreshTokenKey()
	return e.App.Save(m.Record)
}

// CSRF: each browser holds a random secret in an HttpOnly, SameSite=Strict
// cookie; forms carry a token signed over its hash (tokens.CSRF), which no
// other site can read or make. htmx requests send it as X-CSRF-Token (the
// layout's hx-headers).

func (c *Console) newCSRFSecret(e *core.RequestEvent) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := hex.EncodeToString(b)
	e.SetCookie(cookie(e, csrfCookie, v, 30*24*time.Hour))
	e.Set(csrfCookie, v)
	return v
}

func (c *Console) csrfSecret(e *core.RequestEvent) string {
	if v, ok := e.Get(csrfCookie).(string); ok {
		return v
	}
	if ck, err := e.Request.Cookie(csrfCookie); err == nil && len(ck.Value) == 64 {
		return ck.Value
	}
	return ""
}

func csrfSubject(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:16])
}

// csrfToken is the token for this browser's forms, making its secret if it
// has none yet.
func (c *Console) csrfToken(e *core.RequestEvent) string {
	secret := c.csrfSecret(e)
	if secret == "" {
		secret = c.newCSRFSecret(e)
	}
	return c.cfg.Signer.Sign(tokens.CSRF, csrfSubject(secret), 24*time.Hour)
}

// csrfOK checks a state-changing request's token (form field _csrf, or the
// X-CSRF-Token header) against the browser's secret.
func (c *Console) csrfOK(e *core.RequestEvent) bool {
	secret := c.csrfSecret(e)
	if secret == "" {
		return false
	}
	tok := e.Request.Header.Get(csrfHeader)
	if tok == "" {
		tok = e.Request.PostFormValue(csrfField)
	}
	claims, err := c.cfg.Signer.Verify(tokens.CSRF, tok)
	return err == nil && subtle.ConstantTimeCompare([]byte(claims.Subject), []byte(csrfSubject(secret))) == 1
}
