package stripepay_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/vocab"
)

// "Manage my sponsorship" answers every address alike; only a sponsor's
// gets mail, with a link that opens a Stripe customer portal session.
func TestManageMySponsorship(t *testing.T) {
	env := startGiving(t)
	s := sponsor(t, env, "sam@example.org")
	mustDeliver(t, env, event("checkout.session.completed", time.Now(), s.sessionCompleted()))
	answers := map[string]string{}
	for _, email := range []string{"sam@example.org", "stranger@example.org", "SAM@example.org"} {
		code, _, body := submit(t, env, "/sponsor-a-room/manage", url.Values{"email": {email}})
		if code != http.StatusOK || !strings.Contains(body, "If that address has a regular gift with us") {
			t.Fatalf("%s: %d\n%s", email, code, body)
		}
		answers[email] = body
	}
	if answers["sam@example.org"] != answers["stranger@example.org"] {
		t.Error("the answer tells a sponsor's address from a stranger's")
	}
	if code, _, body := submit(t, env, "/sponsor-a-room/manage", url.Values{"email": {"sam@"}}); code != http.StatusBadRequest || !strings.Contains(body, `class="field-error"`) {
		t.Errorf("a bad address: %d\n%s", code, body)
	}
	if n := env.Count(t, vocab.Outbox, "kind = 'manage_link'"); n != 2 {
		t.Fatalf("%d manage links queued, want 2 (both to the sponsor)", n)
	}
	if n := env.Count(t, vocab.Outbox, "kind = 'manage_link' && to != 'sam@example.org'"); n != 0 {
		t.Fatalf("%d manage links to others", n)
	}
	var link string
	for _, m := range env.SMTP.WaitFor(t, "sam@example.org", 3, 10*time.Second) {
		if strings.Contains(m.Text, "manage your regular gift") {
			link = env.Link(t, m.Text, "/sponsor-a-room/manage/portal")
		}
	}
	if link == "" {
		t.Fatal("no manage link mailed")
	}
	res, err := noRedirect(link)
	if err != nil || res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "https://") {
		t.Fatalf("the link: %v %v", err, res)
	}
	u, _ := url.Parse(link)
	q := u.Query()
	q.Set("token", q.Get("token")+"x")
	u.RawQuery = q.Encode()
	if res, err := noRedirect(u.String()); err != nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("a tampered link: %v %v", err, res)
	}
}

func noRedirect(u string) (*http.Response, error) {
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(u)
	if err == nil {
		res.Body.Close()
	}
	return res, err
}
