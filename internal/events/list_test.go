package events_test

import (
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"supportercrm/internal/events"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	_ "supportercrm/pb_migrations"
)

// now is a Wednesday afternoon in winter.
var now = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

func newApp(t *testing.T) *tests.TestApp {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	return app
}

// add saves an event with the fields given.
func add(t *testing.T, app core.App, name string, fields map[string]any) *core.Record {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, app, vocab.Events))
	r.Set("name", name)
	r.Set("source", vocab.SourceFacebookPost)
	for k, v := range fields {
		r.Set(k, v)
	}
	if err := app.Save(r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func names(items []events.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out
}

func TestListShowsWhatThePublicShouldSee(t *testing.T) {
	app := newApp(t)
	day := 24 * time.Hour
	add(t, app, "Carol concert", map[string]any{"start": now.Add(10 * day)})
	add(t, app, "Quiz night", map[string]any{"start": now.Add(3 * day), "end": now.Add(3*day + 3*time.Hour)})
	add(t, app, "Sleep-out", map[string]any{"start": now.Add(3 * day), "featured": true})
	add(t, app, "Trustees' dinner", map[string]any{"start": now.Add(2 * day), "hidden": true})
	add(t, app, "Old fair", map[string]any{"start": now.Add(5 * day), "removed": true})
	add(t, app, "Fun run", map[string]any{"start": now.Add(4 * day), "cancelled": true})
	add(t, app, "Last week's talk", map[string]any{"start": now.Add(-7 * day)})
	add(t, app, "Coffee morning (on now)", map[string]any{"start": now.Add(-time.Hour)})
	add(t, app, "Long workshop (on now)", map[string]any{"start": now.Add(-30 * time.Hour), "end": now.Add(time.Hour)})
	add(t, app, "Open day (all day today)", map[string]any{"start": "2026-11-25 00:00:00.000Z", "date_only": true})
	add(t, app, "Yesterday's stall", map[string]any{"start": "2026-11-24 00:00:00.000Z", "date_only": true})
	add(t, app, "Gala (date from staff)", map[string]any{"staff_start": now.Add(20 * day), "staff_place": "Town Hall"})
	add(t, app, "Spring walk (no date yet)", map[string]any{"posted_at": now.Add(-10 * day)})
	add(t, app, "Ancient announcement", map[string]any{"posted_at": now.Add(-200 * day)})

	l, err := events.List(app, now)
	if err != nil {
		t.Fatal(err)
	}
	wantUpcoming := []string{"Long workshop (on now)", "Open day (all day today)", "Coffee morning (on now)",
		"Sleep-out", "Quiz night", "Fun run", "Carol concert", "Gala (date from staff)"}
	if got := names(l.Upcoming); !slices.Equal(got, wantUpcoming) {
		t.Errorf("upcoming = %q\nwant       %q", got, wantUpcoming)
	}
	if got := names(l.Announced); !slices.Equal(got, []string{"Spring walk (no date yet)"}) {
		t.Errorf("announced = %q", got)
	}
	gala := l.Upcoming[len(l.Upcoming)-1]
	if gala.Place != "Town Hall" || gala.Start.IsZero() {
		t.Errorf("staff date and place not used: %+v", gala)
	}

	next, err := events.Next(app, now, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(next); !slices.Equal(got, wantUpcoming[:3]) {
		t.Errorf("next 3 = %q", got)
	}
	all, _ := events.Next(app, now, 100)
	if slices.Contains(names(all), "Fun run") {
		t.Error("a newsletter would list a cancelled event")
	}
}

func TestWhenIsLondonTime(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name string
		it   events.Item
		want string
	}{
		{"summer, BST", events.Item{Start: at("2026-07-04T17:00:00Z"), End: at("2026-07-04T20:30:00Z")}, "Saturday 4 July 2026, 6pm to 9:30pm"},
		{"winter, GMT", events.Item{Start: at("2026-12-05T18:00:00Z")}, "Saturday 5 December 2026, 6pm"},
		// 25 October 2026: 01:00 to 02:00 happens twice in London.
		{"first 1:30am", events.Item{Start: at("2026-10-25T00:30:00Z")}, "Sunday 25 October 2026, 1:30am BST"},
		{"second 1:30am", events.Item{Start: at("2026-10-25T01:30:00Z")}, "Sunday 25 October 2026, 1:30am GMT"},
		{"overnight across the change", events.Item{Start: at("2026-10-24T18:00:00Z"), End: at("2026-10-25T06:00:00Z")}, "Saturday 24 October 2026, 7pm to Sunday 25 October, 6am"},
		{"March gap", events.Item{Start: at("2027-03-28T01:30:00Z")}, "Sunday 28 March 2027, 2:30am"},
		{"date only", events.Item{Start: at("2026-12-20T00:00:00Z"), DateOnly: true}, "Sunday 20 December 2026"},
		{"no date", events.Item{}, "Date to be announced"},
	} {
		if got := c.it.When(); got != c.want {
			t.Errorf("%s: When() = %q, want %q", c.name, got, c.want)
		}
	}
	if got := (events.Item{Place: "Leeds", Online: true}).Where(); got != "Leeds and online" {
		t.Errorf("Where = %q", got)
	}
}

func TestFuncsReadOncePerCampaign(t *testing.T) {
	app := newApp(t)
	add(t, app, "Quiz night", map[string]any{"start": now.Add(48 * time.Hour)})
	clock := func() time.Time { return now }
	list := events.Funcs(app, clock)["events"].(func(int) ([]events.Item, error))
	first, err := list(5)
	if err != nil || len(first) != 1 {
		t.Fatalf("events 5 = %v, %v", first, err)
	}
	add(t, app, "Carol concert", map[string]any{"start": now.Add(72 * time.Hour)})
	again, _ := list(5)
	if len(again) != 1 {
		t.Errorf("the same campaign saw %d events on its second recipient, want the 1 it started with", len(again))
	}
	fresh, _ := events.Funcs(app, clock)["events"].(func(int) ([]events.Item, error))(5)
	if len(fresh) != 2 {
		t.Errorf("a new campaign sees %d events, want 2", len(fresh))
	}
}
