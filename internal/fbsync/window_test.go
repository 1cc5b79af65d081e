package fbsync_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/fbgraph"
	"supportercrm/internal/fbsync"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

const day = 24 * time.Hour

// feed is pages of n event posts each, published at the given time, with
// ids from first.
func feed(pages, n, first int, posted time.Time) []string {
	out := make([]string, pages)
	for p := range out {
		posts := make([]string, n)
		for i := range posts {
			id := strconv.Itoa(first + p*n + i)
			posts[i] = testkit.EventPostAt(id, "Event "+id, posted, testkit.GraphTime(posted))
		}
		out[p] = "[" + strings.Join(posts, ",") + "]"
	}
	return out
}

// The posts source asks only for the last year's posts (since, in Unix
// seconds, on every page): a feed far longer than the page cap before the
// window is never fetched, and the sync completes.
func TestPostsSourceReadsOnlyItsWindow(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	recent := feed(2, 3, 100, testNow.Add(-30*day))
	old := feed(60, 100, 10000, testNow.Add(-400*day)) // 6,000 posts: 60 pages, over the cap of 50
	g.Set("posts", append(recent, old...)...)
	res, err := s.Sync(context.Background(), "test")
	if err != nil || res.Fetched != 6 || res.Created != 6 {
		t.Fatalf("sync = %+v, %v", res, err)
	}
	wantSince := strconv.FormatInt(testNow.Add(-fbsync.DefaultPostsWindow).Unix(), 10)
	queries := g.Queries()
	if len(queries) != 2 {
		t.Fatalf("%d requests, want the window's 2 pages", len(queries))
	}
	for i, q := range queries {
		if q.Get("since") != wantSince {
			t.Errorf("request %d: since %q, want %q (a year before now)", i+1, q.Get("since"), wantSince)
		}
	}
	if n, _ := app.CountRecords(vocab.Events); n != 6 {
		t.Errorf("%d events stored, want the window's 6", n)
	}

	// A shorter window asks from later.
	s.PostsWindow = 90 * day
	if _, err := s.Sync(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	if q := g.Queries()[2]; q.Get("since") != strconv.FormatInt(testNow.Add(-90*day).Unix(), 10) {
		t.Errorf("90-day window: since %q", q.Get("since"))
	}
}

// The window is the complete set: an event posted in it and gone from the
// feed is marked removed; one posted before it is left as it is, whether
// or not Facebook still has it.
func TestOnlyEventsPostedInTheWindowAreMarkedRemoved(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	clk := &clock{now: testNow}
	s.Now = clk.Now
	first := []string{"[" + strings.Join([]string{
		testkit.EventPostAt("501", "Spring walk", testNow.Add(-20*day), "2026-11-10T10:00:00+0000"),
		testkit.EventPostAt("502", "Quiz night", testNow.Add(-10*day), "2026-11-20T10:00:00+0000"),
		testkit.EventPostAt("503", "Gala", testNow.Add(-5*day), "2026-11-25T10:00:00+0000"),
		testkit.EventPostAt("504", "Open day", testNow.Add(-60*day), "2026-10-01T10:00:00+0000"),
	}, ",") + "]"}
	g.Set("posts", first...)
	if res, err := s.Sync(context.Background(), "test"); err != nil || res.Created != 4 {
		t.Fatalf("first sync = %+v, %v", res, err)
	}

	// Eleven months and a half on: 504 (posted 60 days earlier) and 501 (20)
	// are outside the year; 502 and 503 inside. Facebook deleted 501 and 503;
	// 502 and 504 are still on the Page.
	clk.now = testNow.Add(350 * day)
	g.Set("posts", "["+strings.Join([]string{
		testkit.EventPostAt("502", "Quiz night", testNow.Add(-10*day), "2026-11-20T10:00:00+0000"),
		testkit.EventPostAt("504", "Open day", testNow.Add(-60*day), "2026-10-01T10:00:00+0000"),
	}, ",")+"]")
	res, err := s.Sync(context.Background(), "test")
	if err != nil || res.Fetched != 1 || res.Removed != 1 {
		t.Fatalf("sync a year on = %+v, %v; want 502 fetched and 503 removed", res, err)
	}
	for id, removed := range map[string]bool{"501": false, "502": false, "503": true, "504": false} {
		if got := event(t, app, id).GetBool("removed"); got != removed {
			t.Errorf("event %s: removed %v, want %v", id, got, removed)
		}
	}
}

// Reaching the page cap inside the window is an error that says so, and
// marks nothing removed; what was read is kept.
func TestPageCapInsideTheWindowMarksNothingRemoved(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	g.Set("posts", "["+testkit.EventPostAt("601", "Carols", testNow.Add(-3*day), "2026-11-27T10:00:00+0000")+"]")
	if _, err := s.Sync(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	client, err := fbgraph.New(fbgraph.Config{BaseURL: g.URL, PageID: testkit.GraphPageID, Token: "page-token", Backoff: time.Millisecond, MaxPages: 5})
	if err != nil {
		t.Fatal(err)
	}
	s.Graph = client
	g.Set("posts", feed(8, 2, 700, testNow.Add(-2*day))...) // 601 is gone, and the window holds 8 pages
	res, err := s.Sync(context.Background(), "test")
	var ge *fbgraph.Error
	if !errors.As(err, &ge) || ge.Kind != fbgraph.Capped || res.Removed != 0 || res.Created != 10 {
		t.Fatalf("sync past the cap = %+v, %v", res, err)
	}
	if event(t, app, "601").GetBool("removed") {
		t.Error("a capped fetch marked an event removed")
	}
	runs, _ := app.FindRecordsByFilter(vocab.SyncRuns, "", "-started", 1, 0)
	msg := runs[0].GetString("error")
	if !strings.Contains(msg, "stopped after 5 pages") || !strings.Contains(msg, "since 30 November 2025") || !strings.Contains(msg, "nothing was marked removed") {
		t.Errorf("run error = %q", msg)
	}
}

// Switching FACEBOOK_SOURCE: an event the new source returns becomes that
// source's (rewritten from it at once, keeping what only the other source
// carries), and removal then covers every Facebook event, whichever source
// wrote it. Going to the events edge, an announcement it doesn't list (here
// a post keyed by its own id) is marked removed; going back to posts, an
// event no post in the window announced has no post time and is left.
func TestSwitchingSourceMovesEventsToTheNewSource(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	bare := fmt.Sprintf(`{"id":"%s_77","created_time":"%s","updated_time":"%s","message":"Bake sale\nSaturday","status_type":"created_event"}`,
		testkit.GraphPageID, testkit.GraphTime(testNow.Add(-4*day)), testkit.GraphTime(testNow.Add(-4*day)))
	g.Set("posts", "["+testkit.EventPostAt("801", "Sleep-out", testNow.Add(-8*day), "2026-11-28T10:00:00+0000")+","+bare+"]")
	if res, err := s.Sync(context.Background(), "test"); err != nil || res.Created != 2 {
		t.Fatalf("posts sync = %+v, %v", res, err)
	}
	bareID := testkit.GraphPageID + "_77"

	// To the events edge. Its updated_time for 801 is older than the post's:
	// the event is rewritten anyway, as the events edge's.
	s.Source = fbsync.Events
	g.Set("events", `[{"id":"801","name":"Winter Sleep-out","start_time":"2026-12-05T18:00:00+0000","timezone":"Europe/London","place":{"name":"St Mary's Church Hall"},"updated_time":"2026-11-02T10:15:44+0000"},
		{"id":"802","name":"Briefing","start_time":"2027-01-20T19:30:00+0000","updated_time":"2026-11-02T10:15:44+0000"}]`)
	res, err := s.Sync(context.Background(), "test")
	if err != nil || res.Created != 1 || res.Updated != 1 || res.Removed != 1 {
		t.Fatalf("first events sync = %+v, %v; want 802 created, 801 moved, the bare post removed", res, err)
	}
	e := event(t, app, "801")
	if e.GetString("source") != vocab.SourceFacebookEvent || e.GetString("place") != "St Mary's Church Hall" || e.GetDateTime("start").IsZero() ||
		e.GetString("name") != "Winter Sleep-out" || e.GetDateTime("posted_at").IsZero() {
		t.Errorf("801 after the switch to events: %v", e.FieldsData())
	}
	if !event(t, app, bareID).GetBool("removed") {
		t.Error("an announcement the events edge doesn't list was kept after the switch")
	}
	if res, err := s.Sync(context.Background(), "test"); err != nil || res.Created+res.Updated+res.Removed != 0 {
		t.Fatalf("second events sync = %+v, %v; want no writes", res, err)
	}

	// Back to posts, with both posts still on the Page: 801 moves back, and
	// the bare announcement is listed again.
	s.Source = fbsync.Posts
	res, err = s.Sync(context.Background(), "test")
	if err != nil || res.Updated != 2 || res.Removed != 0 || event(t, app, bareID).GetBool("removed") {
		t.Fatalf("back to posts = %+v, %v", res, err)
	}
	e = event(t, app, "801")
	if e.GetString("source") != vocab.SourceFacebookPost || e.GetString("place") != "St Mary's Church Hall" || e.GetDateTime("start").IsZero() {
		t.Errorf("801 back under posts: %v", e.FieldsData())
	}
	if b := event(t, app, "802"); b.GetBool("removed") || b.GetString("source") != vocab.SourceFacebookEvent {
		t.Errorf("802, which no post announced: removed %v, source %q", b.GetBool("removed"), b.GetString("source"))
	}
	// 801's post leaves the Page: the posts source now marks it removed.
	g.Set("posts", "["+bare+"]")
	if res, err := s.Sync(context.Background(), "test"); err != nil || res.Removed != 1 || !event(t, app, "801").GetBool("removed") {
		t.Fatalf("801 gone from the posts = %+v, %v", res, err)
	}
}
