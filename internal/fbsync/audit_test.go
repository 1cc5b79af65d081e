package fbsync_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/events"
	"supportercrm/internal/fbsync"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// writeCounter counts every record created, updated or deleted, by collection.
type writeCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func countWrites(app core.App) *writeCounter {
	w := &writeCounter{n: map[string]int{}}
	count := func(e *core.ModelEvent) error {
		name := "other"
		if r, ok := e.Model.(*core.Record); ok {
			name = r.Collection().Name
		}
		w.mu.Lock()
		w.n[name]++
		w.mu.Unlock()
		return e.Next()
	}
	app.OnModelAfterCreateSuccess().BindFunc(count)
	app.OnModelAfterUpdateSuccess().BindFunc(count)
	app.OnModelAfterDeleteSuccess().BindFunc(count)
	return w
}

func (w *writeCounter) take() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.n
	w.n = map[string]int{}
	return n
}

// A second sync with nothing changed on Facebook writes no event: its only
// writes are its own sync_runs row (created, then finished).
func TestUnchangedSyncWritesNothingButItsRun(t *testing.T) {
	for _, source := range []fbsync.Source{fbsync.Posts, fbsync.Events} {
		t.Run(string(source), func(t *testing.T) {
			app, g, s := setup(t, source)
			if source == fbsync.Posts {
				g.Set("posts", fixtureData(t, "posts-page1.json"), fixtureData(t, "posts-page2.json"))
			} else {
				g.Set("events", fixtureData(t, "events-page1.json"), fixtureData(t, "events-page2.json"))
			}
			writes := countWrites(app)
			if res, err := s.Run(context.Background(), fbsync.TriggerCLI); err != nil || res.Created == 0 {
				t.Fatalf("first sync = %+v, %v", res, err)
			}
			if n := writes.take(); n[vocab.Events] == 0 {
				t.Fatalf("the first sync wrote no events: %v", n)
			}
			res, err := s.Run(context.Background(), fbsync.TriggerCron)
			if err != nil || res.Fetched == 0 || res.Created+res.Updated+res.Removed != 0 {
				t.Fatalf("second sync = %+v, %v", res, err)
			}
			if n := writes.take(); len(n) != 1 || n[vocab.SyncRuns] != 2 {
				t.Errorf("an unchanged sync wrote %v; want only its sync_runs row (2 writes)", n)
			}
		})
	}
}

// An event that runs over the night the clocks go back is stored in UTC
// and read in London time on each side of the change.
func TestEventAcrossTheOctoberClockChange(t *testing.T) {
	app, g, s := setup(t, fbsync.Events)
	s.Now = func() time.Time { return time.Date(2026, 10, 20, 12, 0, 0, 0, time.UTC) }
	g.Set("events", `[
		{"id":"801","name":"Sleep-out","start_time":"2026-10-24T19:00:00+0100","end_time":"2026-10-25T07:00:00+0000","timezone":"Europe/London","updated_time":"2026-10-01T09:00:00+0000"},
		{"id":"802","name":"Night walk","start_time":"2026-10-25T01:30:00+0100","end_time":"2026-10-25T01:30:00+0000","timezone":"Europe/London","updated_time":"2026-10-01T09:00:00+0000"}]`)
	if _, err := s.Run(context.Background(), fbsync.TriggerCLI); err != nil {
		t.Fatal(err)
	}
	walk := event(t, app, "802")
	if start, end := walk.GetDateTime("start").Time(), walk.GetDateTime("end").Time(); !start.Equal(time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)) ||
		!end.Equal(time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)) {
		t.Errorf("night walk stored as %v to %v", start, end)
	}
	l, err := events.List(app, s.Now())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range l.Upcoming {
		got = append(got, it.Name+": "+it.When())
	}
	want := []string{
		"Sleep-out: Saturday 24 October 2026, 7pm to Sunday 25 October, 7am",
		"Night walk: Sunday 25 October 2026, 1:30am BST to 1:30am GMT",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("upcoming:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Values the events collection would refuse (a ticket "link" that is not a
// URL, an over-long description or time zone) are fitted, not allowed to
// fail the batch; an event without an id is skipped.
func TestOddValuesDoNotFailTheBatch(t *testing.T) {
	app, g, s := setup(t, fbsync.Events)
	long := strings.Repeat("a", 2<<20+500)
	g.Set("events", `[
		{"id":"901","name":"Quiz","ticket_uri":"Tickets at the door","cover":{"source":"javascript:alert(1)"},"timezone":"`+strings.Repeat("Z", 80)+`",
		 "description":"`+long+`","start_time":"2026-12-01T19:00:00+0000","updated_time":"2026-11-01T09:00:00+0000"},
		{"id":"","name":"No id","start_time":"2026-12-02T19:00:00+0000","updated_time":"2026-11-01T09:00:00+0000"},
		{"id":"902","name":"Carols","ticket_uri":"https://tickets.example.org/carols","start_time":"2026-12-03T19:00:00+0000","updated_time":"2026-11-01T09:00:00+0000"}]`)
	res, err := s.Run(context.Background(), fbsync.TriggerCLI)
	if err != nil || res.Created != 2 || res.Fetched != 2 {
		t.Fatalf("sync = %+v, %v", res, err)
	}
	quiz := event(t, app, "901")
	if quiz.GetString("ticket_url") != "" || quiz.GetString("cover_url") != "" || utf8.RuneCountInString(quiz.GetString("description")) != 2<<20 ||
		quiz.GetString("facebook_url") != "https://www.facebook.com/events/901/" {
		t.Errorf("quiz: ticket %q, cover %q, description of %d characters", quiz.GetString("ticket_url"), quiz.GetString("cover_url"), len(quiz.GetString("description")))
	}
	if event(t, app, "902").GetString("ticket_url") != "https://tickets.example.org/carols" {
		t.Error("a good ticket link was dropped")
	}
	if n, _ := app.CountRecords(vocab.Events); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}

// A batch that fails is rolled back whole, and the run's counts say so.
func TestFailedBatchCountsNothing(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	g.Set("posts", "["+testkit.EventPost("111", "Sleep-Out", "2026-11-21T16:40:05+0000")+","+testkit.EventPost("999", "Broken", "2026-11-21T16:40:05+0000")+"]")
	app.OnRecordCreate(vocab.Events).BindFunc(func(e *core.RecordEvent) error {
		if e.Record.GetString("facebook_id") == "999" {
			return errors.New("disk full")
		}
		return e.Next()
	})
	res, err := s.Run(context.Background(), fbsync.TriggerCLI)
	if err == nil || !strings.Contains(err.Error(), "disk full") || res.Created != 0 || res.Fetched != 2 {
		t.Fatalf("sync = %+v, %v; want the error and nothing created", res, err)
	}
	if n, _ := app.CountRecords(vocab.Events); n != 0 {
		t.Errorf("%d events stored from a rolled-back batch", n)
	}
	runs, _ := app.FindRecordsByFilter(vocab.SyncRuns, "", "-started", 1, 0)
	if runs[0].GetInt("created_count") != 0 || !strings.Contains(runs[0].GetString("error"), "disk full") {
		t.Errorf("run: created %d, error %q", runs[0].GetInt("created_count"), runs[0].GetString("error"))
	}
}
