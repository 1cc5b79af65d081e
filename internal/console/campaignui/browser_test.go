package campaignui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// supporters seeds n subscribed supporters in the newsletter topic
// (reader00000@example.org …, first names Reader0 …) with one raw INSERT.
func supporters(app core.App, n int, tags string) {
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
	topic, err := app.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		panic(err)
	}
	_, err = app.DB().NewQuery(`
		INSERT INTO {{supporters}} (id, email, first_name, last_name, status, topics, tags, created, updated)
		WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {:n})
		SELECT printf('sup%012d', i), printf('reader%05d@example.org', i), 'Reader' || i, 'Example',
		       {:subscribed}, json_array({:topic}), {:tags}, {:now}, {:now} FROM seq`).
		Bind(dbx.Params{"n": n, "subscribed": vocab.StatusSubscribed, "topic": topic.Id, "tags": tags, "now": now}).Execute()
	if err != nil {
		panic(err)
	}
}

// text waits for sel and returns its text.
func text(t *testing.T, s *testkit.ConsoleSite, sel string) string {
	t.Helper()
	s.Do(t, "wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	v, err := chromedp.Run(s.Ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v\n%s", sel, err, s.Log())
	}
	return v
}

// waitText waits until sel's text holds want.
func waitText(t *testing.T, s *testkit.ConsoleSite, sel, want string, timeout time.Duration, more ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, _ := chromedp.Run(s.Ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel)))
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(s.Ctx, chromedp.Evaluate[string](`document.body.innerText`))
			for _, f := range more {
				page += "\n" + f()
			}
			t.Fatalf("%s reads %q after %s, want %q; the page:\n%s\nserver log:\n%s", sel, got, timeout, want, page, logTail(s.Log()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fill sets the field sel to value as typing would (an input event, which
// the live preview and count listen for).
func fill(t *testing.T, s *testkit.ConsoleSite, sel, value string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.value = %s; el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); return true })()`, jsString(sel), jsString(value))
	s.Do(t, "fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	if _, err := chromedp.Run(s.Ctx, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatalf("fill %s: %v", sel, err)
	}
}

func jsString(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func submit(t *testing.T, s *testkit.ConsoleSite, button string) {
	t.Helper()
	s.Do(t, "press "+button, chromedp.Click(chromedp.CSS(button)), chromedp.WaitReady(chromedp.CSS("main")))
}

// draft saves a Markdown draft to the newsletter topic and returns its id.
func draft(app core.App, name, subject, body string) string {
	col, err := app.FindCollectionByNameOrId(vocab.Campaigns)
	if err != nil {
		panic(err)
	}
	topic, err := app.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		panic(err)
	}
	r := core.NewRecord(col)
	for k, v := range map[string]any{"name": name, "subject": subject, "body": body, "body_format": vocab.FormatMarkdown,
		"topics": []string{topic.Id}, "tags": []string{}, "status": vocab.CampaignDraft} {
		r.Set(k, v)
	}
	if err := app.Save(r); err != nil {
		panic(err)
	}
	return r.Id
}

// open goes to path without the page checks (a page checked elsewhere).
func open(t *testing.T, s *testkit.ConsoleSite, path string) {
	t.Helper()
	s.Do(t, "open "+path, chromedp.Navigate(s.URL+path), chromedp.WaitReady(chromedp.CSS("main")))
}

// fetchStatus is the HTTP status of a GET made by the page (with its
// session), e.g. for a download link.
func fetchStatus(t *testing.T, s *testkit.ConsoleSite, path string) int {
	t.Helper()
	n, err := chromedp.Run(s.Ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch(%q, {redirect: "manual"}).then(r => r.status)`, path), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A comms officer composes a campaign with the live preview and count,
// is told plainly what is wrong with a body that does not render, a send
// time in the past and an empty audience (nothing changing), and sends a
// test that arrives. Every page passes axe-core and is photographed at
// desktop and phone width.
func TestComposeAndTestSendInTheBrowser(t *testing.T) {
	const n = 40
	s := testkit.ConsoleBrowser(t, testkit.ConsoleOptions{
		Setup: func(app core.App) { supporters(app, n, `["leeds"]`) },
	})
	s.Login(t, s.Comms)
	s.Visit(t, "/staff/campaigns", http.StatusOK, "campaigns-empty")

	open(t, s, "/staff/campaigns/new")
	fill(t, s, "#f-name", "Spring update")
	fill(t, s, "#f-subject", "Spring news for {{.FirstName}}")
	fill(t, s, "#f-body", "# Spring news\n\nThe new house opened.\n\nDear {{.Firstname}},\n\nThank you.")
	// The count's first answer (on load, no topic yet) must be in before the
	// tick, or it can land after the tick's answer and hide it.
	waitText(t, s, "#count", "Choose a topic", 10*time.Second)
	s.Do(t, "tick the newsletter", chromedp.Click(chromedp.CSS(`.audience input[type=checkbox]`)))
	waitText(t, s, "#preview", "Line 5: there is no field Firstname — did you mean FirstName?", 10*time.Second)
	waitText(t, s, "#count", fmt.Sprintf("%d supporters would receive this now", n), 10*time.Second)
	s.Check(t, "compose-body-error")
	submit(t, s, "#compose button[type=submit]")
	if got := text(t, s, "#f-body-error"); !strings.Contains(got, "Line 5: there is no field Firstname — did you mean FirstName?") || strings.Contains(got, "html:") {
		t.Fatalf("body error %q", got)
	}
	open(t, s, "/staff/campaigns")
	if !strings.Contains(s.Text(t), "No campaigns yet") {
		t.Fatal("a campaign that does not render was saved")
	}

	open(t, s, "/staff/campaigns/new")
	fill(t, s, "#f-name", "Spring update")
	fill(t, s, "#f-subject", "Spring news for {{.FirstName}}")
	fill(t, s, "#f-body", "# Spring news\n\nDear {{.FirstName}},\n\nThe new house opened. [Unsubscribe]({{.UnsubscribeURL}})")
	s.Do(t, "tick the newsletter", chromedp.Click(chromedp.CSS(`.audience input[type=checkbox]`)))
	waitText(t, s, "#preview", "Subject: Spring news for Alex", 10*time.Second)
	s.Do(t, "preview frames", chromedp.WaitVisible(chromedp.CSS(`.frame.phone iframe`)), chromedp.WaitVisible(chromedp.CSS(`.frame.desktop iframe`)))
	fill(t, s, "#f-preview_email", "reader00007@example.org")
	waitText(t, s, "#preview", "Subject: Spring news for Reader7", 10*time.Second)
	s.Check(t, "compose-preview")
	submit(t, s, "#compose button[type=submit]")
	waitText(t, s, ".flash", "Saved as a draft", 5*time.Second)
	s.Check(t, "draft")
	url, err := chromedp.Run(s.Ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	id := url[strings.LastIndex(url, "/")+1:]

	// A test copy arrives, marked, for sample data.
	fill(t, s, "#f-test_addresses", "tester@example.org")
	submit(t, s, `form[action$="/test"] button`)
	waitText(t, s, ".flash", "A test copy is on its way to 1 address", 5*time.Second)
	got := s.SMTP.WaitFor(t, "tester@example.org", 1, 20*time.Second)[0]
	if subj := got.Header.Get("Subject"); subj != "[Test] Spring news for Alex" || !strings.Contains(got.Text, campaigns.TestCopyNote) {
		t.Errorf("test copy: subject %q, text:\n%s", subj, got.Text)
	}

	// A time in the past is refused, on its field, and nothing changes.
	past := time.Now().In(tz.London).Add(-2 * time.Hour)
	fill(t, s, "#f-send_date", past.Format("2006-01-02"))
	fill(t, s, "#f-send_time", past.Format("15:04"))
	submit(t, s, `form[action$="/schedule"] button`)
	if got := text(t, s, "#f-send_time-error"); !strings.Contains(got, "That time has passed") {
		t.Errorf("past time: %q", got)
	}
	s.Check(t, "schedule-in-the-past")
	open(t, s, "/staff/campaigns/"+id)
	if !strings.Contains(s.Text(t), "Status: Draft") {
		t.Fatal("a refused schedule changed the campaign")
	}

	// An audience of no one can't be scheduled.
	open(t, s, "/staff/campaigns/new")
	fill(t, s, "#f-name", "For no one")
	fill(t, s, "#f-subject", "Hello")
	fill(t, s, "#f-body", "Hello {{.FirstName}}")
	s.Do(t, "tick the newsletter", chromedp.Click(chromedp.CSS(`.audience input[type=checkbox]`)))
	fill(t, s, "#f-tags", "york")
	waitText(t, s, "#count", "No one would receive this", 10*time.Second)
	submit(t, s, "#compose button[type=submit]")
	waitText(t, s, ".flash", "Saved as a draft", 5*time.Second)
	future := time.Now().In(tz.London).Add(48 * time.Hour)
	fill(t, s, "#f-send_date", future.Format("2006-01-02"))
	fill(t, s, "#f-send_time", "09:00")
	submit(t, s, `form[action$="/schedule"] button`)
	waitText(t, s, ".audience .error", "No one would receive this", 5*time.Second)

	s.Visit(t, "/staff/campaigns", http.StatusOK, "campaigns")
	if got := s.Text(t); !strings.Contains(got, "Spring update") || !strings.Contains(got, "For no one") || !strings.Contains(got, "Draft") {
		t.Errorf("campaign list:\n%s", got)
	}

}

// A comms officer sends a draft to everyone after a confirmation stating
// the count, pauses and resumes, and watches the counter reach the total
// without a reload; then reads the results and searches the recipients,
// whose CSV only admins may download. The audit trail names who sent,
// paused, resumed and exported.
func TestSendPauseResumeInTheBrowser(t *testing.T) {
	const n = 40
	var id string
	s := testkit.ConsoleBrowser(t, testkit.ConsoleOptions{
		Setup: func(app core.App) {
			supporters(app, n, `["leeds"]`)
			id = draft(app, "Spring update", "Spring news for {{.FirstName}}", "Dear {{.FirstName}}")
		},
		Env: []string{"CRM_SEND_RATE=4"},
	})
	s.Login(t, s.Comms)
	open(t, s, "/staff/campaigns/"+id)
	// Send now: the confirmation states the count; the counter then
	// reaches the total without a reload, across a pause and a resume.
	s.Do(t, "send now", chromedp.Click(chromedp.CSS(`a[href$="/send"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action$="/send"] button`)))
	if got := s.Text(t); !strings.Contains(got, fmt.Sprintf("It goes at once to %d supporters", n)) {
		t.Fatalf("confirmation: %s", got)
	}
	s.Check(t, "confirm-send")
	submit(t, s, `form[action$="/send"] button`)
	s.Do(t, "mark the page", chromedp.WaitVisible(chromedp.CSS("#n-sent")), markPage)
	waitText(t, s, ".progress", "Sending", 15*time.Second)
	submit(t, s, `form[action$="/pause"] button`)
	waitText(t, s, ".alert", "A member of staff paused it", 10*time.Second)
	s.Check(t, "paused")
	submit(t, s, `form[action$="/resume"] button`)
	// The paused page has "Results" too: wait for the resumed page first.
	waitText(t, s, ".progress", "Sending", 15*time.Second)
	s.Do(t, "mark the page", chromedp.WaitVisible(chromedp.CSS("#n-sent")), markPage)
	waitText(t, s, ".progress", fmt.Sprintf("%d of %d done", n, n), 60*time.Second, func() string { return unsent(s.DataDir) })
	waitText(t, s, "#progress-h", "Results", 15*time.Second) // htmx fetched the page once sent
	if ok, _ := chromedp.Run(s.Ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); !ok {
		t.Error("the page was reloaded to show the progress")
	}
	if got := text(t, s, ".progress"); !strings.Contains(got, fmt.Sprintf("%d of %d done", n, n)) || !strings.Contains(got, fmt.Sprintf("Sent\n%d", n)) {
		t.Errorf("results:\n%s", got)
	}
	s.Check(t, "results")
	if len(s.SMTP.To("reader00007@example.org")) != 1 {
		t.Error("a supporter did not get exactly one copy")
	}

	s.Visit(t, "/staff/campaigns/"+id+"/recipients?q=reader00007", http.StatusOK, "recipients")
	if got := s.Text(t); !strings.Contains(got, "reader00007@example.org") || strings.Contains(got, "reader00008@example.org") || strings.Contains(got, "Download these as CSV") {
		t.Errorf("recipients search for comms:\n%s", got)
	}
	if code := fetchStatus(t, s, "/staff/campaigns/"+id+"/recipients.csv"); code != http.StatusForbidden {
		t.Errorf("comms CSV export = %d, want 403", code)
	}

	// Admins export the recipients, and the audit trail names who sent,
	// paused and resumed.
	s.Logout(t)
	s.Login(t, s.Admin)
	open(t, s, "/staff/campaigns/"+id+"/recipients")
	if code := fetchStatus(t, s, "/staff/campaigns/"+id+"/recipients.csv"); code != http.StatusOK {
		t.Errorf("admin CSV export = %d, want 200", code)
	}
	open(t, s, "/staff/audit")
	audit := s.Text(t)
	for _, action := range []string{"campaign.send", "campaign.pause", "campaign.resume", "campaign.export"} {
		if !strings.Contains(audit, action) {
			t.Errorf("no %s in the audit trail:\n%s", action, audit)
		}
	}
}

// markPage sets a flag on the page that a reload would clear.
func markPage(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
	_, err := chromedp.Evaluate[bool](`window.notReloaded = true`)(ctx, tg)
	return chromedp.Void{}, err
}

// The schedule editor says the spec in words with the next five runs as it
// is typed, refuses a spec it can't use (on its field, saving nothing), and
// saves a good one; the events page lists Facebook's and staff's events,
// hides and features them, takes a blurb, and says that Facebook is not set
// up when asked to sync.
func TestSchedulesAndEventsInTheBrowser(t *testing.T) {
	s := testkit.ConsoleBrowser(t, testkit.ConsoleOptions{Setup: func(app core.App) {
		supporters(app, 3, `[]`)
		col, err := app.FindCollectionByNameOrId(vocab.Events)
		if err != nil {
			panic(err)
		}
		ev := core.NewRecord(col)
		ev.Set("name", "Candlelit vigil")
		ev.Set("source", vocab.SourceFacebookPost)
		ev.Set("facebook_id", "1234_5678")
		ev.Set("start", time.Now().Add(72*time.Hour).UTC())
		ev.Set("place", "Cathedral Green")
		if err := app.Save(ev); err != nil {
			panic(err)
		}
	}})
	// Anonymous visitors get the sign-in page for every page and action.
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, r := range []struct{ method, path string }{
		{"GET", "/staff/campaigns"}, {"GET", "/staff/campaigns/new"}, {"POST", "/staff/campaigns/new"},
		{"POST", "/staff/campaigns/preview"}, {"POST", "/staff/campaigns/count"}, {"GET", "/staff/campaigns/x/recipients.csv"},
		{"POST", "/staff/campaigns/x/send"}, {"POST", "/staff/campaigns/x/pause"}, {"GET", "/staff/campaigns/x/progress"},
		{"GET", "/staff/schedules"}, {"POST", "/staff/schedules/new"}, {"GET", "/staff/events"}, {"POST", "/staff/events/sync"},
	} {
		req, _ := http.NewRequest(r.method, s.URL+r.path, strings.NewReader("name=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/staff/login") {
			t.Errorf("anonymous %s %s = %d %s, want the sign-in page", r.method, r.path, res.StatusCode, res.Header.Get("Location"))
		}
	}

	s.Login(t, s.Comms)
	s.Visit(t, "/staff/schedules", http.StatusOK, "schedules-empty")
	s.Visit(t, "/staff/schedules/new", http.StatusOK, "schedule-new")
	waitText(t, s, "#spec-words", "Runs at 09:00 on the 1st of each month, London time.", 5*time.Second)
	fill(t, s, "#f-spec", "30 7 * * 1")
	waitText(t, s, "#spec-words", "Runs at 07:30 every Monday, London time.", 10*time.Second)
	if n, _ := chromedp.Run(s.Ctx, chromedp.Evaluate[int](`document.querySelectorAll("#spec-words li").length`)); n != 5 {
		t.Errorf("%d next runs listed, want 5", n)
	}
	fill(t, s, "#f-name", "Monthly news")
	fill(t, s, "#f-subject", "News for {{.FirstName}}")
	fill(t, s, "#f-body", "Dear {{.FirstName}}")
	s.Do(t, "tick the newsletter", chromedp.Click(chromedp.CSS(`.audience input[type=checkbox]`)))
	fill(t, s, "#f-spec", "61 * * * *")
	waitText(t, s, "#spec-words", "This spec can't be used", 10*time.Second)
	submit(t, s, `form[action$="/schedules/new"] button[type=submit]`)
	if got := text(t, s, "#f-spec-error"); !strings.Contains(got, "This spec can't be used") {
		t.Errorf("bad spec: %q", got)
	}
	s.Check(t, "schedule-bad-spec")
	fill(t, s, "#f-spec", "0 9 1 * *")
	submit(t, s, `form[action$="/schedules/new"] button[type=submit]`)
	waitText(t, s, ".flash", "Saved", 5*time.Second)
	s.Visit(t, "/staff/schedules", http.StatusOK, "schedules")
	if got := s.Text(t); !strings.Contains(got, "Monthly news") || !strings.Contains(got, "at 09:00 on the 1st of each month") {
		t.Errorf("schedule list:\n%s", got)
	}

	s.Visit(t, "/staff/events", http.StatusOK, "events")
	if got := s.Text(t); !strings.Contains(got, "Facebook is not set up") || !strings.Contains(got, "Candlelit vigil") {
		t.Errorf("events page:\n%s", got)
	}
	fill(t, s, "#f-name", "Quiz night")
	fill(t, s, "#f-date", time.Now().In(tz.London).Add(96*time.Hour).Format("2006-01-02"))
	fill(t, s, "#f-time", "19:30")
	fill(t, s, "#f-ticket_url", "not a link")
	submit(t, s, `form[action$="/events/new"] button`)
	if got := text(t, s, "#f-ticket_url-error"); !strings.Contains(got, "https://") {
		t.Errorf("bad ticket link: %q", got)
	}
	fill(t, s, "#f-ticket_url", "https://tickets.example.org/quiz")
	submit(t, s, `form[action$="/events/new"] button`)
	waitText(t, s, ".flash", "Added Quiz night", 5*time.Second)
	s.Do(t, "hide the vigil", chromedp.Click(chromedp.Search(`//tr[contains(., "Candlelit vigil")]//button[@value="hide"]`)), chromedp.WaitReady(chromedp.CSS("main")))
	waitText(t, s, "main table", "hidden", 5*time.Second)
	fill(t, s, `tr:first-child textarea[name=blurb]`, "Bring a friend.")
	submit(t, s, `tr:first-child form.blurb button`)
	waitText(t, s, ".flash", "Saved", 5*time.Second)
	s.Check(t, "events-edited")
	page, err := http.Get(s.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	body, _ := io.ReadAll(page.Body)
	if strings.Contains(string(body), "Candlelit vigil") || !strings.Contains(string(body), "Quiz night") {
		t.Errorf("public events page after hiding the vigil:\n%s", body)
	}
}

// logTail is the end of the server's log, without PocketBase's SQL trace.
func logTail(log string) string {
	var keep []string
	for _, line := range strings.Split(log, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "[") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep[max(0, len(keep)-60):], "\n")
}

// unsent lists the deliveries not sent, read from the server's database.
func unsent(dir string) string {
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dir})
	if err := app.Bootstrap(); err != nil {
		return err.Error()
	}
	defer app.ResetBootstrapState()
	var rows []struct {
		Status   string `db:"status"`
		Attempts int    `db:"attempts"`
		Next     string `db:"next_attempt_at"`
		Error    string `db:"last_error"`
	}
	_ = app.DB().NewQuery("SELECT status, attempts, next_attempt_at, last_error FROM deliveries WHERE status != 'sent'").All(&rows)
	var c struct {
		Status, Lease, Expires string
	}
	_ = app.DB().NewQuery("SELECT status, lease_holder AS lease, lease_expires AS expires FROM campaigns ORDER BY created LIMIT 1").One(&c)
	return fmt.Sprintf("unsent deliveries: %+v\ncampaign: %+v", rows, c)
}
