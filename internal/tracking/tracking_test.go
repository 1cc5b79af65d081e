package tracking_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/tracking"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

const (
	report = "https://example.org/report?year=2026&part=1"
	donate = "https://example.org/donate"
)

const body = "# Dear {{.FirstName}}\n\nRead [our report](" + report + ") or [give](" + donate + ").\n\n[Unsubscribe]({{.UnsubscribeURL}}) · [Preferences]({{.PreferencesURL}}) · [View online]({{.WebURL}})"

func start(t testing.TB) *testkit.Env {
	return testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) {
		c.Campaigns.FlushInterval = 20 * time.Millisecond
		c.Campaigns.WatchInterval = 50 * time.Millisecond
	}})
}

// send mails a campaign (tracking on or off) to the supporters and returns
// it once every delivery is recorded as sent.
func send(t testing.TB, env *testkit.Env, track bool, sups []*core.Record) *core.Record {
	t.Helper()
	topic, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	c := core.NewRecord(testkit.Collection(t, env.App, vocab.Campaigns))
	c.Load(map[string]any{"name": "Spring", "subject": "Spring news", "body_format": vocab.FormatMarkdown, "body": body,
		"topics": []string{topic.Id}, "status": vocab.CampaignScheduled, "send_at": time.Now(), "tracking": track})
	if err := env.App.Save(c); err != nil {
		t.Fatal(err)
	}
	for _, s := range sups {
		env.SMTP.WaitFor(t, s.GetString("email"), 1, 20*time.Second)
	}
	testkit.Eventually(t, 20*time.Second, func() bool {
		return env.Count(t, vocab.Deliveries, "campaign = '"+c.Id+"' && status = 'sent'") == len(sups)
	})
	return c
}

var hrefRe = regexp.MustCompile(`(?:href|src)="([^"]+)"`)

// links are the HTML part's link and image URLs, unescaped.
func links(t *testing.T, env *testkit.Env, email string) []string {
	t.Helper()
	mails := env.SMTP.To(email)
	var out []string
	for _, m := range hrefRe.FindAllStringSubmatch(mails[len(mails)-1].HTML, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func withPrefix(all []string, prefix string) []string {
	var out []string
	for _, l := range all {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// clickTo is the mail's tracked link that redirects to target.
func clickTo(t *testing.T, env *testkit.Env, email, target string) string {
	t.Helper()
	for _, l := range withPrefix(links(t, env, email), env.URL+tracking.ClickPath+"?") {
		u, _ := url.Parse(l)
		if u.Query().Get("u") == target {
			return l
		}
	}
	t.Fatalf("no tracked link to %s in %s's mail", target, email)
	return ""
}

// get fetches a URL without following redirects.
func get(t *testing.T, link string) *http.Response {
	t.Helper()
	resp, err := testkit.Client.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func follow(t *testing.T, link, want string) {
	t.Helper()
	resp := get(t, link)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("GET %s: %d to %q, want 302 to %s", link, resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("the redirect set a cookie")
	}
}

func open(t *testing.T, env *testkit.Env, email string) {
	t.Helper()
	px := withPrefix(links(t, env, email), env.URL+tracking.OpenPath+"?")
	if len(px) != 1 {
		t.Fatalf("%s's mail has %d pixels, want 1", email, len(px))
	}
	resp := get(t, px[0])
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/gif" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "no-store") || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("pixel: %d %v", resp.StatusCode, resp.Header)
	}
}

func results(t *testing.T, env *testkit.Env, staff, campaign string) tracking.Results {
	t.Helper()
	status, b := env.Call(t, staff, http.MethodGet, "/api/crm/campaigns/"+campaign+"/engagement", "")
	if status != http.StatusOK {
		t.Fatalf("engagement: %d %s", status, b)
	}
	var r tracking.Results
	if err := json.Unmarshal([]byte(b), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTrackedCampaign(t *testing.T) {
	env := start(t)
	sups := testkit.Subscribers(t, env.App, 3)
	c := send(t, env, true, sups)
	a, b := sups[0].GetString("email"), sups[1].GetString("email")

	// The message's own links are not rewritten; the content's are.
	all := links(t, env, a)
	for _, p := range []string{"/unsubscribe?", "/preferences?", "/view?"} {
		if len(withPrefix(all, env.URL+p)) == 0 {
			t.Fatalf("want the direct %s links, got %v", p, all)
		}
	}
	for _, l := range all {
		if l == report || l == donate {
			t.Fatalf("content link %s not rewritten", l)
		}
	}

	// a: report twice, donate once, three opens; b: report once, one open.
	follow(t, clickTo(t, env, a, report), report)
	follow(t, clickTo(t, env, a, report), report)
	follow(t, clickTo(t, env, a, donate), donate)
	open(t, env, a)
	open(t, env, a)
	open(t, env, a)
	follow(t, clickTo(t, env, b, report), report)
	open(t, env, b)

	// Tampered and forged links: 400, no redirect, nothing recorded.
	before := env.Count(t, vocab.TrackingEvents, "")
	good := clickTo(t, env, a, report)
	u, _ := url.Parse(good)
	q := u.Query()
	tok := q.Get("t")
	for name, bad := range map[string]url.Values{
		"other url":    {"t": {tok}, "u": {"https://evil.example/phish"}},
		"url appended": {"t": {tok}, "u": {report + "&next=https://evil.example"}},
		"forged mac":   {"t": {tok[:len(tok)-2] + "xx"}, "u": {report}},
		"open token":   {"t": {strings.TrimPrefix(withPrefix(all, env.URL+tracking.OpenPath+"?t=")[0], env.URL+tracking.OpenPath+"?t=")}, "u": {report}},
		"no token":     {"u": {report}},
	} {
		resp := get(t, env.URL+tracking.ClickPath+"?"+bad.Encode())
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d, Location %q; want 400 and none", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if n := env.Count(t, vocab.TrackingEvents, ""); n != before {
		t.Fatalf("bad links recorded %d events", n-before)
	}

	staff := testkit.Login(t, env, vocab.RoleComms)
	r := results(t, env, staff, c.Id)
	if r.Opens.Total != 4 || r.Opens.Unique != 2 || r.Clicks.Total != 4 || r.Clicks.Unique != 2 || r.Opens.First == "" {
		t.Fatalf("opens %+v clicks %+v; want 4/2 and 4/2", r.Opens, r.Clicks)
	}
	if len(r.TopLinks) != 2 || r.TopLinks[0].URL != report || r.TopLinks[0].Total != 3 || r.TopLinks[0].Unique != 2 ||
		r.TopLinks[1].URL != donate || r.TopLinks[1].Total != 1 || r.TopLinks[1].Unique != 1 {
		t.Fatalf("top links %+v", r.TopLinks)
	}
	if status, _ := env.Call(t, "", http.MethodGet, "/api/crm/campaigns/"+c.Id+"/engagement", ""); status != http.StatusUnauthorized {
		t.Fatalf("anonymous engagement: %d", status)
	}

	// b unsubscribes through the mail's link: counted against the campaign;
	// b's links still redirect and record nothing more.
	unsub := withPrefix(links(t, env, b), env.URL+"/unsubscribe?")[0]
	if resp, err := testkit.Client.PostForm(unsub, url.Values{}); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("unsubscribe: %v %v", resp, err)
	}
	follow(t, clickTo(t, env, b, donate), donate)
	open(t, env, b)
	if r := results(t, env, staff, c.Id); r.Unsubscribed != 1 || r.Clicks.Total != 4 || r.Opens.Total != 4 {
		t.Fatalf("after unsubscribe: %+v", r)
	}

	// a is erased: their rows go, b's stay, and a's links record nothing.
	admin := testkit.Login(t, env, vocab.RoleAdmin)
	if status, out := env.Call(t, admin, http.MethodPost, "/api/crm/supporters/"+sups[0].Id+"/erase", ""); status != http.StatusOK || !strings.Contains(out, `"tracking_events_deleted":6`) {
		t.Fatalf("erase: %d %s", status, out)
	}
	follow(t, clickTo(t, env, a, report), report)
	if n := env.Count(t, vocab.TrackingEvents, "supporter = '"+sups[0].Id+"'"); n != 0 {
		t.Fatalf("%d tracking rows left for the erased supporter", n)
	}
	if n := env.Count(t, vocab.TrackingEvents, "supporter = '"+sups[1].Id+"'"); n != 2 {
		t.Fatalf("b has %d rows, want 2", n)
	}
}

func TestTrackingOff(t *testing.T) {
	env := start(t)
	sups := testkit.Subscribers(t, env.App, 2)
	c := send(t, env, false, sups)
	email := sups[0].GetString("email")
	all := links(t, env, email)
	if got := withPrefix(all, env.URL+"/t/"); len(got) != 0 {
		t.Fatalf("tracking off, yet the mail has %v", got)
	}
	var seen int
	for _, l := range all {
		if l == report || l == donate {
			seen++
		}
	}
	if seen != 2 {
		t.Fatalf("want both content links as written, got %v", all)
	}
	// A validly signed link for an untracked campaign still redirects and
	// records nothing.
	var d struct {
		ID string `db:"id"`
	}
	if err := env.App.DB().NewQuery("SELECT id FROM deliveries WHERE campaign = '" + c.Id + "' LIMIT 1").One(&d); err != nil {
		t.Fatal(err)
	}
	follow(t, tracking.ClickURL(testkit.Signer(t), env.URL, d.ID, 0, report), report)
	if n := env.Count(t, vocab.TrackingEvents, ""); n != 0 {
		t.Fatalf("%d events for an untracked campaign", n)
	}
}
