package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// Anonymous visitors get the sign-in page and nothing else: every console
// page redirects there, and a form post changes nothing.
func TestAnonymousGetsOnlyTheLoginPage(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	c := newClient(t, env)
	for _, path := range []string{"/staff", "/staff/", "/staff/staff", "/staff/audit", "/staff/topics", "/staff/no-such-page"} {
		a := c.get(path)
		if path == "/staff" {
			a = c.get("/staff/")
		}
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/staff/login") {
			t.Errorf("GET %s: HTTP %d to %q, want the sign-in page", path, a.status, a.location)
		}
	}
	if a := c.get("/staff/login"); a.status != http.StatusOK || !strings.Contains(a.body, `name="password"`) {
		t.Fatalf("sign-in page: HTTP %d", a.status)
	}
	before := env.Count(t, vocab.Staff, "")
	a := c.submit("/staff/login", "/staff/staff/invite", url.Values{"email": {"new@example.org"}, "role": {"admin"}})
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/staff/login") {
		t.Errorf("anonymous invite: HTTP %d to %q", a.status, a.location)
	}
	if n := env.Count(t, vocab.Staff, ""); n != before {
		t.Errorf("anonymous invite made a staff record (%d → %d)", before, n)
	}
}

// Comms staff get 403 on every admin page and action, and the actions
// change nothing.
func TestCommsGetsForbiddenOnAdminPages(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	c, _ := signedIn(t, env, vocab.RoleComms)
	other := staff(t, env, vocab.RoleComms)
	otherRec, err := env.App.FindAuthRecordByEmail(vocab.Staff, other)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.get("/staff/"); a.status != http.StatusOK {
		t.Fatalf("comms home: HTTP %d", a.status)
	}
	for _, path := range []string{"/staff/staff", "/staff/audit", "/staff/topics"} {
		if a := c.get(path); a.status != http.StatusForbidden || !strings.Contains(a.body, "Not allowed") {
			t.Errorf("GET %s as comms: HTTP %d", path, a.status)
		}
	}
	tok := c.token("/staff/")
	staffBefore := env.Count(t, vocab.Staff, "")
	topicsBefore := env.Count(t, vocab.Topics, "")
	for path, form := range map[string]url.Values{
		"/staff/staff/invite":                       {"email": {"x@example.org"}, "role": {"admin"}},
		"/staff/staff/" + otherRec.Id + "/role":     {"role": {"admin"}},
		"/staff/staff/" + otherRec.Id + "/disable":  {},
		"/staff/staff/" + otherRec.Id + "/reinvite": {},
		"/staff/topics":                             {"name": {"Sneaky"}, "slug": {"sneaky"}},
	} {
		form.Set("_csrf", tok)
		if a := c.post(path, form); a.status != http.StatusForbidden {
			t.Errorf("POST %s as comms: HTTP %d", path, a.status)
		}
	}
	otherRec, err = env.App.FindRecordById(vocab.Staff, otherRec.Id)
	if err != nil {
		t.Fatal(err)
	}
	if otherRec.GetString("role") != vocab.RoleComms || otherRec.GetBool("disabled") {
		t.Errorf("comms changed another member: role %s, disabled %v", otherRec.GetString("role"), otherRec.GetBool("disabled"))
	}
	if n := env.Count(t, vocab.Staff, ""); n != staffBefore {
		t.Errorf("comms invited someone (%d → %d)", staffBefore, n)
	}
	if n := env.Count(t, vocab.Topics, ""); n != topicsBefore {
		t.Errorf("comms made a topic (%d → %d)", topicsBefore, n)
	}
}

// A state-changing form without the CSRF token, or with a wrong or another
// browser's token, is refused and changes nothing; with its own it works.
func TestCSRFRefusedWithoutTheToken(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	c, _ := signedIn(t, env, vocab.RoleAdmin)
	stranger := newClient(t, env)
	strangerToken := stranger.token("/staff/login") // a real token, of another browser

	invite := func(tok string) answer {
		form := url.Values{"email": {"new-person@example.org"}, "name": {"New Person"}, "role": {"comms"}}
		if tok != "" {
			form.Set("_csrf", tok)
		}
		return c.post("/staff/staff/invite", form)
	}
	for name, tok := range map[string]string{"missing": "", "wrong": "csrf.abc.1.zzzzzz.forged", "another browser's": strangerToken} {
		if a := invite(tok); a.status != http.StatusForbidden || !strings.Contains(a.body, "Nothing was changed") {
			t.Errorf("%s token: HTTP %d", name, a.status)
		}
		if n := env.Count(t, vocab.Staff, "email = 'new-person@example.org'"); n != 0 {
			t.Fatalf("%s token: the invitation was made", name)
		}
	}
	// htmx sends the token as a header.
	req, err := http.NewRequest(http.MethodPost, env.URL+"/staff/staff/invite", strings.NewReader(url.Values{"email": {"new-person@example.org"}, "role": {"comms"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", c.token("/staff/staff"))
	if a := c.do(req); a.status != http.StatusSeeOther {
		t.Fatalf("token in the header: HTTP %d:\n%s", a.status, a.body)
	}
	if n := env.Count(t, vocab.Staff, "email = 'new-person@example.org'"); n != 1 {
		t.Fatalf("with the token the invitation was not made")
	}
	// The sign-in form is protected too.
	if a := newClient(t, env).post("/staff/login", url.Values{"email": {"x@example.org"}, "password": {"y"}}); a.status != http.StatusForbidden {
		t.Errorf("sign-in without a token: HTTP %d", a.status)
	}
}
