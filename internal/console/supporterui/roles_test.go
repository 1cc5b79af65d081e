package supporterui_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// staffClient is an HTTP client signed in to the console as a staff member
// of role, with the CSRF token its pages carry.
type staffClient struct {
	env  *testkit.Env
	http *http.Client
	csrf string
}

var csrfInPage = regexp.MustCompile(`"X-CSRF-Token": "([^"]+)"`)

// signIn gives a new staff member of role a session, as the sign-in's last
// step does: the session cookie holds a PocketBase auth token of the staff
// record (the console's staff_session). The rest of the sign-in is
// console-core's, tested there.
func signIn(t *testing.T, env *testkit.Env, role string) *staffClient {
	t.Helper()
	tok := testkit.Login(t, env, role)
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(env.URL + "/staff/")
	jar.SetCookies(u, []*http.Cookie{{Name: "staff_session", Value: tok, Path: "/staff"}})
	c := &staffClient{env: env, http: &http.Client{Jar: jar, CheckRedirect: testkit.Client.CheckRedirect}}
	_, page := c.get(t, "/staff/supporters")
	m := csrfInPage.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the supporters page:\n%s", page)
	}
	c.csrf = m[1]
	return c
}

func (c *staffClient) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (c *staffClient) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.env.URL+path, nil)
	return c.do(t, req)
}

// post sends a form with the member's CSRF token, as the pages' forms do.
func (c *staffClient) post(t *testing.T, path, form string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.env.URL+path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", c.csrf)
	return c.do(t, req)
}

// Roles on the server, without a browser: comms staff get 403 on every
// admin page and on every admin action sent with a valid CSRF token, and
// none of those actions changes anything; the supporter page they may open
// carries no giving data or home address in its HTML at all; an admin gets
// each page. Anonymous visitors are sent to the sign-in page.
func TestRolesOnEveryPageAndAction(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	tess := history(t, env.App)
	comms, admin := signIn(t, env, vocab.RoleComms), signIn(t, env, vocab.RoleAdmin)

	for _, path := range append(adminPages, "/staff/supporters/"+tess.Id+"/edit", "/staff/supporters/"+tess.Id+"/erase") {
		if got, _ := comms.get(t, path); got != http.StatusForbidden {
			t.Errorf("comms GET %s = %d, want 403", path, got)
		}
		if got, body := admin.get(t, path); got != http.StatusOK {
			t.Errorf("admin GET %s = %d:\n%s", path, got, body)
		}
		if got, _ := testkit.Client.Get(env.URL + path); got.StatusCode != http.StatusSeeOther || !strings.HasPrefix(got.Header.Get("Location"), "/staff/login") {
			t.Errorf("anonymous GET %s = %d to %q, want the sign-in page", path, got.StatusCode, got.Header.Get("Location"))
		}
	}

	watched := []string{vocab.Supporters, vocab.Consents, vocab.Donations, vocab.Declarations, vocab.Suppressions, vocab.Audit}
	before := testkit.Dump(t, env.App, watched...)
	for _, a := range adminActions(tess.Id, "tess@example.org") {
		if got, body := comms.post(t, a[0], a[1]); got != http.StatusForbidden {
			t.Errorf("comms POST %s = %d, want 403:\n%.300s", a[0], got, body)
		}
	}
	if testkit.Dump(t, env.App, watched...) != before {
		t.Error("a refused comms action changed the data")
	}

	for _, path := range []string{"/staff/supporters", "/staff/supporters?q=tess", "/staff/supporters/" + tess.Id} {
		got, page := comms.get(t, path)
		if got != http.StatusOK {
			t.Fatalf("comms GET %s = %d", path, got)
		}
		for _, never := range []string{"£", "Donation", "donation", "Pledge", "Gift Aid", "Kirkgate", "LS2 7DJ", "Thank you for your gift", "/giving/"} {
			if strings.Contains(page, never) {
				t.Errorf("comms page %s holds %q", path, never)
			}
		}
	}
	if _, page := admin.get(t, "/staff/supporters/"+tess.Id); !strings.Contains(page, "£25.00") || !strings.Contains(page, "Kirkgate") {
		t.Errorf("admin supporter page lacks the giving or the address:\n%s", page)
	}
}

// A comms member's hidden-link guess at a giving page or an export gets
// the 403 page; nothing of the data is in it.
func TestCommsForbiddenPageShowsNoData(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	history(t, env.App)
	comms := signIn(t, env, vocab.RoleComms)
	got, page := comms.get(t, "/staff/giving/donations")
	if got != http.StatusForbidden || strings.Contains(page, "£") || !strings.Contains(page, "Not allowed") {
		t.Errorf("comms on donations: %d\n%s", got, page)
	}
}
