package pb_hooks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
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
	env, _ := startWithGraph(t)
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
	status, body := env.Call(t, testkit.Login(t, env, "superuser"), http.MethodPost, "/api/facebook/sync", "")
	if status != http.StatusOK || !strings.Contains(body, `"created":2`) || !strings.Contains(body, `"fetched":2`) {
		t.Fatalf("superuser sync = %d %s", status, body)
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

	col := testkit.Collection(t, env.App, vocab.Events)
	soon := time.Now().Add(30 * 24 * time.Hour)
	for name, fields := range map[string]map[string]any{
		"Sleep-out <b>for</b> safe homes": {"start": soon, "place": "St Mary's Church Hall, Leeds", "cover_url": "https://scontent.example.net/s.jpg", "ticket_url": "https://tickets.example.org/s"},
		"Online briefing":                 {"start": soon.Add(time.Hour), "online": true},
		"Trustees' dinner":                {"start": soon, "hidden": true},
		"Fun run":                         {"start": soon.Add(2 * time.Hour), "cancelled": true},
		"Spring walk":                     {"posted_at": time.Now()},
		"Gone from Facebook":              {"start": soon, "removed": true},
	} {
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
	status, body = env.Do(t, http.MethodGet, "/events", "", "")
	if status != http.StatusOK {
		t.Fatalf("events page = %d", status)
	}
	for _, want := range []string{
		"Sleep-out &lt;b&gt;for&lt;/b&gt; safe homes", "St Mary&#39;s Church Hall, Leeds", `src="https://scontent.example.net/s.jpg"`,
		`href="https://tickets.example.org/s"`, "Online briefing", ">Online<", `<span class="badge">Cancelled</span> Fun run`,
		`<h2 id="announced">Dates to be announced</h2>`, "Spring walk", `<time datetime="`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("events page lacks %q", want)
		}
	}
	for _, unwanted := range []string{"Trustees", "Gone from Facebook", "<b>for</b>", "There are no events"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("events page shows %q", unwanted)
		}
	}
	if strings.Index(body, "Spring walk") < strings.Index(body, "Fun run") {
		t.Error("the undated event is not listed apart, after the dated ones")
	}
}
