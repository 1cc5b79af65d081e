//go:build unix

package campaigns_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// benchConns is the SMTP connection count of both senders, as in the design.
const benchConns = 8

// BenchmarkSend measures whole campaigns against a bare go-mail sender, both
// into the same cheap SMTP sink on loopback (Postfix's smtp-sink when
// installed, else an in-process go-smtp server that discards the data):
//
//   - engine: the real engine (testkit.Start, app mail settings pointed at
//     the sink, 8 connections, no rate limit) sends a campaign whose HTML
//     renders to ~8 KB to n subscribed supporters; timed from the campaign
//     being due (send_at) to its status being "sent".
//   - bare: no database, no rendering: 8 goroutines, each with one go-mail
//     Client, send n pre-built messages of the same content to the sink.
//
// Metrics: msgs/s, peak-MB (HeapInuse+StackInuse sampled every 10 ms, the
// maximum minus the baseline before the run), cpu-us/msg (this process's
// user+system CPU per message, which other load on the machine barely
// moves) and, for the engine,
// start-ms (due until started_at: the engine's tick and compile; the
// snapshot comes after, and BenchmarkSnapshot measures it).
// A summary line per size gives engine vs bare and the ratio, and a last one
// the engine's peak memory at 100,000 against 10,000. Run with:
//
//	go test ./internal/campaigns/ -run '^$' -bench Send -benchtime 1x -count 2 -timeout 30m
//
// SUPPORTERCRM_BENCH_SINK=go forces the in-process sink.
// SUPPORTERCRM_BENCH_TRACKING=1 also runs "engine-tracked", the same
// campaign with open and click tracking on (every link a signed redirect,
// plus the pixel), and a summary line of it beside "engine" from the same run.
// SUPPORTERCRM_BENCH_SIZES=10000 (comma-separated) runs only those sizes; so
// does -bench 'Send/recipients=10000$'. SUPPORTERCRM_BENCH_CPUPROFILE=DIR
// writes a CPU profile of each timed run alone (no setup or
// seeding) to DIR/engine-N.prof and DIR/bare-N.prof.
func BenchmarkSend(b *testing.B) {
	content := testkit.BenchContent()
	peaks := map[int]float64{}
	sizes := []int{10000, 100000}
	if env := os.Getenv("SUPPORTERCRM_BENCH_SIZES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("SUPPORTERCRM_BENCH_SIZES: bad size %q", f)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			var engine, tracked, bare, engineCPU, trackedCPU, bareCPU []float64
			var sinkName string
			b.Run("engine", func(b *testing.B) {
				r := benchEngine(b, n, content, false)
				engine, engineCPU = append(engine, r.rate), append(engineCPU, r.cpuPerMsg)
				peaks[n] = max(peaks[n], r.peakMB)
				sinkName = r.sink
			})
			if os.Getenv("SUPPORTERCRM_BENCH_TRACKING") != "" {
				b.Run("engine-tracked", func(b *testing.B) {
					r := benchEngine(b, n, content, true)
					tracked, trackedCPU = append(tracked, r.rate), append(trackedCPU, r.cpuPerMsg)
				})
			}
			b.Run("bare", func(b *testing.B) {
				r := benchBare(b, n, content)
				bare, bareCPU = append(bare, r.rate), append(bareCPU, r.cpuPerMsg)
				sinkName = r.sink
			})
			if len(engine) == 0 || len(bare) == 0 {
				return
			}
			target := 0.70
			if n >= 100000 {
				target = 0.80
			}
			e, g := mean(engine), mean(bare)
			fmt.Printf("SUMMARY recipients=%d sink=%s engine=%.0f msgs/s bare=%.0f msgs/s ratio=%.2f (target >= %.2f) runs: engine %s bare %s; cpu-us/msg engine=%.0f bare=%.0f\n",
				n, sinkName, e, g, e/g, target, fmtRates(engine), fmtRates(bare), mean(engineCPU), mean(bareCPU))
			if len(tracked) > 0 {
				tr := mean(tracked)
				fmt.Printf("SUMMARY recipients=%d tracking on=%.0f msgs/s off=%.0f msgs/s ratio=%.2f runs: on %s; cpu-us/msg on=%.0f off=%.0f\n",
					n, tr, e, tr/e, fmtRates(tracked), mean(trackedCPU), mean(engineCPU))
			}
		})
	}
	if peaks[10000] > 0 && peaks[100000] > 0 {
		fmt.Printf("SUMMARY engine peak-MB 10000=%.1f 100000=%.1f growth=%.2fx (target <= 1.5x)\n",
			peaks[10000], peaks[100000], peaks[100000]/peaks[10000])
	}
}

type benchResult struct {
	rate, peakMB, cpuPerMsg float64
	sink                    string
}

// benchEngine runs b.N campaigns of n recipients through the real engine,
// with open and click tracking on when tracked.
func benchEngine(b *testing.B, n int, content campaigns.Content, tracked bool) benchResult {
	b.StopTimer()
	sink := testkit.StartBenchSink(b)
	env := testkit.Start(b, testkit.Options{Configure: func(c *pb_hooks.Config) {
		c.Campaigns = campaigns.Config{Connections: benchConns, PerSecond: 0}
		c.Bounces.Domain = os.Getenv("SUPPORTERCRM_BENCH_BOUNCE_DOMAIN") // VERP envelope senders when set
	}})
	s := env.App.Settings()
	s.SMTP.Port = sink.Port
	if err := env.App.Save(s); err != nil {
		b.Fatal(err)
	}
	topic, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		b.Fatal(err)
	}
	seedFast(b, env, n, topic.Id)

	var elapsed, start, cpu time.Duration
	var peak float64
	for range b.N {
		mem := testkit.StartPeak()
		prof := startProfile(b, fmt.Sprintf("engine-%d", n))
		cpu0 := cpuTime()
		b.StartTimer()
		due := time.Now()
		c := newCampaign(b, env, topic.Id, content)
		c.Load(map[string]any{"tracking": tracked, "status": vocab.CampaignScheduled, "send_at": due})
		if err := env.App.Save(c); err != nil {
			b.Fatal(err)
		}
		done := waitSent(b, env, c.Id, 20*time.Minute)
		took := time.Since(due)
		b.StopTimer()
		cpu += cpuTime() - cpu0
		prof()
		peak = max(peak, mem.Stop())
		elapsed += took
		start += done.GetDateTime("started_at").Time().Sub(due)

		var sent int
		err := env.App.DB().Select("count(*)").From(vocab.Deliveries).
			Where(dbx.HashExp{"campaign": c.Id, "status": vocab.DeliverySent}).Row(&sent)
		if err != nil {
			b.Fatal(err)
		}
		if sent != n || done.GetInt("sent") != n || done.GetInt("total") != n {
			b.Fatalf("campaign sent counter %d, total %d, sent deliveries %d; want %d", done.GetInt("sent"), done.GetInt("total"), sent, n)
		}
	}
	sink.Expect(b, b.N*n)
	rate := float64(b.N*n) / elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(peak, "peak-MB")
	b.ReportMetric(float64(start.Microseconds())/1000/float64(b.N), "start-ms")
	perMsg := float64(cpu.Microseconds()) / float64(b.N*n)
	b.ReportMetric(perMsg, "cpu-us/msg")
	return benchResult{rate: rate, peakMB: peak, cpuPerMsg: perMsg, sink: sink.Name}
}

// benchBare sends b.N×n pre-built messages over 8 plain go-mail clients.
func benchBare(b *testing.B, n int, content campaigns.Content) benchResult {
	b.StopTimer()
	sink := testkit.StartBenchSink(b)
	var elapsed, cpu time.Duration
	var peak float64
	for range b.N {
		mem := testkit.StartPeak()
		prof := startProfile(b, fmt.Sprintf("bare-%d", n))
		cpu0 := cpuTime()
		b.StartTimer()
		took := testkit.BareSend(b, sink.Port, benchConns, n, content)
		b.StopTimer()
		cpu += cpuTime() - cpu0
		prof()
		peak = max(peak, mem.Stop())
		elapsed += took
	}
	sink.Expect(b, b.N*n)
	rate := float64(b.N*n) / elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(peak, "peak-MB")
	perMsg := float64(cpu.Microseconds()) / float64(b.N*n)
	b.ReportMetric(perMsg, "cpu-us/msg")
	return benchResult{rate: rate, peakMB: peak, cpuPerMsg: perMsg, sink: sink.Name}
}

// startProfile starts a CPU profile of one timed run when
// SUPPORTERCRM_BENCH_CPUPROFILE names a directory; the func returned stops it.
func startProfile(b *testing.B, name string) func() {
	dir := os.Getenv("SUPPORTERCRM_BENCH_CPUPROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".prof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatalf("cpu profile (is -cpuprofile set too?): %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// cpuTime is the user+system CPU this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// seedFast inserts n subscribed supporters in the topic with one INSERT ...
// SELECT over a recursive CTE, in a transaction.
func seedFast(b *testing.B, env *testkit.Env, n int, topicID string) {
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
	err := env.App.RunInTransaction(func(tx core.App) error {
		_, err := tx.DB().NewQuery(`
			INSERT INTO {{supporters}} (id, email, first_name, last_name, status, topics, created, updated)
			WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {:n})
			SELECT printf('bench%010d', i), printf('reader%06d@example.org', i), 'Reader' || i, 'Bench',
			       {:subscribed}, json_array({:topic}), {:now}, {:now}
			FROM seq`).
			Bind(dbx.Params{"n": n, "subscribed": vocab.StatusSubscribed, "topic": topicID, "now": now}).Execute()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	var got int
	if err := env.App.DB().Select("count(*)").From(vocab.Supporters).Where(dbx.HashExp{"status": vocab.StatusSubscribed}).Row(&got); err != nil || got != n {
		b.Fatalf("seeded %d subscribed supporters, want %d (%v)", got, n, err)
	}
}

func newCampaign(b *testing.B, env *testkit.Env, topicID string, content campaigns.Content) *core.Record {
	col, err := env.App.FindCollectionByNameOrId(vocab.Campaigns)
	if err != nil {
		b.Fatal(err)
	}
	c := core.NewRecord(col)
	c.Set("name", "Spring update")
	c.Set("subject", content.Subject)
	c.Set("preheader", content.Preheader)
	c.Set("body_format", content.Format)
	c.Set("body", content.Body)
	c.Set("topics", []string{topicID})
	return c
}

// scheduleContent saves a campaign due at the given time, as the dashboard would.
func scheduleContent(b *testing.B, env *testkit.Env, topicID string, content campaigns.Content, due time.Time) *core.Record {
	c := newCampaign(b, env, topicID, content)
	c.Set("status", vocab.CampaignScheduled)
	c.Set("send_at", due)
	if err := env.App.Save(c); err != nil {
		b.Fatal(err)
	}
	return c
}

// waitSent polls the campaign's status every 10 ms until it is "sent".
func waitSent(b *testing.B, env *testkit.Env, id string, timeout time.Duration) *core.Record {
	deadline := time.Now().Add(timeout)
	for {
		var status string
		if err := env.App.DB().Select("status").From(vocab.Campaigns).Where(dbx.HashExp{"id": id}).Row(&status); err != nil {
			b.Fatal(err)
		}
		if status != vocab.CampaignScheduled && status != vocab.CampaignPreparing && status != vocab.CampaignSending {
			c, err := env.App.FindRecordById(vocab.Campaigns, id)
			if err != nil {
				b.Fatal(err)
			}
			if status != vocab.CampaignSent {
				b.Fatalf("campaign is %s: %s", status, c.GetString("last_error"))
			}
			return c
		}
		if time.Now().After(deadline) {
			b.Fatalf("campaign still %s after %s", status, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func fmtRates(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
