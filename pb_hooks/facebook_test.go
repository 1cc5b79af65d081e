package pb_hooks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/fbsync"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

const (
	verifyToken = "verify-me-please"
	appSecret   = "app-secret-0123456789"
)

// startWithGraph runs the app with the sync pointed at a fake Graph API:
// no schedule, a short webhook delay.
func startWithGraph(t *testing.T) (*testkit.Env, *testkit.Graph) {
	t.Helper()
	g := testkit.NewGraph(t)
	g.Set("posts", "["+testkit.EventPost("111", "Winter Sleep-Out", "2026-11-21T16:40:05+0000")+","+testkit.OrdinaryPost+"]",
		"["+testkit.EventPost("222", "Carol concert", "2026-11-22T10:00:00+0000")+"]")
	env := testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) {
		c.Facebook = pb_hooks.FacebookConfig{PageID: testkit.GraphPageID, Token: "page-token-xyz", GraphURL: g.URL, Source: fbsync.Posts,
			VerifyToken: verifyToken, AppSecret: appSecret, WebhookDelay: 20 * time.Millisecond}
	}})
	return env, g
}

func sign(body string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func deliver(t *testing.T, env *testkit.Env, body, signature string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/api/webhooks/facebook", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	res, err := testkit.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestWebhookHandshake(t *testing.T) {
	env, _ := startWithGraph(t)
	status, body := env.Do(t, http.MethodGet, "/api/webhooks/facebook?hub.mode=subscribe&hub.verify_token="+verifyToken+"&hub.challenge=1158201444", "", "")
	if status != http.StatusOK || body != "1158201444" {
		t.Errorf("handshake = %d %q", status, body)
	}
	status, body = env.Do(t, http.MethodGet, "/api/webhooks/facebook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444", "", "")
	if status != http.StatusForbidden || strings.Contains(body, "1158201444") {
		t.Errorf("wrong verify token = %d %q", status, body)
	}
}

func TestWebhookSignatureGatesTheSync(t *testing.T) {
	env, g := startWithGraph(t)
	payload, err := os.ReadFile("../internal/fbgraph/testdata/webhook-feed-event.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, sig := range map[string]string{
		"missing":       "",
		"wrong secret":  "sha256=" + strings.Repeat("ab", 32),
		"not hex":       "sha256=zz",
		"sha1 only":     "sha1=" + strings.Repeat("ab", 20),
		"body modified": sign(string(payload) + " "),
	} {
		if status := deliver(t, env, string(payload), sig); status != http.StatusUnauthorized {
			t.Errorf("%s signature: status %d, want 401", name, status)
		}
	}
	time.Sleep(200 * time.Millisecond) // longer than the webhook delay
	if n := g.Requests(); n != 0 {
		t.Fatalf("badly signed deliveries reached Facebook %d times", n)
	}
	if n := env.Count(t, vocab.SyncRuns, ""); n != 0 {
		t.Fatalf("badly signed deliveries started %d syncs", n)
	}

	// A comment is not about events: accepted, nothing fetched.
	comment := `{"object":"page","entry":[{"id":"104857600000001","time":1764000000,"changes":[{"field":"feed","value":{"item":"comment","verb":"add"}}]}]}`
	if status := deliver(t, env, comment, sign(comment)); status != http.StatusOK {
		t.Fatalf("signed comment delivery = %d", status)
	}
	time.Sleep(200 * time.Millisecond)
	if n := g.Requests(); n != 0 {
		t.Fatalf("a comment triggered a sync")
	}

	// Three event deliveries in a burst make one sync.
	for range 3 {
		if status := deliver(t, env, string(payload), sign(string(payload))); status != http.StatusOK {
			t.Fatalf("signed delivery = %d", status)
		}
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return env.Count(t, vocab.Events, "") == 2 })
	time.Sleep(200 * time.Millisecond)
	if runs := env.Count(t, vocab.SyncRuns, "trigger = 'webhook'"); runs != 1 {
		t.Errorf("a burst of deliveries made %d syncs, want 1", runs)
	}
}

func TestSyncRouteIsForSuperusers(t *testing.T) {
	env, g := startWithGraph(t)
	for role, want := range map[string]int{"": http.StatusUnauthorized, vocab.RoleComms: http.StatusForbidden, vocab.RoleAdmin: http.StatusForbidden} {
		tok := ""
		if role != "" {
			tok = testkit.Login(t, env, role)
		}
		if status, _ := env.Call(t, tok, http.MethodPost, "/api/facebook/sync", ""); status != want {
			t.Errorf("%q: status %d, want %d", role, status, want)
		}
	}
	if n := env.Count(t, vocab.SyncRuns, ""); n != 0 {
		t.Fatalf("refused callers started %d syncs", n)
	}
	before := time.Now()
	status, body := env.Call(t, testkit.Login(t, env, "superuser"), http.MethodPost, "/api/facebook/sync", "")
	if status != http.StatusOK || !strings.Contains(body, `"created":2`) || !strings.Contains(body, `"fetched":2`) {
		t.Fatalf("superuser sync = %d %s", status, body)
	}
	// The posts were asked for since a year before the sync (the default window).
	after := time.Now()
	if len(g.Queries()) == 0 {
		t.Fatal("the sync asked Facebook nothing")
	}
	for _, q := range g.Queries() {
		since, err := strconv.ParseInt(q.Get("since"), 10, 64)
		year := fbsync.DefaultPostsWindow
		if err != nil || since < before.Add(-year).Unix()-1 || since > after.Add(-year).Unix() {
			t.Errorf("posts asked for with since %q, want a year before the sync", q.Get("since"))
		}
	}
}

func TestPostsWindowFromTheEnvironment(t *testing.T) {
	t.Setenv("FACEBOOK_POSTS_DAYS", "")
	if c, err := pb_hooks.ConfigFromEnv(); err != nil || c.Facebook.PostsWindow != 0 {
		t.Fatalf("unset: window %v, %v; want 0 (the sync's default)", c.Facebook.PostsWindow, err)
	}
	t.Setenv("FACEBOOK_POSTS_DAYS", "90")
	if c, err := pb_hooks.ConfigFromEnv(); err != nil || c.Facebook.PostsWindow != 90*24*time.Hour {
		t.Fatalf("90: window %v, %v", c.Facebook.PostsWindow, err)
	}
	for _, bad := range []string{"0", "-5", "a year", "1.5"} {
		t.Setenv("FACEBOOK_POSTS_DAYS", bad)
		if _, err := pb_hooks.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "FACEBOOK_POSTS_DAYS") {
			t.Errorf("FACEBOOK_POSTS_DAYS=%q: %v", bad, err)
		}
	}
}

func TestEventsReachTheNewsletter(t *testing.T) {
	env, _ := startWithGraph(t)
	col := testkit.Collection(t, env.App, vocab.Events)
	for name, fields := range map[string]map[string]any{
		"Quiz <night>":      {"start": time.Now().Add(72 * time.Hour), "place": "The Crown, Leeds"},
		"Trustees' dinner":  {"start": time.Now().Add(48 * time.Hour), "hidden": true},
		"Cancelled fun run": {"start": time.Now().Add(24 * time.Hour), "cancelled": true},
	} {
		r := core.NewRecord(col)
		r.Set("name", name)
		r.Set("source", vocab.SourceManual)
		r.Set("ticket_url", "https://tickets.example.org/quiz")
		for k, v := range fields {
			r.Set(k, v)
		}
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Subscribers(t, env.App, 1)
	testkit.DueCampaign(t, env.App, "What's on", "Coming up:\n\n{{range events 3}}\n- [{{.Name}}]({{.URL}}), {{.When}}, {{.Where}}\n{{end}}")
	mails := env.SMTP.WaitFor(t, "reader00000@example.org", 1, 15*time.Second)
	html, text := mails[0].HTML, mails[0].Text
	if !strings.Contains(html, "Quiz &lt;night&gt;") || !strings.Contains(html, `href="https://tickets.example.org/quiz"`) || !strings.Contains(html, "The Crown, Leeds") {
		t.Errorf("HTML part lacks the event:\n%s", html)
	}
	if !strings.Contains(text, "Quiz <night>") {
		t.Errorf("text part lacks the event:\n%s", text)
	}
	if strings.Contains(html, "Trustees") || strings.Contains(html, "Cancelled fun run") {
		t.Error("a hidden or cancelled event reached the newsletter")
	}
}

func TestEventsPage(t *testing.T) {
	env, _ := startWithGraph(t)
	status, body := env.Do(t, http.MethodGet, "/events", "", "")
	if status != http.StatusOK || !strings.Contains(body, "There are no events coming up just now") {
		t.Fatalf("empty events page = %d:\n%s", status, body)
	}

	soon := time.Now().Add(30 * 24 * time.Hour)
	saveEvents(t, env, map[string]map[string]any{
		"Sleep-out <b>for</b> safe homes": {"start": soon, "place": "St Mary's Church Hall, Leeds", "cover_url": "https://scontent.example.net/s.jpg", "ticket_url": "https://tickets.example.org/s"},
		"Online briefing":                 {"start": soon.Add(time.Hour), "online": true},
		"Trustees' dinner":                {"start": soon, "hidden": true},
		"Fun run":                         {"start": soon.Add(2 * time.Hour), "cancelled": true},
		"Spring walk":                     {"posted_at": time.Now()},
		"Gone from Facebook":              {"start": soon, "removed": true},
	})
	status, body = env.Do(t, http.MethodGet, "/events", "", "")
	if status != http.StatusOK {
		t.Fatalf("events page = %d", status)
	}
	for _, want := range []string{
		"Sleep-out &lt;b&gt;for&lt;/b&gt; safe homes", "St Mary&#39;s Church Hall, Leeds",
		`href="https://tickets.example.org/s"`, "Online briefing", ">Online<", `<span class="badge">Cancelled</span> Fun run`,
		`<h2 id="announced">Dates to be announced</h2>`, "Spring walk", `<time datetime="`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("events page lacks %q", want)
		}
	}
	// Facebook's pictures aren't shown: fetching one would tell Facebook who
	// reads the page (templates/safety_test.go).
	for _, unwanted := range []string{"Trustees", "Gone from Facebook", "<b>for</b>", "There are no events", "scontent.example.net"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("events page shows %q", unwanted)
		}
	}
	if strings.Index(body, "Spring walk") < strings.Index(body, "Fun run") {
		t.Error("the undated event is not listed apart, after the dated ones")
	}
}

// Facebook echoes tokens in some errors. Whatever path a failure takes (the
// superuser route's answer, sync_runs, the staff alert, the app's logs),
// the token is not in it.
func TestSyncFailuresNeverShowTheToken(t *testing.T) {
	env, g := startWithGraph(t)
	const tok = "page-token-xyz"
	settings := env.App.Settings()
	settings.Logs.MaxDays = 1 // the test app keeps no logs by default
	if err := env.App.Save(settings); err != nil {
		t.Fatal(err)
	}
	g.Fail("posts", 0, 400, `{"error":{"message":"Invalid OAuth access token `+tok+`.","type":"OAuthException","code":190,"error_subcode":460,"fbtrace_id":"T1"}}`)
	status, body := env.Call(t, testkit.Login(t, env, "superuser"), http.MethodPost, "/api/facebook/sync", "")
	if status != http.StatusBadGateway || !strings.Contains(body, "token invalid") || strings.Contains(body, tok) {
		t.Fatalf("superuser sync with a bad token = %d %s", status, body)
	}
	// The sync has stopped: a webhook delivery is logged as skipped, with the reason.
	payload, err := os.ReadFile("../internal/fbgraph/testdata/webhook-feed-event.json")
	if err != nil {
		t.Fatal(err)
	}
	if status := deliver(t, env, string(payload), sign(string(payload))); status != http.StatusOK {
		t.Fatalf("signed delivery = %d", status)
	}
	type logRow struct{ Message, Data string }
	var logs []logRow
	testkit.Eventually(t, 20*time.Second, func() bool {
		logs = nil
		if err := env.App.AuxDB().NewQuery("SELECT message, data FROM _logs").All(&logs); err != nil {
			t.Fatal(err)
		}
		for _, l := range logs {
			if l.Message == "facebook sync skipped" && strings.Contains(l.Data, "token invalid") {
				return true
			}
		}
		return false
	})
	for _, l := range logs {
		if strings.Contains(l.Message+l.Data, tok) {
			t.Errorf("the token appears in a log: %s %s", l.Message, l.Data)
		}
	}
	for _, coll := range []string{vocab.SyncRuns, vocab.Outbox} {
		recs, err := env.App.FindAllRecords(coll)
		if err != nil {
			t.Fatal(err)
		}
		if coll == vocab.Outbox && len(recs) == 0 {
			t.Error("no staff alert was queued")
		}
		for _, r := range recs {
			if b, _ := r.MarshalJSON(); strings.Contains(string(b), tok) {
				t.Errorf("the token appears in %s: %s", coll, b)
			}
		}
	}
}

// The events page is usable with a screen reader: a language, one h1 and
// no skipped heading levels, every labelled region's label exists, images
// have alt text, and each link names its event.
func TestEventsPageMarkup(t *testing.T) {
	env, _ := startWithGraph(t)
	soon := time.Now().Add(10 * 24 * time.Hour)
	saveEvents(t, env, map[string]map[string]any{
		"Sleep-out":   {"start": soon, "cover_url": "https://scontent.example.net/s.jpg", "ticket_url": "https://tickets.example.org/s"},
		"Quiz night":  {"start": soon.Add(24 * time.Hour), "facebook_url": "https://www.facebook.com/events/1/"},
		"Spring walk": {"posted_at": time.Now(), "facebook_url": "https://www.facebook.com/events/2/", "cover_url": "https://scontent.example.net/w.jpg"},
	})
	status, body := env.Do(t, http.MethodGet, "/events", "", "")
	if status != http.StatusOK {
		t.Fatalf("events page = %d", status)
	}
	if !strings.Contains(body, `<html lang="en-GB">`) || !strings.Contains(body, "<main") {
		t.Error("no page language or main landmark")
	}
	last := 0
	for _, m := range regexp.MustCompile(`<h([1-6])[ >]`).FindAllStringSubmatch(body, -1) {
		level := int(m[1][0] - '0')
		if (level == 1) == (last != 0) || level > last+1 {
			t.Errorf("heading h%d after h%d", level, last)
		}
		last = level
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		ids[m[1]] = true
	}
	labelled := regexp.MustCompile(`aria-labelledby="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(labelled) < 5 { // two sections, three events
		t.Errorf("%d labelled regions", len(labelled))
	}
	for _, m := range labelled {
		if !ids[m[1]] {
			t.Errorf("aria-labelledby=%q names no element", m[1])
		}
	}
	for _, img := range regexp.MustCompile(`<img [^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(img, ` alt="`) {
			t.Errorf("image without alt: %s", img)
		}
	}
	for _, name := range []string{"Sleep-out", "Quiz night", "Spring walk"} {
		if !regexp.MustCompile(`<a href="[^"]+"[^>]*>[^<]+<span class="visually-hidden"> (for|about) ` + name + `</span></a>`).MatchString(body) {
			t.Errorf("no link naming %q", name)
		}
	}
}

// saveEvents stores Facebook post events by name, each with its fields set.
func saveEvents(t *testing.T, env *testkit.Env, events map[string]map[string]any) {
	t.Helper()
	col := testkit.Collection(t, env.App, vocab.Events)
	for name, fields := range events {
		r := core.NewRecord(col)
		r.Set("name", name)
		r.Set("source", vocab.SourceFacebookPost)
		for k, v := range fields {
			r.Set(k, v)
		}
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
	}
}
