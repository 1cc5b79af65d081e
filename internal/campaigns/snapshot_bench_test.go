//go:build unix

package campaigns_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// BenchmarkSnapshot measures a campaign's audience snapshot of n subscribed
// supporters (seeded by one raw INSERT) while public signups (POST
// /api/subscribe) and one-click unsubscribes (POST /unsubscribe) go on over
// HTTP, one request of each kind at a time, 10 ms apart. The relay is down,
// so no message leaves; the campaign is cancelled once it is "sending".
// Reported: snapshot-s (started_at until the campaign is seen sending) and
// the p50, p99 and maximum time of the requests made while it was
// preparing, in ms; and the same for the requests of the second before the
// campaign, for comparison. n is 20,000 unless SUPPORTERCRM_BENCH_SNAPSHOT
// says otherwise; the figure the design asks for:
//
//	SUPPORTERCRM_BENCH_SNAPSHOT=1000000 go test ./internal/campaigns/ -run '^$' -bench Snapshot -benchtime 1x -timeout 30m
func BenchmarkSnapshot(b *testing.B) {
	n := 20000
	if v := os.Getenv("SUPPORTERCRM_BENCH_SNAPSHOT"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("SUPPORTERCRM_BENCH_SNAPSHOT: bad size %q", v)
		}
	}
	env := testkit.Start(b, testkit.Options{SMTPDown: true})
	topic, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		b.Fatal(err)
	}
	seedFast(b, env, n, topic.Id)
	load := &requestLoad{env: env, signer: testkit.Signer(b)}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		before := load.run(b, time.Second, nil)
		b.StartTimer()
		c := scheduleContent(b, env, topic.Id, testkit.BenchContent(), time.Now())
		var seen time.Time
		during := load.run(b, 0, func() bool {
			var status string
			if err := env.App.DB().Select("status").From(vocab.Campaigns).Where(dbx.HashExp{"id": c.Id}).Row(&status); err != nil {
				b.Fatal(err)
			}
			if status == vocab.CampaignPreparing || status == vocab.CampaignScheduled {
				return false
			}
			seen = time.Now()
			if status != vocab.CampaignSending {
				b.Fatalf("campaign is %s", status)
			}
			return true
		})
		b.StopTimer()
		stored := storedCampaign(b, env, c.Id)
		took := seen.Sub(stored.GetDateTime("started_at").Time())
		if _, err := env.App.DB().NewQuery("UPDATE {{campaigns}} SET status = {:c} WHERE id = {:id}").
			Bind(dbx.Params{"c": vocab.CampaignCancelled, "id": c.Id}).Execute(); err != nil {
			b.Fatal(err)
		}
		if total := stored.GetInt("total"); total > n || total < n-load.unsubscribed {
			b.Fatalf("snapshot of %d supporters (%d unsubscribed) wrote %d deliveries", n, load.unsubscribed, total)
		}
		b.ReportMetric(took.Seconds(), "snapshot-s")
		for _, k := range []struct {
			name string
			v    []time.Duration
		}{{"signup", during.signups}, {"unsub", during.unsubscribes}} {
			p := percentiles(k.v)
			b.ReportMetric(p[0], k.name+"-p50-ms")
			b.ReportMetric(p[1], k.name+"-p99-ms")
			b.ReportMetric(p[2], k.name+"-max-ms")
		}
		fmt.Printf("SNAPSHOT supporters=%d snapshot=%.1fs during: signups %d p50/p99/max %s, unsubscribes %d p50/p99/max %s; the second before: signups %s, unsubscribes %s\n",
			n, took.Seconds(), len(during.signups), fmtPercentiles(during.signups), len(during.unsubscribes), fmtPercentiles(during.unsubscribes),
			fmtPercentiles(before.signups), fmtPercentiles(before.unsubscribes))
	}
}

// requestLoad makes signups (new addresses) and one-click unsubscribes (of
// seeded supporters, in order) through the app's public HTTP interface.
type requestLoad struct {
	env          *testkit.Env
	signer       *tokens.Signer
	signedUp     int
	unsubscribed int
}

type latencies struct{ signups, unsubscribes []time.Duration }

// run makes one request of each kind at a time, 10 ms apart, for d, or
// (d = 0) until done reports true (checked every 10 ms).
func (l *requestLoad) run(b *testing.B, d time.Duration, done func() bool) latencies {
	stop := make(chan struct{})
	var out latencies
	var wg sync.WaitGroup
	loop := func(into *[]time.Duration, request func() int) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			t0 := time.Now()
			status := request()
			*into = append(*into, time.Since(t0))
			if status != http.StatusOK && status != http.StatusAccepted {
				b.Errorf("request answered %d", status)
			}
		}
	}
	wg.Add(2)
	go loop(&out.signups, func() int {
		l.signedUp++
		status, _ := l.env.PostJSON(b, "/api/subscribe",
			fmt.Sprintf(`{"email":"new%07d@example.org","first_name":"New","topics":["newsletter"],"consent":true}`, l.signedUp))
		return status
	})
	go loop(&out.unsubscribes, func() int {
		id := fmt.Sprintf("bench%010d", l.unsubscribed)
		l.unsubscribed++
		path := "/unsubscribe?token=" + url.QueryEscape(l.signer.Sign(tokens.Unsubscribe, id, time.Hour))
		status, _ := l.env.Do(b, http.MethodPost, path, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
		return status
	})
	if d > 0 {
		time.Sleep(d)
	} else {
		for !done() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	return out
}

// percentiles gives the p50, p99 and maximum of v in milliseconds.
func percentiles(v []time.Duration) [3]float64 {
	if len(v) == 0 {
		return [3]float64{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	at := func(q float64) float64 {
		return float64(s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()) / 1000
	}
	return [3]float64{at(0.50), at(0.99), float64(s[len(s)-1].Microseconds()) / 1000}
}

func fmtPercentiles(v []time.Duration) string {
	p := percentiles(v)
	return fmt.Sprintf("%.1f/%.1f/%.1f ms", p[0], p[1], p[2])
}
