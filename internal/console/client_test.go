package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// client is a browser without JavaScript: it keeps cookies and doesn't
// follow redirects, so each answer can be checked.
type client struct {
	t   *testing.T
	env *testkit.Env
	c   *http.Client
}

type answer struct {
	status   int
	body     string
	location string
}

func newClient(t *testing.T, env *testkit.Env) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, env: env, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(req *http.Request) answer {
	c.t.Helper()
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{res.StatusCode, string(b), res.Header.Get("Location")}
}

func (c *client) get(path string) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.env.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *client) post(path string, form url.Values) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.env.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// token opens a page and returns the CSRF token of its forms.
func (c *client) token(path string) string {
	c.t.Helper()
	a := c.get(path)
	m := csrfInput.FindStringSubmatch(a.body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s (HTTP %d):\n%s", path, a.status, a.body)
	}
	return m[1]
}

// submit posts a form with the token of the page it is on.
func (c *client) submit(page, action string, form url.Values) answer {
	c.t.Helper()
	form.Set("_csrf", c.token(page))
	return c.post(action, form)
}

var codeLine = regexp.MustCompile(`(?m)^\s*([0-9]{8})\s*$`)

// login signs in with the password and the code mailed to email.
func (c *client) login(email, password string) {
	c.t.Helper()
	before := len(c.env.SMTP.To(email))
	a := c.submit("/staff/login", "/staff/login", url.Values{"email": {email}, "password": {password}})
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/staff/login/code") {
		c.t.Fatalf("password step: HTTP %d to %q:\n%s", a.status, a.location, a.body)
	}
	mails := c.env.SMTP.WaitFor(c.t, email, before+1, 10*time.Second)
	m := codeLine.FindStringSubmatch(mails[before].Text)
	if m == nil {
		c.t.Fatalf("no code in:\n%s", mails[before].Text)
	}
	a = c.submit("/staff/login/code", "/staff/login/code", url.Values{"code": {m[1]}})
	if a.status != http.StatusSeeOther || a.location != "/staff/" {
		c.t.Fatalf("code step: HTTP %d to %q:\n%s", a.status, a.location, a.body)
	}
}

// loginFromOutbox signs in with the code read from the outbox, for tests
// where SMTP is off.
func (c *client) loginFromOutbox(email string) {
	c.t.Helper()
	a := c.submit("/staff/login", "/staff/login", url.Values{"email": {email}, "password": {password}})
	if a.status != http.StatusSeeOther {
		c.t.Fatalf("password step: HTTP %d", a.status)
	}
	rec, err := c.env.App.FindFirstRecordByFilter(vocab.Outbox, "to = {:to} && kind = {:kind}", dbx.Params{"to": email, "kind": vocab.KindStaffCode})
	if err != nil {
		c.t.Fatal(err)
	}
	m := codeLine.FindStringSubmatch(rec.GetString("text"))
	if m == nil {
		c.t.Fatalf("no code in the queued mail:\n%s", rec.GetString("text"))
	}
	if a := c.submit("/staff/login/code", "/staff/login/code", url.Values{"code": {m[1]}}); a.status != http.StatusSeeOther {
		c.t.Fatalf("code step: HTTP %d", a.status)
	}
}

const password = "a-long-password-1"

// staff makes a signed-up staff member of role and returns their address.
func staff(t *testing.T, env *testkit.Env, role string) string {
	t.Helper()
	rec := core.NewRecord(testkit.Collection(t, env.App, vocab.Staff))
	email := role + "-" + strings.ToLower(core.GenerateDefaultRandomId()) + "@example.org"
	rec.SetEmail(email)
	rec.SetPassword(password)
	rec.SetVerified(true)
	rec.Set("role", role)
	if err := env.App.Save(rec); err != nil {
		t.Fatal(err)
	}
	return email
}

// signedIn starts an app and signs a new member of role in.
func signedIn(t *testing.T, env *testkit.Env, role string) (*client, string) {
	t.Helper()
	email := staff(t, env, role)
	c := newClient(t, env)
	c.login(email, password)
	return c, email
}
