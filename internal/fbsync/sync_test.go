package fbsync_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"supportercrm/internal/fbgraph"
	"supportercrm/internal/fbsync"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	_ "supportercrm/pb_migrations"
)

func setup(t *testing.T, source fbsync.Source) (*tests.TestApp, *testkit.Graph, *fbsync.Syncer) {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	g := testkit.NewGraph(t)
	client, err := fbgraph.New(fbgraph.Config{BaseURL: g.URL, PageID: testkit.GraphPageID, Token: "page-token", Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return app, g, &fbsync.Syncer{App: app, Graph: client, Source: source, Now: func() time.Time { return testNow }}
}

// testNow is the syncs' clock: the documented fixtures' posts (November
// 2026) stay inside the posts window whenever the tests run.
var testNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func event(t *testing.T, app core.App, fbID string) *core.Record {
	t.Helper()
	r, err := app.FindFirstRecordByData(vocab.Events, "facebook_id", fbID)
	if err != nil {
		t.Fatalf("event %s: %v", fbID, err)
	}
	return r
}

func TestPostsSyncKeepsEventPostsAndIsIdempotent(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	g.Set("posts",
		"["+testkit.EventPost("111", "Winter Sleep-Out", "2026-11-21T16:40:05+0000")+","+testkit.OrdinaryPost+"]",
		"["+testkit.EventPost("222", "Carol concert", "2026-11-22T10:00:00+0000")+"]")
	res, err := s.Sync(context.Background(), "test")
	if err != nil || res.Fetched != 2 || res.Created != 2 {
		t.Fatalf("first sync = %+v, %v", res, err)
	}
	e := event(t, app, "111")
	if e.GetString("name") != "Winter Sleep-Out" || e.GetString("source") != vocab.SourceFacebookPost ||
		e.GetString("cover_url") != "https://scontent.example.net/111.jpg" || !strings.Contains(e.GetString("description"), "🏠") {
		t.Errorf("event = %v", e.FieldsData())
	}
	before := e.GetDateTime("updated")
	time.Sleep(5 * time.Millisecond)
	res, err = s.Sync(context.Background(), "test")
	if err != nil || res.Created != 0 || res.Updated != 0 || res.Removed != 0 {
		t.Fatalf("second sync = %+v, %v; want no writes", res, err)
	}
	if !event(t, app, "111").GetDateTime("updated").Equal(before) {
		t.Error("an unchanged event was rewritten")
	}
	runs, _ := app.FindRecordsByFilter(vocab.SyncRuns, "", "started", 0, 0)
	if len(runs) != 2 || runs[0].GetInt("created_count") != 2 || runs[1].GetInt("fetched") != 2 || runs[1].GetDateTime("finished").IsZero() {
		t.Errorf("sync_runs = %d", len(runs))
	}
}

func TestUpdatesKeepStaffFieldsAndRemovalsAreMarked(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	g.Set("posts", "["+testkit.EventPost("111", "Sleep-Out", "2026-11-21T16:40:05+0000")+","+testkit.EventPost("222", "Quiz night", "2026-11-21T16:40:05+0000")+"]")
	if _, err := s.Sync(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	e := event(t, app, "111")
	e.Set("hidden", true)
	e.Set("blurb", "Bring a sleeping bag")
	e.Set("staff_place", "St Mary's Church Hall, Leeds")
	if err := app.Save(e); err != nil {
		t.Fatal(err)
	}
	// Facebook edits the first post; the second leaves the feed.
	g.Set("posts", "["+testkit.EventPost("111", "Winter Sleep-Out (new date)", "2026-11-23T08:00:00+0000")+"]")
	res, err := s.Sync(context.Background(), "test")
	if err != nil || res.Updated != 1 || res.Removed != 1 {
		t.Fatalf("sync = %+v, %v", res, err)
	}
	e = event(t, app, "111")
	if e.GetString("name") != "Winter Sleep-Out (new date)" || !e.GetBool("hidden") || e.GetString("blurb") != "Bring a sleeping bag" || e.GetString("staff_place") == "" {
		t.Errorf("after update: %v", e.FieldsData())
	}
	if gone := event(t, app, "222"); !gone.GetBool("removed") {
		t.Error("the event gone from the feed is not marked removed")
	}
	// It comes back: no longer removed.
	g.Set("posts", "["+testkit.EventPost("111", "Winter Sleep-Out (new date)", "2026-11-23T08:00:00+0000")+","+testkit.EventPost("222", "Quiz night", "2026-11-21T16:40:05+0000")+"]")
	if _, err := s.Sync(context.Background(), "test"); err != nil || event(t, app, "222").GetBool("removed") {
		t.Fatalf("reappeared event still removed (%v)", err)
	}
}

func TestExpiredTokenMidFetchLosesNothing(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	g.Set("posts", "["+testkit.EventPost("111", "Sleep-Out", "2026-11-21T16:40:05+0000")+"]", "["+testkit.EventPost("222", "Quiz", "2026-11-21T16:40:05+0000")+"]")
	if _, err := s.Sync(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	g.Fail("posts", 1, 400, `{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"X"}}`)
	res, err := s.Sync(context.Background(), "test")
	var ge *fbgraph.Error
	if !errors.As(err, &ge) || ge.Kind != fbgraph.TokenInvalid || res.Removed != 0 {
		t.Fatalf("sync with an expired token = %+v, %v", res, err)
	}
	if event(t, app, "222").GetBool("removed") {
		t.Error("an incomplete fetch marked an event removed")
	}
	runs, _ := app.FindRecordsByFilter(vocab.SyncRuns, "", "-started", 1, 0)
	if !strings.Contains(runs[0].GetString("error"), "token invalid") || strings.Contains(runs[0].GetString("error"), "page-token") {
		t.Errorf("run error = %q", runs[0].GetString("error"))
	}
}

func TestEventsEdgeAndManualEvents(t *testing.T) {
	app, g, s := setup(t, fbsync.Events)
	manual := core.NewRecord(testkit.Collection(t, app, vocab.Events))
	manual.Set("name", "Coffee morning")
	manual.Set("source", vocab.SourceManual)
	if err := app.Save(manual); err != nil {
		t.Fatal(err)
	}
	g.Set("events", `[{"id":"333","name":"Carols","start_time":"2026-12-20","is_canceled":true,"timezone":"Europe/London","updated_time":"2026-11-23T08:00:00+0000","place":{"name":"St Mary's Church"}},
		{"id":"444","name":"Briefing","start_time":"2027-01-20T19:30:00+0000","end_time":"2027-01-20T20:15:00+0000","is_online":true,"online_event_third_party_url":"https://meet.example.org/b","updated_time":"2026-12-01T09:00:00+0000"}]`)
	res, err := s.Sync(context.Background(), "test")
	if err != nil || res.Created != 2 || res.Removed != 0 {
		t.Fatalf("sync = %+v, %v", res, err)
	}
	carols, briefing := event(t, app, "333"), event(t, app, "444")
	if !carols.GetBool("cancelled") || !carols.GetBool("date_only") || carols.GetString("place") != "St Mary's Church" || carols.GetString("source") != vocab.SourceFacebookEvent {
		t.Errorf("carols = %v", carols.FieldsData())
	}
	if !briefing.GetBool("online") || briefing.GetString("ticket_url") != "https://meet.example.org/b" ||
		!briefing.GetDateTime("end").Time().Equal(time.Date(2027, 1, 20, 20, 15, 0, 0, time.UTC)) {
		t.Errorf("briefing = %v", briefing.FieldsData())
	}
	if m, _ := app.FindRecordById(vocab.Events, manual.Id); m.GetBool("removed") || m.GetString("name") != "Coffee morning" {
		t.Error("the sync touched an event entered by staff")
	}
}

func TestOneSyncAtATime(t *testing.T) {
	_, g, s := setup(t, fbsync.Posts)
	g.Set("posts", "["+testkit.EventPost("111", "Sleep-Out", "2026-11-21T16:40:05+0000")+"]")
	held, release := g.Hold()
	first := make(chan error, 1)
	go func() { _, err := s.Sync(context.Background(), "cron"); first <- err }()
	<-held // the first sync holds the lock and waits on the fake API
	if _, err := s.Sync(context.Background(), "webhook"); !errors.Is(err, fbsync.ErrBusy) {
		t.Errorf("second concurrent sync: %v, want ErrBusy", err)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

// Anonymous API callers see only the events the public page would show.
func TestHiddenEventsAreNotPublic(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	col := testkit.Collection(t, env.App, vocab.Events)
	for name, hidden := range map[string]bool{"Open day": false, "Trustees' dinner": true} {
		r := core.NewRecord(col)
		r.Set("name", name)
		r.Set("source", vocab.SourceManual)
		r.Set("hidden", hidden)
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	status, body := env.Do(t, http.MethodGet, "/api/collections/events/records", "", "")
	if status != http.StatusOK || !strings.Contains(body, "Open day") || strings.Contains(body, "Trustees") {
		t.Fatalf("anonymous events list = %d:\n%s", status, body)
	}
}
