package fbsync_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"supportercrm/internal/fbgraph"
	"supportercrm/internal/fbsync"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// BenchmarkSync500EventPosts syncs 500 event posts served 25 to a page (20
// pages) by the fake Graph API on loopback, then syncs again with nothing
// changed. It reports each sync's time and the database writes it made.
//
//	go test ./internal/fbsync/ -run '^$' -bench Sync500 -benchtime 5x
func BenchmarkSync500EventPosts(b *testing.B) {
	g := testkit.NewGraph(b)
	pages := make([]string, 20)
	for p := range pages {
		posts := make([]string, 25)
		for i := range posts {
			id := fmt.Sprintf("%d%03d", 7000+p, i)
			posts[i] = testkit.EventPost(id, "Event "+id, "2026-11-21T16:40:05+0000")
		}
		pages[p] = "[" + strings.Join(posts, ",") + "]"
	}
	g.Set("posts", pages...)
	var first, second time.Duration
	var firstWrites, secondWrites, secondEventWrites int64
	for b.Loop() {
		b.StopTimer()
		app, err := tests.NewTestApp(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		var writes, eventWrites atomic.Int64
		count := func(e *core.ModelEvent) error {
			writes.Add(1)
			if r, ok := e.Model.(*core.Record); ok && r.Collection().Name == vocab.Events {
				eventWrites.Add(1)
			}
			return e.Next()
		}
		app.OnModelAfterCreateSuccess().BindFunc(count)
		app.OnModelAfterUpdateSuccess().BindFunc(count)
		client, err := fbgraph.New(fbgraph.Config{BaseURL: g.URL, PageID: testkit.GraphPageID, Token: "page-token"})
		if err != nil {
			b.Fatal(err)
		}
		s := &fbsync.Syncer{App: app, Graph: client, Source: fbsync.Posts, Now: time.Now}
		b.StartTimer()

		t0 := time.Now()
		res, err := s.Sync(context.Background(), "bench")
		first += time.Since(t0)
		if err != nil || res.Created != 500 {
			b.Fatalf("first sync = %+v, %v", res, err)
		}
		firstWrites += writes.Swap(0)
		eventWrites.Store(0)
		t0 = time.Now()
		res, err = s.Sync(context.Background(), "bench")
		second += time.Since(t0)
		if err != nil || res.Created+res.Updated+res.Removed != 0 {
			b.Fatalf("second sync = %+v, %v", res, err)
		}
		secondWrites += writes.Load()
		secondEventWrites += eventWrites.Load()

		b.StopTimer()
		app.Cleanup()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(first.Milliseconds())/n, "first-ms")
	b.ReportMetric(float64(firstWrites)/n, "first-writes")
	b.ReportMetric(float64(second.Milliseconds())/n, "unchanged-ms")
	b.ReportMetric(float64(secondEventWrites)/n, "unchanged-event-writes")
	b.ReportMetric(float64(secondWrites)/n, "unchanged-writes")
}
