package fbsync_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"supportercrm/internal/fbsync"
)

// fixtureData is the data array of a documented response in testdata, to
// be served by the fake Graph API (which writes its own paging links).
func fixtureData(t *testing.T, name string) string {
	t.Helper()
	var page struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(fixture(t, name)), &page); err != nil {
		t.Fatal(err)
	}
	return string(page.Data)
}

func TestPostsFromTheDocumentedFixtures(t *testing.T) {
	app, g, s := setup(t, fbsync.Posts)
	g.Set("posts", fixtureData(t, "posts-page1.json"), fixtureData(t, "posts-page2.json"))
	res, err := s.Run(context.Background(), fbsync.TriggerCLI)
	if err != nil {
		t.Fatal(err)
	}
	// Five posts over two pages: two announce events, three don't.
	if res.Fetched != 2 || res.Created != 2 {
		t.Fatalf("sync = %+v", res)
	}
	e := event(t, app, "1234567890123456")
	if e.GetString("name") != "Winter Sleep-Out for Safe Homes" || e.GetString("facebook_url") != "https://www.facebook.com/events/1234567890123456/" ||
		e.GetString("cover_url") != "https://scontent.example.net/v/sleepout-cover.jpg" || e.GetDateTime("posted_at").IsZero() {
		t.Errorf("event from the first page = %v", e.FieldsData())
	}
}

func TestEventsEdgeFromTheDocumentedFixtures(t *testing.T) {
	app, g, s := setup(t, fbsync.Events)
	page1, page2 := fixtureData(t, "events-page1.json"), fixtureData(t, "events-page2.json")
	g.Set("events", page1, page2)
	res, err := s.Run(context.Background(), fbsync.TriggerCLI)
	if err != nil || res.Fetched != 3 || res.Created != 3 {
		t.Fatalf("sync = %+v, %v", res, err)
	}
	sleepOut := event(t, app, "1234567890123456")
	if sleepOut.GetString("place") == "" || sleepOut.GetString("timezone") != "Europe/London" || sleepOut.GetDateTime("end").IsZero() {
		t.Errorf("sleep-out = %v", sleepOut.FieldsData())
	}
	if carols := event(t, app, "4567890123456789"); !carols.GetBool("cancelled") || !carols.GetBool("date_only") {
		t.Errorf("carols = %v", carols.FieldsData())
	}

	// Staff feature the sleep-out; then Facebook cancels it.
	sleepOut.Set("featured", true)
	sleepOut.Set("blurb", "Our biggest night of the year")
	if err := app.Save(sleepOut); err != nil {
		t.Fatal(err)
	}
	cancelled := strings.Replace(strings.Replace(page1, `"is_canceled": false`, `"is_canceled": true`, 1),
		`"updated_time": "2026-11-21T16:40:05+0000"`, `"updated_time": "2026-11-24T10:00:00+0000"`, 1)
	if cancelled == page1 {
		t.Fatal("the fixture changed shape; update this test")
	}
	g.Set("events", cancelled, page2)
	res, err = s.Run(context.Background(), fbsync.TriggerCLI)
	if err != nil || res.Updated != 1 || res.Created != 0 {
		t.Fatalf("second sync = %+v, %v", res, err)
	}
	sleepOut = event(t, app, "1234567890123456")
	if !sleepOut.GetBool("cancelled") || !sleepOut.GetBool("featured") || sleepOut.GetString("blurb") != "Our biggest night of the year" {
		t.Errorf("after Facebook cancelled it: %v", sleepOut.FieldsData())
	}
}
