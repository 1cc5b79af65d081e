package tracking_test

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"supportercrm/internal/testkit"
	"supportercrm/internal/tracking"
	"supportercrm/internal/vocab"
)

// BenchmarkClick measures the click redirect against the running test app
// (real SQLite, the group committer), 16 clients at once: "redirect" sends
// each request to a distinct delivery's signed link of a tracked campaign,
// so each one verifies, records a click and redirects; "health" is
// PocketBase's GET /api/health on the same server in the same run, the
// baseline for a machine whose load varies. Reports req/s and the p99:
//
//	go test ./internal/tracking/ -run '^$' -bench Click -benchtime 20000x
func BenchmarkClick(b *testing.B) {
	env := start(b)
	sups := testkit.Subscribers(b, env.App, 200)
	c := send(b, env, true, sups)
	var ids []string
	if err := env.App.DB().NewQuery("SELECT id FROM deliveries WHERE campaign = {:c}").Bind(dbx.Params{"c": c.Id}).Column(&ids); err != nil {
		b.Fatal(err)
	}
	signer := testkit.Signer(b)
	links := make([]string, len(ids))
	for i, id := range ids {
		links[i] = tracking.ClickURL(signer, env.URL, id, i%10, report)
	}
	b.Run("redirect", func(b *testing.B) {
		before := env.Count(b, vocab.TrackingEvents, "")
		hammer(b, links, http.StatusFound)
		if n := env.Count(b, vocab.TrackingEvents, "") - before; n != b.N {
			b.Fatalf("%d clicks recorded, want %d", n, b.N)
		}
	})
	b.Run("health", func(b *testing.B) {
		hammer(b, []string{env.URL + "/api/health"}, http.StatusOK)
	})
}

// hammer makes b.N GETs of urls (in turn) from 16 clients and reports the
// rate and the p99 latency.
func hammer(b *testing.B, urls []string, want int) {
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	const clients = 16
	var mu sync.Mutex
	var lat []time.Duration
	next := make(chan int)
	var wg sync.WaitGroup
	b.ResetTimer()
	began := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := range next {
				t0 := time.Now()
				resp, err := client.Get(urls[i%len(urls)])
				if err != nil {
					b.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					b.Errorf("status %d, want %d", resp.StatusCode, want)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(began)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/took.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
