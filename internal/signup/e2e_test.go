package signup_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

var formTokenRe = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

// formToken fetches the signup page and returns its signed form time.
func formToken(t *testing.T, env *testkit.Env) string {
	t.Helper()
	status, body := env.Do(t, http.MethodGet, "/", "", "")
	if status != http.StatusOK {
		t.Fatalf("GET / = %d", status)
	}
	m := formTokenRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("signup page has no form token")
	}
	return m[1]
}

func supporter(t *testing.T, env *testkit.Env, email string) *core.Record {
	t.Helper()
	r, err := env.App.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err != nil {
		t.Fatalf("supporter %s: %v", email, err)
	}
	return r
}

func consents(t *testing.T, env *testkit.Env, sup *core.Record) []*core.Record {
	t.Helper()
	rows, err := env.App.FindRecordsByFilter(vocab.Consents, "supporter = {:s}", "created", 0, 0, map[string]any{"s": sup.Id})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestSignupConfirmUnsubscribe(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	status, body := env.PostForm(t, "/subscribe", url.Values{
		"form_token": {formToken(t, env)},
		"email":      {"  Ada.Lovelace@Example.ORG "},
		"first_name": {"Ada"},
		"last_name":  {"Lovelace"},
		"topics":     {"newsletter", "events"},
		"consent":    {"true"},
	})
	if status != http.StatusAccepted || !strings.Contains(body, "check your inbox") {
		t.Fatalf("signup = %d, body:\n%s", status, body)
	}
	sup := supporter(t, env, "ada.lovelace@example.org")
	if got := sup.GetString("status"); got != vocab.StatusPending {
		t.Fatalf("status after signup = %q, want pending", got)
	}
	rows := consents(t, env, sup)
	if len(rows) != 1 {
		t.Fatalf("consent rows after signup = %d, want 1", len(rows))
	}
	grant := rows[0]
	if grant.GetString("action") != vocab.ActionGrant || grant.GetString("basis") != vocab.BasisConsent || grant.GetString("method") != vocab.MethodWebForm {
		t.Errorf("grant row = action %q basis %q method %q", grant.GetString("action"), grant.GetString("basis"), grant.GetString("method"))
	}
	if !strings.Contains(grant.GetString("wording"), "unsubscribe at any time") || len(grant.GetString("wording_version")) != 12 {
		t.Errorf("grant wording %q version %q", grant.GetString("wording"), grant.GetString("wording_version"))
	}
	if grant.GetString("ip") != "127.0.0.1" || grant.GetString("user_agent") == "" || !grant.GetDateTime("confirmed_at").IsZero() {
		t.Errorf("grant evidence ip %q ua %q confirmed %v", grant.GetString("ip"), grant.GetString("user_agent"), grant.GetDateTime("confirmed_at"))
	}
	if got := grant.GetString("topic_slugs"); got != `["newsletter","events"]` {
		t.Errorf("topic_slugs = %s", got)
	}

	mails := env.SMTP.WaitFor(t, "ada.lovelace@example.org", 1, 10*time.Second)
	confirmMail := mails[0]
	if !strings.Contains(confirmMail.Header.Get("Subject"), "confirm") {
		t.Errorf("first mail subject = %q", confirmMail.Header.Get("Subject"))
	}
	if confirmMail.HTML == "" || confirmMail.Text == "" {
		t.Error("confirmation lacks an HTML or a text part")
	}
	if !strings.Contains(confirmMail.Text, testkit.IdentityAddress) {
		t.Error("confirmation footer lacks the charity's postal address")
	}
	confirmURL := env.Link(t, confirmMail.Text, "/confirm")

	// Follow the link: subscribed, consent confirmed. Twice: nothing more happens.
	for i, want := range []string{"You're subscribed", "already confirmed"} {
		status, body = env.Do(t, http.MethodGet, strings.TrimPrefix(confirmURL, env.URL), "", "")
		if status != http.StatusOK || !strings.Contains(html.UnescapeString(body), want) {
			t.Fatalf("confirm #%d = %d, want %q in:\n%s", i+1, status, want, body)
		}
	}
	sup = supporter(t, env, "ada.lovelace@example.org")
	if sup.GetString("status") != vocab.StatusSubscribed || sup.GetDateTime("confirmed_at").IsZero() || len(sup.GetStringSlice("topics")) != 2 {
		t.Fatalf("after confirm: status %q confirmed %v topics %v", sup.GetString("status"), sup.GetDateTime("confirmed_at"), sup.GetStringSlice("topics"))
	}
	rows = consents(t, env, sup)
	if len(rows) != 1 || rows[0].GetDateTime("confirmed_at").IsZero() {
		t.Fatalf("after confirm: %d consent rows, confirmed_at %v", len(rows), rows[0].GetDateTime("confirmed_at"))
	}

	// The welcome email carries the unsubscribe link; one-click it as a mailbox provider would.
	mails = env.SMTP.WaitFor(t, "ada.lovelace@example.org", 2, 10*time.Second)
	if len(mails) != 2 {
		t.Fatalf("mails after confirming twice = %d, want 2 (confirmation, one welcome)", len(mails))
	}
	unsubURL := env.Link(t, mails[1].Text, "/unsubscribe")
	status, body = env.Do(t, http.MethodPost, strings.TrimPrefix(unsubURL, env.URL), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	if status != http.StatusOK {
		t.Fatalf("one-click unsubscribe = %d %s", status, body)
	}
	sup = supporter(t, env, "ada.lovelace@example.org")
	if sup.GetString("status") != vocab.StatusUnsubscribed || sup.GetDateTime("unsubscribed_at").IsZero() {
		t.Fatalf("after one-click: status %q", sup.GetString("status"))
	}
	rows = consents(t, env, sup)
	if len(rows) != 2 {
		t.Fatalf("consent rows after unsubscribe = %d, want 2", len(rows))
	}
	w := rows[1]
	if w.GetString("action") != vocab.ActionWithdraw || w.GetString("method") != vocab.MethodOneClick || len(w.GetStringSlice("topics")) != 2 {
		t.Errorf("withdrawal row = action %q method %q topics %v", w.GetString("action"), w.GetString("method"), w.GetStringSlice("topics"))
	}
	// Repeating the one-click is a success that adds nothing.
	status, _ = env.Do(t, http.MethodPost, strings.TrimPrefix(unsubURL, env.URL), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	if status != http.StatusOK || len(consents(t, env, sup)) != 2 {
		t.Errorf("repeat one-click = %d with %d rows", status, len(consents(t, env, sup)))
	}
}

func TestSignupSurvivesSMTPOutage(t *testing.T) {
	env := testkit.Start(t, testkit.Options{SMTPDown: true})
	status, _ := env.PostJSON(t, "/api/subscribe", `{"email":"grace@example.org","first_name":"Grace","topics":["newsletter"],"consent":true}`)
	if status != http.StatusAccepted {
		t.Fatalf("signup with smtp down = %d, want 202", status)
	}
	time.Sleep(300 * time.Millisecond) // several failed delivery rounds
	if n := len(env.SMTP.Mails()); n != 0 {
		t.Fatalf("%d mails arrived while smtp was down", n)
	}
	if n := env.Count(t, vocab.Outbox, "status = 'queued'"); n != 1 {
		t.Fatalf("queued outbox rows while down = %d, want 1", n)
	}
	env.SMTP.Start(t)
	mails := env.SMTP.WaitFor(t, "grace@example.org", 1, 10*time.Second)
	if !strings.Contains(mails[0].Text, env.URL+"/confirm?token=") {
		t.Fatalf("confirmation after outage lacks its link:\n%s", mails[0].Text)
	}
}
