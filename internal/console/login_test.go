package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// A wrong password, a wrong code and an unknown address all answer alike;
// after 5 failures for an account even the right password is refused (429)
// and no code is mailed, and an unknown address is limited the same way,
// so the limit says nothing about which addresses exist.
func TestLoginIsRateLimitedWithoutEnumeration(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	email := staff(t, env, vocab.RoleComms)
	try := func(c *client, addr, pw string) answer {
		return c.submit("/staff/login", "/staff/login", url.Values{"email": {addr}, "password": {pw}})
	}
	c := newClient(t, env)
	known := try(c, email, "wrong-password-1")
	unknown := try(c, "nobody-here@example.org", "wrong-password-1")
	if known.status != http.StatusBadRequest || unknown.status != http.StatusBadRequest {
		t.Fatalf("wrong password: HTTP %d, unknown address: HTTP %d", known.status, unknown.status)
	}
	if message(known.body) != message(unknown.body) || !strings.Contains(known.body, "don&#39;t match an active staff account") {
		t.Fatalf("a known and an unknown address answer differently: %q vs %q", message(known.body), message(unknown.body))
	}
	for range 4 {
		try(c, email, "wrong-password-1")
		try(c, "nobody-here@example.org", "wrong-password-1")
	}
	right := try(c, email, password)
	ghost := try(c, "nobody-here@example.org", password)
	if right.status != http.StatusTooManyRequests || ghost.status != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures: right password HTTP %d, unknown address HTTP %d; want 429 both", right.status, ghost.status)
	}
	if message(right.body) != message(ghost.body) {
		t.Fatalf("the limit answers a known and an unknown address differently")
	}
	time.Sleep(300 * time.Millisecond) // a code mailed by mistake would arrive by now
	if n := len(env.SMTP.To(email)); n != 0 {
		t.Fatalf("%d sign-in codes were mailed while the account was limited", n)
	}
	if n := env.Count(t, vocab.Outbox, "to = '"+email+"'"); n != 0 {
		t.Fatalf("%d sign-in codes were queued while the account was limited", n)
	}
	// Another account from the same address (10 failures so far, of 20) still works.
	other := staff(t, env, vocab.RoleAdmin)
	newClient(t, env).login(other, password)
}

// The code step: a wrong code is refused, and 5 wrong codes lock the
// account out even with the right one.
func TestWrongCodesAreLimited(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	email := staff(t, env, vocab.RoleComms)
	c := newClient(t, env)
	a := c.submit("/staff/login", "/staff/login", url.Values{"email": {email}, "password": {password}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("password step: HTTP %d", a.status)
	}
	mail := env.SMTP.WaitFor(t, email, 1, 10*time.Second)[0]
	code := codeLine.FindStringSubmatch(mail.Text)[1]
	wrong := "00000000"
	if code == wrong {
		wrong = "11111111"
	}
	for i := range 5 {
		if a := c.submit("/staff/login/code", "/staff/login/code", url.Values{"code": {wrong}}); a.status != http.StatusBadRequest {
			t.Fatalf("wrong code %d: HTTP %d", i+1, a.status)
		}
	}
	if a := c.submit("/staff/login/code", "/staff/login/code", url.Values{"code": {code}}); a.status != http.StatusTooManyRequests {
		t.Fatalf("right code after 5 wrong ones: HTTP %d, want 429", a.status)
	}
	if a := c.get("/staff/"); a.status != http.StatusSeeOther {
		t.Fatalf("signed in after being limited: HTTP %d", a.status)
	}
}

// Signing out ends the session: the old cookie no longer opens a page.
func TestLogoutEndsTheSession(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	c, _ := signedIn(t, env, vocab.RoleComms)
	u, _ := url.Parse(env.URL + "/staff/")
	cookies := c.c.Jar.Cookies(u)
	if a := c.submit("/staff/", "/staff/logout", url.Values{}); a.status != http.StatusSeeOther || a.location != "/staff/login" {
		t.Fatalf("sign out: HTTP %d to %q", a.status, a.location)
	}
	replay := newClient(t, env)
	replay.c.Jar.SetCookies(u, cookies)
	if a := replay.get("/staff/"); a.status != http.StatusSeeOther {
		t.Fatalf("the signed-out session still opens the console: HTTP %d", a.status)
	}
}

// message is the first form error on a page.
func message(body string) string {
	_, rest, ok := strings.Cut(body, `class="error"`)
	if !ok {
		return ""
	}
	_, rest, _ = strings.Cut(rest, ">")
	msg, _, _ := strings.Cut(rest, "<")
	return msg
}

// MFA is on for the REST API too: a staff password alone gets an mfaId,
// not a token, and the code PocketBase makes for request-otp is mailed
// through the outbox like the console's.
func TestAPISignInNeedsTheEmailedCode(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	email := staff(t, env, vocab.RoleComms)
	status, body := env.PostJSON(t, "/api/collections/staff/auth-with-password", `{"identity":"`+email+`","password":"`+password+`"}`)
	if status != http.StatusUnauthorized || !strings.Contains(body, "mfaId") || strings.Contains(body, "token") {
		t.Fatalf("password alone: HTTP %d %s", status, body)
	}
	if status, _ := env.PostJSON(t, "/api/collections/staff/request-otp", `{"email":"`+email+`"}`); status != http.StatusOK {
		t.Fatalf("request-otp: HTTP %d", status)
	}
	mail := env.SMTP.WaitFor(t, email, 1, 10*time.Second)[0]
	if !codeLine.MatchString(mail.Text) {
		t.Fatalf("no code in the mailed message:\n%s", mail.Text)
	}
	if n := env.Count(t, vocab.Outbox, "to = '"+email+"' && kind = 'staff_code'"); n != 1 {
		t.Fatalf("the code went round the outbox (%d rows)", n)
	}
}

// A session ends when its token expires.
func TestSessionsExpire(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	rec, err := env.App.FindAuthRecordByEmail(vocab.Staff, staff(t, env, vocab.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := rec.NewStaticAuthToken(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, env)
	u, _ := url.Parse(env.URL + "/staff/")
	c.c.Jar.SetCookies(u, []*http.Cookie{{Name: "staff_session", Value: tok, Path: "/staff"}})
	if a := c.get("/staff/"); a.status != http.StatusOK {
		t.Fatalf("a fresh session: HTTP %d", a.status)
	}
	time.Sleep(2 * time.Second) // JWT expiry has one-second resolution
	if a := c.get("/staff/"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/staff/login") {
		t.Fatalf("an expired session: HTTP %d to %q", a.status, a.location)
	}
}
