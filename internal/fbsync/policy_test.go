package fbsync_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/fbgraph"
	"supportercrm/internal/fbsync"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../fbgraph/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// clock is a time the test moves.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func TestRateLimitsBackOffAutomaticSyncs(t *testing.T) {
	for _, c := range []struct {
		body string
		wait time.Duration
	}{
		{fixture(t, "error-4-app-limit.json"), 15 * time.Minute},
		{fixture(t, "error-613-hourly.json"), time.Hour}, // the hourly limit: an hour at least
	} {
		body := c.body
		app, g, s := setup(t, fbsync.Posts)
		clk := &clock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
		s.Now = clk.Now
		g.Set("posts", "["+testkit.EventPost("111", "Sleep-Out", "2026-11-21T16:40:05+0000")+"]", "["+testkit.EventPost("222", "Quiz", "2026-11-21T16:40:05+0000")+"]")
		g.Fail("posts", 1, 400, body)

		res, err := s.Run(context.Background(), fbsync.TriggerCron)
		var ge *fbgraph.Error
		if !errors.As(err, &ge) || ge.Kind != fbgraph.RateLimited || res.Created != 1 {
			t.Fatalf("rate-limited sync = %+v, %v", res, err)
		}
		// The first page's event is kept; nothing is marked removed.
		event(t, app, "111")

		g.Heal()
		asked := g.Requests()
		clk.now = clk.now.Add(c.wait - time.Minute)
		if _, err := s.Run(context.Background(), fbsync.TriggerCron); !errors.Is(err, fbsync.ErrBackingOff) {
			t.Fatalf("cron sync %v after a rate limit: %v, want ErrBackingOff", c.wait-time.Minute, err)
		}
		if _, err := s.Run(context.Background(), fbsync.TriggerWebhook); !errors.Is(err, fbsync.ErrBackingOff) {
			t.Fatalf("webhook sync during backoff: %v, want ErrBackingOff", err)
		}
		if g.Requests() != asked {
			t.Fatal("a backing-off sync called Facebook")
		}
		clk.now = clk.now.Add(time.Minute) // the first backoff is over
		res, err = s.Run(context.Background(), fbsync.TriggerCron)
		if err != nil || res.Created != 1 || res.Fetched != 2 {
			t.Fatalf("sync after the backoff = %+v, %v", res, err)
		}
		event(t, app, "222")
	}
}

func TestRepeatedRateLimitsWaitLonger(t *testing.T) {
	for name, c := range map[string]struct {
		fixture string
		waits   []time.Duration
	}{
		"app limit (4)":      {"error-4-app-limit.json", []time.Duration{15 * time.Minute, 30 * time.Minute, 60 * time.Minute}},
		"hourly limit (613)": {"error-613-hourly.json", []time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour}},
	} {
		t.Run(name, func(t *testing.T) {
			_, g, s := setup(t, fbsync.Posts)
			clk := &clock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
			s.Now = clk.Now
			g.Fail("posts", 0, 400, fixture(t, c.fixture))
			for _, wait := range c.waits {
				if _, err := s.Run(context.Background(), fbsync.TriggerCron); errors.Is(err, fbsync.ErrBackingOff) || err == nil {
					t.Fatalf("expected a rate-limit error, got %v", err)
				}
				clk.now = clk.now.Add(wait - time.Second)
				if _, err := s.Run(context.Background(), fbsync.TriggerCron); !errors.Is(err, fbsync.ErrBackingOff) {
					t.Fatalf("%v after the limit: %v, want still backing off", wait-time.Second, err)
				}
				clk.now = clk.now.Add(time.Second)
			}
		})
	}
}

func TestExpiredTokenStopsAutomaticSyncsAndAlertsOnce(t *testing.T) {
	_, g, s := setup(t, fbsync.Posts)
	var alerts []string
	s.Alert = func(subject, text string) { alerts = append(alerts, subject+"\n"+text) }
	g.Set("posts", "["+testkit.EventPost("111", "Sleep-Out", "2026-11-21T16:40:05+0000")+"]")
	g.Fail("posts", 0, 400, fixture(t, "error-190-expired.json"))
	if _, err := s.Run(context.Background(), fbsync.TriggerCron); err == nil {
		t.Fatal("sync with an expired token succeeded")
	}
	if _, err := s.Run(context.Background(), fbsync.TriggerCron); !errors.Is(err, fbsync.ErrBackingOff) {
		t.Fatalf("second automatic sync: %v, want stopped", err)
	}
	if _, err := s.Run(context.Background(), fbsync.TriggerCLI); err == nil || errors.Is(err, fbsync.ErrBackingOff) {
		t.Fatalf("a manual sync must still try (and fail): %v", err)
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0], "FACEBOOK_ACCESS_TOKEN") || strings.Contains(alerts[0], "page-token") {
		t.Fatalf("alerts = %q", alerts)
	}
	// A new token (here: Facebook accepting again) and a manual run resume it.
	g.Heal()
	if _, err := s.Run(context.Background(), fbsync.TriggerAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), fbsync.TriggerCron); err != nil {
		t.Fatalf("automatic sync after recovery: %v", err)
	}
}

func TestRestrictedEventsEdgeSaysWhatToDo(t *testing.T) {
	app, g, s := setup(t, fbsync.Events)
	var alerts []string
	s.Alert = func(subject, text string) { alerts = append(alerts, text) }
	g.Fail("events", 0, 400, fixture(t, "error-100-33-events-restricted.json"))
	_, err := s.Run(context.Background(), fbsync.TriggerCron)
	if err == nil || !strings.Contains(err.Error(), "FACEBOOK_SOURCE=posts") || !strings.Contains(err.Error(), "Marketing Partners") {
		t.Fatalf("error = %v", err)
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0], "FACEBOOK_SOURCE=posts") {
		t.Errorf("alerts = %q", alerts)
	}
	runs, _ := app.FindRecordsByFilter(vocab.SyncRuns, "", "-started", 1, 0)
	if !strings.Contains(runs[0].GetString("error"), "not permitted") {
		t.Errorf("run error = %q", runs[0].GetString("error"))
	}
}

func TestServerErrorThenSuccessAndMalformedJSON(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	g.Set("posts", "["+testkit.EventPost("111", "Sleep-Out", "2026-11-21T16:40:05+0000")+"]")
	// Two 500s, then success: the client's retries (1 ms backoff) see it through.
	g.FailTimes("posts", 0, 2, 500, `{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2,"is_transient":true}}`)
	res, err := s.Run(context.Background(), fbsync.TriggerCron)
	if err != nil || res.Created != 1 || g.Requests() != 3 {
		t.Fatalf("after two 500s: %+v, %v, %d requests", res, err, g.Requests())
	}

	g.Set("posts", `[{"id": "broken", "created_time": 12}]`)
	res, err = s.Run(context.Background(), fbsync.TriggerCron)
	var ge *fbgraph.Error
	if !errors.As(err, &ge) || ge.Kind != fbgraph.Malformed || res.Removed != 0 {
		t.Fatalf("malformed page = %+v, %v", res, err)
	}
	if event(t, app, "111").GetBool("removed") {
		t.Error("a malformed response marked an event removed")
	}
}

func TestHugeDescriptionAndEmoji(t *testing.T) {
	app, g, s := setup(t, fbsync.Events)
	desc := strings.Repeat("Safe homes 🏠 für alle — ", 1<<20/30)
	g.Set("events", `[{"id":"555","name":"Bake sale 🍰","description":"`+desc+`","start_time":"2026-12-12T10:00:00+0000","updated_time":"2026-11-23T08:00:00+0000"}]`)
	if _, err := s.Run(context.Background(), fbsync.TriggerCLI); err != nil {
		t.Fatal(err)
	}
	e := event(t, app, "555")
	if e.GetString("name") != "Bake sale 🍰" || e.GetString("description") != desc {
		t.Errorf("stored name %q, description of %d bytes (want %d)", e.GetString("name"), len(e.GetString("description")), len(desc))
	}
}

func TestMultiDateEventShowsItsNextDate(t *testing.T) {
	app, g, s := setup(t, fbsync.Events)
	s.Now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	g.Set("events", `[{"id":"666","name":"Open house","start_time":"2026-11-01T10:00:00+0000","updated_time":"2026-11-23T08:00:00+0000",
		"event_times":[{"id":"3","start_time":"2026-12-20T10:00:00+0000","end_time":"2026-12-20T12:00:00+0000"},
		{"id":"1","start_time":"2026-11-01T10:00:00+0000","end_time":"2026-11-01T12:00:00+0000"},
		{"id":"2","start_time":"2026-12-06T10:00:00+0000","end_time":"2026-12-06T12:00:00+0000"}]}]`)
	if _, err := s.Run(context.Background(), fbsync.TriggerCLI); err != nil {
		t.Fatal(err)
	}
	if got := event(t, app, "666").GetDateTime("start").Time(); !got.Equal(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("start = %v, want the next date, 6 December", got)
	}
}

func TestARunInAnotherProcessMakesThisOneSkip(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	g.Set("posts", "["+testkit.EventPost("111", "Sleep-Out", "2026-11-21T16:40:05+0000")+"]")
	other := testkit.Collection(t, app, vocab.SyncRuns)
	run := core.NewRecord(other)
	run.Set("trigger", "cli")
	run.Set("started", testNow.Add(-time.Minute))
	if err := app.Save(run); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), fbsync.TriggerCron); !errors.Is(err, fbsync.ErrBusy) {
		t.Fatalf("sync beside a running one: %v, want ErrBusy", err)
	}
	run.Set("started", testNow.Add(-time.Hour)) // that process died long ago
	if err := app.Save(run); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), fbsync.TriggerCron); err != nil {
		t.Fatalf("sync after a stale run: %v", err)
	}
}

func TestPostTimeIsKept(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	g.Set("posts", "["+testkit.EventPost("111", "Sleep-Out", "2026-11-21T16:40:05+0000")+"]")
	if _, err := s.Run(context.Background(), fbsync.TriggerCLI); err != nil {
		t.Fatal(err)
	}
	if got := event(t, app, "111").GetDateTime("posted_at").Time(); !got.Equal(testkit.PostTime) {
		t.Errorf("posted_at = %v", got)
	}
}
