package giftaid_test

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
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// A donor's home as the charity holds it: on the supporter record and on a
// declaration in force. No page reached from a link may show any of it
// except the postcode's outward part.
const (
	homeHouse    = "14 Rosemary Court"
	homeStreet   = "Cardigan Road"
	homePostcode = "LS6 3QR"
	homeArea     = "LS6"
)

var homeParts = []string{homeHouse, homeStreet, homePostcode, "LS63QR", "3QR"}

// donor is a subscribed supporter with a stored home address and an active
// online declaration.
func donor(t *testing.T, env *testkit.Env, email string) *core.Record {
	t.Helper()
	sup := supporter(t, env, email, vocab.StatusSubscribed)
	sup.Set("address", homeHouse+"\n"+homeStreet+"\nLeeds")
	sup.Set("postcode", homePostcode)
	if err := env.App.Save(sup); err != nil {
		t.Fatal(err)
	}
	d := core.NewRecord(testkit.Collection(t, env.App, vocab.Declarations))
	d.Load(map[string]any{"supporter": sup.Id, "first_name": "Grace", "last_name": "Hopper", "house": homeHouse,
		"address": homeStreet + "\nLeeds", "postcode": homePostcode, "declared_on": time.Now().AddDate(-1, 0, 0),
		"scope": vocab.ScopePastAndFuture, "method": vocab.DeclaredWritten})
	if err := env.App.Save(d); err != nil {
		t.Fatal(err)
	}
	return sup
}

func showsHome(body string) string {
	body = html.UnescapeString(body)
	for _, p := range homeParts {
		if strings.Contains(body, p) {
			return p
		}
	}
	return ""
}

func get(t *testing.T, env *testkit.Env, path string) (int, string) {
	t.Helper()
	return env.Do(t, http.MethodGet, path, "", "")
}

// The preferences page, whose link sits in every newsletter for two years,
// shows no address or giving and no way into the Gift Aid page; neither a
// preferences token nor a Gift Aid token of the old, year-long kind opens it.
func TestPreferencesDontOpenGiftAid(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := donor(t, env, "forwarded@example.org")
	signer := testkit.Signer(t)
	prefs := signer.Sign(tokens.Preferences, sup.Id, tokens.PreferencesTTL)

	status, page := get(t, env, "/preferences?token="+url.QueryEscape(prefs))
	if status != http.StatusOK {
		t.Fatalf("preferences = %d", status)
	}
	if p := showsHome(page); p != "" || strings.Contains(page, homeArea) {
		t.Errorf("the preferences page shows the home address (%q):\n%s", p, page)
	}
	if strings.Contains(page, "/gift-aid?") || strings.Contains(page, `action="/gift-aid"`) || strings.Contains(page, "declaration") {
		t.Errorf("the preferences page leads into the Gift Aid page:\n%s", page)
	}

	old := signer.Sign(tokens.Purpose("gift_aid"), sup.Id, 365*24*time.Hour)
	for name, tok := range map[string]string{"preferences token": prefs, "year-long Gift Aid token": old} {
		status, body := get(t, env, "/gift-aid?token="+url.QueryEscape(tok))
		if status != http.StatusBadRequest || showsHome(body) != "" || strings.Contains(body, "Cancel my Gift Aid") {
			t.Errorf("GET /gift-aid with a %s = %d:\n%s", name, status, body)
		}
		before := testkit.Dump(t, env.App, vocab.Declarations)
		for _, action := range []string{"cancel", "declare"} {
			v := url.Values{"token": {tok}, "action": {action}, "first_name": {"Eve"}, "last_name": {"Mallory"},
				"house": {"1"}, "address": {"Elsewhere"}, "postcode": {"M1 1AE"}, "confirm": {"yes"}}
			if status, _ := env.PostForm(t, "/gift-aid", v); status != http.StatusBadRequest {
				t.Errorf("POST /gift-aid %s with a %s = %d", action, name, status)
			}
		}
		if testkit.Dump(t, env.App, vocab.Declarations) != before {
			t.Errorf("a %s changed the declarations", name)
		}
	}
}

var requestForm = regexp.MustCompile(`(?s)<form method="post" action="(/gift-aid/request)">.*?name="token" value="([^"]+)"`)

// requestLink presses the preferences page's Gift Aid button for sup and
// returns the answer.
func requestLink(t *testing.T, env *testkit.Env, prefsToken string) (int, string) {
	t.Helper()
	status, page := get(t, env, "/preferences?token="+url.QueryEscape(prefsToken))
	if status != http.StatusOK {
		t.Fatalf("preferences = %d", status)
	}
	m := requestForm.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no Gift Aid request button on the preferences page:\n%s", page)
	}
	return env.PostForm(t, m[1], url.Values{"token": {html.UnescapeString(m[2])}})
}

// The Gift Aid button on the preferences page emails a short-lived Gift Aid
// link to the address on file; that page shows no stored address, only the
// postcode's outward part, and the link works for days, not years.
func TestGiftAidLinkOnRequest(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := donor(t, env, "donor@example.org")
	signer := testkit.Signer(t)

	status, answer := requestLink(t, env, signer.Sign(tokens.Preferences, sup.Id, tokens.PreferencesTTL))
	if status != http.StatusOK || !strings.Contains(answer, "3 days") {
		t.Fatalf("request = %d:\n%s", status, answer)
	}
	mails := env.SMTP.WaitFor(t, "donor@example.org", 1, 10*time.Second)
	if len(mails) != 1 || len(mails[0].To) != 1 {
		t.Fatalf("%d mails, recipients %v", len(mails), mails[0].To)
	}
	m := mails[0]
	if m.Header.Get("List-Unsubscribe") != "" {
		t.Error("the Gift Aid link email carries List-Unsubscribe: it is a requested, one-off message")
	}
	for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
		if p := showsHome(body); p != "" {
			t.Errorf("the email's %s part shows %q", part, p)
		}
	}
	link := env.Link(t, m.Text, "/gift-aid?token=")
	if !strings.Contains(m.HTML, html.EscapeString(link)) && !strings.Contains(m.HTML, link) {
		t.Errorf("the HTML part lacks the link %s", link)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := signer.Verify(tokens.GiftAid, u.Query().Get("token"))
	if err != nil {
		t.Fatalf("the emailed link: %v", err)
	}
	if claims.Subject != sup.Id || claims.ExpiresAt.Sub(claims.IssuedAt) != tokens.GiftAidTTL || tokens.GiftAidTTL > 7*24*time.Hour {
		t.Errorf("link for %s valid %s", claims.Subject, claims.ExpiresAt.Sub(claims.IssuedAt))
	}

	form, page := formFields(t, env, link)
	if p := showsHome(page); p != "" {
		t.Errorf("the Gift Aid page shows the stored home address (%q):\n%s", p, page)
	}
	if !strings.Contains(page, homeArea) || !strings.Contains(page, "Cancel my Gift Aid declaration") {
		t.Errorf("the Gift Aid page doesn't name the declaration's postcode area or offer to cancel it:\n%s", page)
	}

	// The donor confirms the hint instead of typing the address: the new
	// declaration keeps the stored home, which the page never showed.
	v := url.Values{"action": {"declare"}, "first_name": {"Grace"}, "last_name": {"Murray"}, "home": {"same"}, "confirm": {"yes"}}
	v.Set("token", form.Get("token"))
	v.Set("wording_version", form.Get("wording_version"))
	v.Del("confirm")
	status, body := env.PostForm(t, "/gift-aid", v)
	if status != http.StatusBadRequest || showsHome(body) != "" || !strings.Contains(body, homeArea) {
		t.Fatalf("unconfirmed declaration with the stored home = %d (the form again, the home by its area only):\n%s", status, body)
	}
	v.Set("confirm", "yes")
	status, body = env.PostForm(t, "/gift-aid", v)
	if status != http.StatusOK || showsHome(body) != "" {
		t.Fatalf("declare with the stored home = %d:\n%s", status, body)
	}
	decls := declarations(t, env, sup)
	if len(decls) != 2 {
		t.Fatalf("%d declarations, want 2", len(decls))
	}
	d := decls[1]
	if d.GetString("last_name") != "Murray" || d.GetString("house") != homeHouse || d.GetString("address") != homeStreet+"\nLeeds" || d.GetString("postcode") != homePostcode {
		t.Errorf("new declaration: %q, %q, %q, %q", d.GetString("last_name"), d.GetString("house"), d.GetString("address"), d.GetString("postcode"))
	}

	// Expired: refused with a way to get a new link, and nothing shown.
	late := testkit.Signer(t)
	late.Now = func() time.Time { return time.Now().Add(-tokens.GiftAidTTL - time.Minute) }
	status, body = get(t, env, "/gift-aid?token="+url.QueryEscape(late.Sign(tokens.GiftAid, sup.Id, tokens.GiftAidTTL)))
	if status != http.StatusBadRequest || !strings.Contains(body, "3 days") || showsHome(body) != "" {
		t.Errorf("expired link = %d:\n%s", status, body)
	}
}

// Whoever presses the button gets the same answer. Mail goes only to a
// reachable address, at most 3 a day, so a forwarded newsletter can't be used
// to flood its reader; a forged or missing token is refused.
func TestGiftAidRequestSameAnswer(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	signer := testkit.Signer(t)
	ok := donor(t, env, "many@example.org")
	answers := map[string]string{}
	for range 5 {
		_, answers["reachable"] = requestLink(t, env, signer.Sign(tokens.Preferences, ok.Id, tokens.PreferencesTTL))
	}
	for _, status := range []string{vocab.StatusBounced, vocab.StatusComplained, vocab.StatusErased} {
		sup := supporter(t, env, status+"@example.org", vocab.StatusSubscribed)
		prefs := signer.Sign(tokens.Preferences, sup.Id, tokens.PreferencesTTL)
		get(t, env, "/preferences?token="+url.QueryEscape(prefs)) // opened before the change
		sup.Set("status", status)
		if err := env.App.Save(sup); err != nil {
			t.Fatal(err)
		}
		_, answers[status] = env.PostForm(t, "/gift-aid/request", url.Values{"token": {prefs}})
	}
	suppressed := supporter(t, env, "suppressed@example.org", vocab.StatusSubscribed)
	sr := core.NewRecord(testkit.Collection(t, env.App, vocab.Suppressions))
	sr.Load(map[string]any{"email_hash": "suppressed@example.org", "reason": vocab.SuppressManual})
	if err := env.App.Save(sr); err != nil {
		t.Fatal(err)
	}
	_, answers["suppressed"] = env.PostForm(t, "/gift-aid/request", url.Values{"token": {signer.Sign(tokens.Preferences, suppressed.Id, tokens.PreferencesTTL)}})

	for who, a := range answers {
		if a != answers["reachable"] {
			t.Errorf("the answer for %s differs:\n%s\n---\n%s", who, a, answers["reachable"])
		}
	}
	env.SMTP.WaitFor(t, "many@example.org", 3, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := env.Count(t, vocab.Outbox, "kind = 'gift_aid_link'"); n != 3 {
		t.Errorf("%d Gift Aid link emails queued, want 3 (the daily cap, to the reachable donor only)", n)
	}
	if n := len(env.SMTP.Mails()); n != 3 {
		t.Errorf("%d mails sent, want 3", n)
	}

	for name, v := range map[string]url.Values{
		"no token":       {},
		"forged token":   {"token": {"preferences.abc.1.zzzzzz.forged"}},
		"gift aid token": {"token": {signer.Sign(tokens.GiftAid, ok.Id, time.Hour)}},
	} {
		if status, _ := env.PostForm(t, "/gift-aid/request", v); status != http.StatusBadRequest {
			t.Errorf("%s = %d, want 400", name, status)
		}
	}
}

// The button is a public post, limited per IP like the signup form.
func TestGiftAidRequestIsRateLimited(t *testing.T) {
	env := testkit.Start(t, testkit.Options{RateLimits: true})
	sup := supporter(t, env, "limited@example.org", vocab.StatusSubscribed)
	form := url.Values{"token": {testkit.Signer(t).Sign(tokens.Preferences, sup.Id, tokens.PreferencesTTL)}}
	statuses := map[int]int{}
	for range 25 {
		status, _ := env.PostForm(t, "/gift-aid/request", form)
		statuses[status]++
	}
	if statuses[http.StatusOK] != 20 || statuses[http.StatusTooManyRequests] != 5 {
		t.Fatalf("statuses = %v, want 20×200 then 5×429", statuses)
	}
}
