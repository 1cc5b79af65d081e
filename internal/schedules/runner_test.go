package schedules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"supportercrm/internal/schedules"
	"supportercrm/internal/testkit"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
	_ "supportercrm/pb_migrations"
)

var london = tz.London

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// setup returns an app on a fresh SQLite database with only the schedule
// runner bound, on a clock the test moves.
func setup(t *testing.T, start time.Time) (*tests.TestApp, *schedules.Runner, *clock, *[]string) {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	clk := &clock{now: start}
	var alerts []string
	r := &schedules.Runner{App: app, Now: clk.Now, Alert: func(subject, _ string) { alerts = append(alerts, subject) }}
	r.BindHooks()
	return app, r, clk, &alerts
}

func newSchedule(t *testing.T, app core.App, spec string, autoSend bool) (*core.Record, error) {
	t.Helper()
	topic, err := app.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	col, _ := app.FindCollectionByNameOrId(vocab.Schedules)
	s := core.NewRecord(col)
	s.Set("name", "Monthly news")
	s.Set("enabled", true)
	s.Set("spec", spec)
	s.Set("auto_send", autoSend)
	s.Set("subject", "News from the houses")
	s.Set("body_format", vocab.FormatMarkdown)
	s.Set("body", "Dear {{.FirstName}}, here is our news.")
	s.Set("topics", []string{topic.Id})
	return s, app.Save(s)
}

func campaigns(t *testing.T, app core.App) []*core.Record {
	t.Helper()
	recs, err := app.FindRecordsByFilter(vocab.Campaigns, "", "created", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestMissedRunsHappenOnceOnStart(t *testing.T) {
	app, r, clk, alerts := setup(t, time.Date(2027, 1, 10, 8, 0, 0, 0, london))
	s, err := newSchedule(t, app, "0 9 * * *", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.GetDateTime("next_run_at").Time(); !got.Equal(time.Date(2027, 1, 10, 9, 0, 0, 0, london)) {
		t.Fatalf("next_run_at = %v", got)
	}
	clk.now = time.Date(2027, 1, 15, 12, 0, 0, 0, london) // down for five days
	r.Tick()
	r.Tick()
	got := campaigns(t, app)
	if len(got) != 1 {
		t.Fatalf("campaigns after five missed days = %d, want 1", len(got))
	}
	c := got[0]
	if c.GetString("status") != vocab.CampaignDraft || c.GetString("body") != "Dear {{.FirstName}}, here is our news." || len(c.GetStringSlice("topics")) != 1 {
		t.Errorf("campaign = status %q body %q", c.GetString("status"), c.GetString("body"))
	}
	s, _ = app.FindRecordById(vocab.Schedules, s.Id)
	if next := s.GetDateTime("next_run_at").Time(); !next.Equal(time.Date(2027, 1, 16, 9, 0, 0, 0, london)) {
		t.Errorf("next_run_at after catch-up = %v", next)
	}
	if s.GetString("last_campaign") != c.Id || len(*alerts) != 1 || !strings.Contains((*alerts)[0], "draft") {
		t.Errorf("last_campaign %q, alerts %v", s.GetString("last_campaign"), *alerts)
	}
}

func TestAutoSendSchedulesTheCampaign(t *testing.T) {
	app, r, clk, alerts := setup(t, time.Date(2027, 2, 1, 8, 0, 0, 0, london))
	if _, err := newSchedule(t, app, "@daily", true); err != nil {
		t.Fatal(err)
	}
	clk.now = time.Date(2027, 2, 2, 0, 0, 30, 0, london)
	r.Tick()
	got := campaigns(t, app)
	if len(got) != 1 || got[0].GetString("status") != vocab.CampaignScheduled || !got[0].GetDateTime("send_at").Time().Equal(clk.now) {
		t.Fatalf("campaigns = %d, status %q", len(got), got[0].GetString("status"))
	}
	if len(*alerts) != 0 {
		t.Errorf("alerts for an auto-sent run: %v", *alerts)
	}
}

// tickEveryMinute runs the scheduler once a minute from start to end and
// returns the London dates of the campaigns created.
func tickEveryMinute(t *testing.T, spec string, start, end time.Time) []time.Time {
	app, r, clk, _ := setup(t, start)
	if _, err := newSchedule(t, app, spec, false); err != nil {
		t.Fatal(err)
	}
	var runs []time.Time
	for clk.now = start; clk.now.Before(end); clk.now = clk.now.Add(time.Minute) {
		before := len(campaigns(t, app))
		r.Tick()
		if len(campaigns(t, app)) > before {
			runs = append(runs, clk.now.In(london))
		}
	}
	return runs
}

func TestClockChangesNeitherSkipNorDouble(t *testing.T) {
	spring := tickEveryMinute(t, "30 1 * * *", time.Date(2027, 3, 27, 12, 0, 0, 0, london), time.Date(2027, 3, 29, 12, 0, 0, 0, london))
	if len(spring) != 2 || spring[0].Day() != 28 || spring[0].Format("15:04 MST") != "02:30 BST" || spring[1].Format("02 15:04 MST") != "29 01:30 BST" {
		t.Errorf("runs around 28 March 2027 = %v, want 28th 02:30 BST and 29th 01:30 BST", spring)
	}
	autumn := tickEveryMinute(t, "30 1 * * *", time.Date(2027, 10, 30, 12, 0, 0, 0, london), time.Date(2027, 11, 1, 12, 0, 0, 0, london))
	if len(autumn) != 2 || autumn[0].Format("02 15:04 MST") != "31 01:30 GMT" || autumn[1].Format("02 15:04 MST") != "01 01:30 GMT" {
		t.Errorf("runs around 31 October 2027 = %v, want one on the 31st at 01:30 GMT and one on the 1st", autumn)
	}
}

func TestInvalidSpecsAreRefusedOnSave(t *testing.T) {
	app, _, _, _ := setup(t, time.Date(2027, 1, 1, 0, 0, 0, 0, london))
	for spec, want := range map[string]string{
		"61 * * * *": "end of range (61) above maximum (59)",
		"0 9 * *":    "expected exactly 5 fields",
		"@sometimes": "unrecognized descriptor",
	} {
		_, err := newSchedule(t, app, spec, false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("spec %q: err = %v, want the parser's %q", spec, err, want)
		}
	}
	if n, _ := app.CountRecords(vocab.Schedules); n != 0 {
		t.Errorf("%d schedules saved", n)
	}
}

func TestWhatsOnDigestSkipsWhenNothingIsUpcoming(t *testing.T) {
	app, r, clk, alerts := setup(t, time.Date(2027, 1, 10, 8, 0, 0, 0, london))
	s, err := newSchedule(t, app, "0 9 * * 1", false)
	if err != nil {
		t.Fatal(err)
	}
	s.Set("kind", vocab.ScheduleWhatsOn)
	s.Set("name", "What's on")
	if err := app.Save(s); err != nil {
		t.Fatal(err)
	}
	clk.now = time.Date(2027, 1, 11, 9, 0, 1, 0, london)
	r.Tick()
	if n := len(campaigns(t, app)); n != 0 {
		t.Fatalf("a digest with no upcoming events made %d campaigns", n)
	}
	if len(*alerts) != 1 || !strings.Contains((*alerts)[0], "No \"what's on\"") {
		t.Errorf("alerts = %q", *alerts)
	}
	s, _ = app.FindRecordById(vocab.Schedules, s.Id)
	if !strings.Contains(s.GetString("last_error"), "no upcoming events") ||
		!s.GetDateTime("next_run_at").Time().Equal(time.Date(2027, 1, 18, 9, 0, 0, 0, london)) {
		t.Errorf("after a skipped run: last_error %q, next_run_at %v", s.GetString("last_error"), s.GetDateTime("next_run_at"))
	}

	ev := core.NewRecord(testkit.Collection(t, app, vocab.Events))
	ev.Set("name", "Burns night supper")
	ev.Set("source", vocab.SourceManual)
	ev.Set("start", time.Date(2027, 1, 25, 19, 0, 0, 0, london))
	if err := app.Save(ev); err != nil {
		t.Fatal(err)
	}
	clk.now = time.Date(2027, 1, 18, 9, 0, 1, 0, london)
	r.Tick()
	got := campaigns(t, app)
	if len(got) != 1 {
		t.Fatalf("campaigns = %d, want 1", len(got))
	}
	body := got[0].GetString("body")
	if !strings.HasPrefix(body, "Dear {{.FirstName}}, here is our news.") || !strings.Contains(body, "{{range events ") {
		t.Errorf("digest body = %q", body)
	}
}
