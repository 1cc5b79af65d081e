package signup_test

import (
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// subscribe signs email up through the JSON API and follows the confirmation
// link, returning the subscribed supporter.
func subscribe(t *testing.T, env *testkit.Env, email string, topics ...string) *core.Record {
	t.Helper()
	n := len(env.SMTP.To(email))
	status, body := env.PostJSON(t, "/api/subscribe", `{"email":"`+email+`","first_name":"Sam","topics":["`+strings.Join(topics, `","`)+`"],"consent":true}`)
	if status != http.StatusAccepted {
		t.Fatalf("signup %s = %d %s", email, status, body)
	}
	mails := env.SMTP.WaitFor(t, email, n+1, 10*time.Second)
	link := env.Link(t, mails[len(mails)-1].Text, "/confirm")
	if status, _ := env.Do(t, http.MethodGet, strings.TrimPrefix(link, env.URL), "", ""); status != http.StatusOK {
		t.Fatalf("confirm %s = %d", email, status)
	}
	sup := supporter(t, env, email)
	if sup.GetString("status") != vocab.StatusSubscribed {
		t.Fatalf("%s not subscribed after confirming", email)
	}
	env.SMTP.WaitFor(t, email, n+2, 10*time.Second) // the welcome
	return sup
}

func TestSameAnswerForNewKnownAndSuppressed(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	body := `{"email":"%s","topics":["newsletter"],"consent":true}`
	post := func(email string) string {
		t.Helper()
		status, b := env.PostJSON(t, "/api/subscribe", strings.Replace(body, "%s", email, 1))
		if status != http.StatusAccepted {
			t.Fatalf("signup %s = %d %s", email, status, b)
		}
		return b
	}
	newAnswer := post("new@example.org")
	subscribe(t, env, "known@example.org", "events")
	mailsBefore := len(env.SMTP.To("known@example.org"))
	knownAnswer := post("known@example.org")

	suppression := core.NewRecord(testkit.Collection(t, env.App, vocab.Suppressions))
	suppression.Set("email_hash", "Gone@Example.org")
	suppression.Set("reason", vocab.SuppressErased)
	if err := env.App.Save(suppression); err != nil {
		t.Fatal(err)
	}
	suppressedAnswer := post("gone@example.org")
	if newAnswer != knownAnswer || newAnswer != suppressedAnswer {
		t.Fatalf("answers differ:\nnew:        %s\nknown:      %s\nsuppressed: %s", newAnswer, knownAnswer, suppressedAnswer)
	}

	// The known, subscribed address gets "already subscribed" with a
	// preferences link, not a second confirmation; its topics are unchanged.
	mails := env.SMTP.WaitFor(t, "known@example.org", mailsBefore+1, 10*time.Second)
	last := mails[len(mails)-1]
	if !strings.Contains(last.Header.Get("Subject"), "already subscribed") || strings.Contains(last.Text, "/confirm") {
		t.Fatalf("known address got %q:\n%s", last.Header.Get("Subject"), last.Text)
	}
	env.Link(t, last.Text, "/preferences")
	if got := topicSlugs(t, env, supporter(t, env, "known@example.org")); got != "events" {
		t.Errorf("known supporter's topics changed to %s", got)
	}

	// The suppressed address: nothing stored, nothing mailed.
	if n := env.Count(t, vocab.Supporters, "email = 'gone@example.org'"); n != 0 {
		t.Errorf("suppressed signup stored %d supporters", n)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(env.SMTP.To("gone@example.org")); n != 0 {
		t.Errorf("suppressed address got %d mails", n)
	}
	if n := env.Count(t, vocab.Outbox, "to = 'gone@example.org'"); n != 0 {
		t.Errorf("suppressed address has %d outbox rows", n)
	}
}

func TestRepeatedSignupsSendOneConfirmation(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	for i := 0; i < 5; i++ {
		if status, _ := env.PostJSON(t, "/api/subscribe", `{"email":"flood@example.org","topics":["newsletter"],"consent":true}`); status != http.StatusAccepted {
			t.Fatalf("signup #%d = %d", i+1, status)
		}
	}
	env.SMTP.WaitFor(t, "flood@example.org", 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := len(env.SMTP.To("flood@example.org")); n != 1 {
		t.Errorf("5 signups in a row sent %d confirmations, want 1", n)
	}
	if n := env.Count(t, vocab.Supporters, ""); n != 1 {
		t.Errorf("%d supporters, want 1", n)
	}
}

func TestBotsAreDroppedSilently(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) { c.MinSubmit = time.Hour }})
	form := url.Values{"email": {"bot@example.org"}, "topics": {"newsletter"}, "consent": {"true"}}
	form.Set("form_token", formToken(t, env))
	// Too fast: the page was served a moment ago and MinSubmit is an hour.
	if status, body := env.PostForm(t, "/subscribe", form); status != http.StatusAccepted || !strings.Contains(body, "check your inbox") {
		t.Fatalf("too-fast post = %d", status)
	}
	// Honeypot filled, with a token old enough to pass the time check.
	form.Set("form_token", signup.FormToken(testSigner(t, time.Now().Add(-2*time.Hour))))
	form.Set("website", "http://spam.example")
	if status, _ := env.PostForm(t, "/subscribe", form); status != http.StatusAccepted {
		t.Fatalf("honeypot post = %d", status)
	}
	status, _ := env.PostJSON(t, "/api/subscribe", `{"email":"bot@example.org","topics":["newsletter"],"consent":true,"website":"x"}`)
	if status != http.StatusAccepted {
		t.Fatalf("json honeypot = %d", status)
	}
	assertNothingWritten(t, env)

	// The same form from a human who took their time is accepted.
	form.Del("website")
	if status, _ := env.PostForm(t, "/subscribe", form); status != http.StatusAccepted || env.Count(t, vocab.Supporters, "") != 1 {
		t.Fatalf("human post = %d, supporters %d", status, env.Count(t, vocab.Supporters, ""))
	}
}

func TestSignupIsRateLimitedPerIP(t *testing.T) {
	env := testkit.Start(t, testkit.Options{RateLimits: true})
	statuses := map[int]int{}
	for i := 0; i < 25; i++ {
		status, _ := env.PostJSON(t, "/api/subscribe", `{"email":"r`+string(rune('a'+i))+`@example.org","topics":["newsletter"],"consent":true}`)
		statuses[status]++
	}
	if statuses[http.StatusAccepted] != 20 || statuses[http.StatusTooManyRequests] != 5 {
		t.Fatalf("statuses = %v, want 20×202 then 5×429", statuses)
	}
	if n := env.Count(t, vocab.Supporters, ""); n != 20 {
		t.Errorf("%d supporters, want 20", n)
	}
}

func TestSubscribeCORS(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	rec, err := env.App.FindFirstRecordByFilter(vocab.Charity, "")
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("embed_origins", []string{"https://www.lanternhouse.org.uk"})
	if err := env.App.Save(rec); err != nil {
		t.Fatal(err)
	}
	preflight := func(path, origin string) string {
		req, _ := http.NewRequest(http.MethodOptions, env.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		res, err := testkit.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight("/api/subscribe", "https://www.lanternhouse.org.uk"); got != "https://www.lanternhouse.org.uk" {
		t.Errorf("listed origin: Allow-Origin = %q", got)
	}
	if got := preflight("/api/subscribe", "https://evil.example"); got != "" {
		t.Errorf("unlisted origin: Allow-Origin = %q, want none", got)
	}
	// PocketBase's own API keeps its default CORS.
	if got := preflight("/api/health", "https://evil.example"); got != "*" {
		t.Errorf("/api/health Allow-Origin = %q, want PocketBase's *", got)
	}
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/api/subscribe", strings.NewReader(`{"email":"cors@example.org","topics":["newsletter"],"consent":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://www.lanternhouse.org.uk")
	res, err := testkit.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || res.Header.Get("Access-Control-Allow-Origin") != "https://www.lanternhouse.org.uk" {
		t.Errorf("cross-origin POST = %d, Allow-Origin %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestUnsubscribeGetChangesNothingButtonDoes(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := subscribe(t, env, "reader@example.org", "newsletter")
	path := "/unsubscribe?token=" + testSigner(t, time.Now()).Sign(tokens.Unsubscribe, sup.Id, tokens.UnsubscribeTTL)
	for i := 0; i < 3; i++ { // a mail scanner prefetching
		status, body := env.Do(t, http.MethodGet, path, "", "")
		if status != http.StatusOK || !strings.Contains(body, `<form method="post"`) || !strings.Contains(body, "reader@example.org") {
			t.Fatalf("GET unsubscribe = %d:\n%s", status, truncate(body))
		}
	}
	if got := supporter(t, env, "reader@example.org").GetString("status"); got != vocab.StatusSubscribed {
		t.Fatalf("GET changed status to %s", got)
	}
	// From a campaign's link, the button keeps the delivery it came from.
	if _, body := env.Do(t, http.MethodGet, path+"&d=abc123", "", ""); !strings.Contains(body, "&amp;d=abc123") {
		t.Error("the unsubscribe button drops the delivery id")
	}
	status, body := env.Do(t, http.MethodPost, path, "application/x-www-form-urlencoded", "")
	if status != http.StatusOK || !strings.Contains(html.UnescapeString(body), "You've been unsubscribed") {
		t.Fatalf("button = %d:\n%s", status, truncate(body))
	}
	rows := consents(t, env, sup)
	if last := rows[len(rows)-1]; last.GetString("action") != vocab.ActionWithdraw || last.GetString("method") != vocab.MethodLink {
		t.Errorf("last consent row = %s by %s", last.GetString("action"), last.GetString("method"))
	}
}

func TestUnsubscribeStopsQueuedMailAndVoidsOldConfirmLinks(t *testing.T) {
	env := testkit.Start(t, testkit.Options{SMTPDown: true})
	if status, _ := env.PostJSON(t, "/api/subscribe", `{"email":"quick@example.org","topics":["newsletter"],"consent":true}`); status != http.StatusAccepted {
		t.Fatal(status)
	}
	sup := supporter(t, env, "quick@example.org")
	consent := consents(t, env, sup)[0]
	signer := testSigner(t, time.Now())
	status, _ := env.Do(t, http.MethodPost, "/unsubscribe?token="+signer.Sign(tokens.Unsubscribe, sup.Id, tokens.UnsubscribeTTL), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	if status != http.StatusOK {
		t.Fatalf("one-click = %d", status)
	}
	if n := env.Count(t, vocab.Outbox, "status = 'cancelled'"); n != 1 {
		t.Fatalf("cancelled outbox rows = %d, want 1", n)
	}
	env.SMTP.Start(t)
	time.Sleep(500 * time.Millisecond) // several worker rounds with the relay up
	if n := len(env.SMTP.Mails()); n != 0 {
		t.Fatalf("%d mails sent after unsubscribe", n)
	}
	// The confirmation link, had it arrived, no longer subscribes.
	status, body := env.Do(t, http.MethodGet, "/confirm?token="+signer.Sign(tokens.Confirm, consent.Id, tokens.ConfirmTTL), "", "")
	if status != http.StatusBadRequest || !strings.Contains(body, "out of date") {
		t.Fatalf("confirm after unsubscribe = %d:\n%s", status, truncate(body))
	}
	if got := supporter(t, env, "quick@example.org").GetString("status"); got != vocab.StatusUnsubscribed {
		t.Fatalf("status = %s", got)
	}
}

func TestResignupAfterUnsubscribeNeedsConfirmation(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := subscribe(t, env, "back@example.org", "newsletter")
	signer := testSigner(t, time.Now())
	env.Do(t, http.MethodPost, "/unsubscribe?token="+signer.Sign(tokens.Unsubscribe, sup.Id, tokens.UnsubscribeTTL), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	sup = subscribe(t, env, "back@example.org", "events")
	if got := topicSlugs(t, env, sup); got != "events" {
		t.Errorf("topics after re-signup = %s", got)
	}
	rows := consents(t, env, sup)
	if len(rows) != 3 || rows[2].GetString("action") != vocab.ActionGrant || rows[2].GetDateTime("confirmed_at").IsZero() {
		t.Errorf("consent rows = %d, last %s", len(rows), rows[len(rows)-1].GetString("action"))
	}
}

func TestPreferencesRecordEachChange(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := subscribe(t, env, "prefs@example.org", "newsletter", "events")
	path := "/preferences?token=" + testSigner(t, time.Now()).Sign(tokens.Preferences, sup.Id, tokens.PreferencesTTL)
	status, body := env.Do(t, http.MethodGet, path, "", "")
	if status != http.StatusOK || !strings.Contains(body, `value="newsletter" checked`) || strings.Contains(body, `value="appeals" checked`) {
		t.Fatalf("preferences page = %d:\n%s", status, truncate(body))
	}
	before := len(consents(t, env, sup))
	status, _ = env.PostForm(t, path, url.Values{"first_name": {"Samira"}, "last_name": {"Khan"}, "topics": {"events", "appeals"}})
	if status != http.StatusOK {
		t.Fatalf("save = %d", status)
	}
	sup = supporter(t, env, "prefs@example.org")
	if got := topicSlugs(t, env, sup); got != "appeals,events" || sup.GetString("first_name") != "Samira" {
		t.Fatalf("after save: topics %s, name %s", got, sup.GetString("first_name"))
	}
	rows := consents(t, env, sup)[before:]
	got := map[string]string{}
	for _, r := range rows {
		got[r.GetString("action")] = r.GetString("topic_slugs")
	}
	if len(rows) != 3 || got[vocab.ActionGrant] != `["appeals"]` || got[vocab.ActionWithdraw] != `["newsletter"]` || got[vocab.ActionDetails] != `[]` {
		t.Fatalf("new consent rows = %v", got)
	}

	// Bad names are refused, nothing changes.
	status, _ = env.PostForm(t, path, url.Values{"first_name": {"A\r\nB"}, "topics": {"events"}})
	if status != http.StatusBadRequest || topicSlugs(t, env, supporter(t, env, "prefs@example.org")) != "appeals,events" {
		t.Fatalf("bad name = %d", status)
	}

	// Unticking everything unsubscribes.
	status, _ = env.PostForm(t, path, url.Values{"first_name": {"Samira"}, "last_name": {"Khan"}})
	if status != http.StatusOK || supporter(t, env, "prefs@example.org").GetString("status") != vocab.StatusUnsubscribed {
		t.Fatalf("untick all = %d, status %s", status, supporter(t, env, "prefs@example.org").GetString("status"))
	}
	// Ticking a topic again from the mailed link resubscribes: the link proves the mailbox.
	env.PostForm(t, path, url.Values{"first_name": {"Samira"}, "last_name": {"Khan"}, "topics": {"newsletter"}})
	if sup = supporter(t, env, "prefs@example.org"); sup.GetString("status") != vocab.StatusSubscribed || topicSlugs(t, env, sup) != "newsletter" {
		t.Fatalf("re-tick: status %s topics %s", sup.GetString("status"), topicSlugs(t, env, sup))
	}
}

func TestConsentsAreAppendOnly(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := subscribe(t, env, "evidence@example.org", "newsletter")
	row := consents(t, env, sup)[0]
	row.Set("wording", "something else")
	if err := env.App.Save(row); err == nil {
		t.Error("editing a consent row's wording succeeded")
	}
	row = consents(t, env, sup)[0]
	row.Set("confirmed_at", time.Now().Add(time.Hour))
	if err := env.App.Save(row); err == nil {
		t.Error("changing a confirmation time succeeded")
	}
	if err := env.App.Delete(consents(t, env, sup)[0]); err == nil {
		t.Error("deleting a consent row succeeded")
	}
	if rows := consents(t, env, sup); len(rows) != 1 || !strings.Contains(rows[0].GetString("wording"), "unsubscribe at any time") {
		t.Errorf("consent evidence changed: %d rows", len(rows))
	}
}

func TestTemplatesOverride(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pages"), 0o755); err != nil {
		t.Fatal(err)
	}
	custom := `{{define "content"}}<h1>Join the Lanternhouse family</h1><input name="form_token" value="{{.Token}}">{{end}}`
	if err := os.WriteFile(filepath.Join(dir, "pages", "signup.html"), []byte(custom), 0o644); err != nil {
		t.Fatal(err)
	}
	env := testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) { c.TemplatesDir = dir }})
	status, body := env.Do(t, http.MethodGet, "/", "", "")
	if status != http.StatusOK || !strings.Contains(body, "Join the Lanternhouse family") || !strings.Contains(body, testkit.IdentityAddress) {
		t.Fatalf("overridden page = %d:\n%s", status, truncate(body))
	}

	// A broken override stops start-up with the parser's message.
	if err := os.WriteFile(filepath.Join(dir, "pages", "signup.html"), []byte(`{{define "content"}}{{.Token`), 0o644); err != nil {
		t.Fatal(err)
	}
	app := env.App
	err := pb_hooks.Register(app, pb_hooks.Config{TemplatesDir: dir})
	if err == nil || !strings.Contains(err.Error(), "pages/signup.html") {
		t.Fatalf("broken override: err = %v", err)
	}
}

func topicSlugs(t *testing.T, env *testkit.Env, sup *core.Record) string {
	t.Helper()
	recs, err := env.App.FindRecordsByIds(vocab.Topics, sup.GetStringSlice("topics"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.GetString("slug"))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// Pages link the logo on their own origin, so they look right even before
// an admin sets the application URL; emails need, and get, absolute links.
func TestLogoOnPagesAndEmails(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	s := env.App.Settings()
	s.Meta.AppURL = "https://supporters.lanternhouse.org.uk"
	if err := env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	_, body := env.Do(t, http.MethodGet, "/", "", "")
	if !strings.Contains(body, `<img src="/static/logo.svg"`) {
		t.Errorf("signup page logo is not same-origin:\n%s", truncate(body))
	}
	if status, svg := env.Do(t, http.MethodGet, "/static/logo.svg", "", ""); status != http.StatusOK || !strings.Contains(svg, "<svg") {
		t.Errorf("GET /static/logo.svg = %d", status)
	}
	env.PostJSON(t, "/api/subscribe", `{"email":"logo@example.org","topics":["newsletter"],"consent":true}`)
	m := env.SMTP.WaitFor(t, "logo@example.org", 1, 10*time.Second)[0]
	if !strings.Contains(m.HTML, `src="https://supporters.lanternhouse.org.uk/logo.png"`) || !strings.Contains(m.Text, "https://supporters.lanternhouse.org.uk/confirm?token=") {
		t.Errorf("email links are not absolute on the application URL:\n%s", m.HTML)
	}
}
