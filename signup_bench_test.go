package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// BenchmarkBinarySignup measures public double opt-in signups as a visitor
// sees them: the real binary started with serve, PocketBase's rate limiter
// off and no daily cap on confirmations (CRM_CONFIRMATIONS_PER_DAY=0), the
// outbox sending into the bench sink (Postfix's smtp-sink when installed),
// and wrk posting to /api/subscribe over 8 connections for 10 s, each
// request a new address (internal/signup/testdata/signup.lua). It prints
// signups/s and wrk's p50 and p99, how long after the load ended the last
// confirmation reached the sink, and the longest any confirmation waited
// from its signup to the relay's acceptance (from the outbox rows).
//
//	GOTOOLCHAIN=go1.27.3 go test . -run '^$' -bench BinarySignup -benchtime 1x -timeout 10m
//
// SUPPORTERCRM_BENCH_DURATION sets wrk's -d (default 10s);
// SUPPORTERCRM_BENCH_PPROF=DIR writes the server's profiles under load to
// DIR (signup-cpu.pprof from a second in, then block, mutex, heap, allocs),
// as BenchmarkBinaryCampaign does; SUPPORTERCRM_BENCH_BIN=PATH measures
// that binary instead of this tree's.
func BenchmarkBinarySignup(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed")
	}
	duration := "10s"
	if env := os.Getenv("SUPPORTERCRM_BENCH_DURATION"); env != "" {
		duration = env
	}
	wrkFor, err := time.ParseDuration(duration)
	if err != nil {
		b.Fatalf("SUPPORTERCRM_BENCH_DURATION: %v", err)
	}
	script, err := filepath.Abs(filepath.Join("internal", "signup", "testdata", "signup.lua"))
	if err != nil {
		b.Fatal(err)
	}
	bin := benchBinary(b)
	for range b.N {
		sink := testkit.StartBenchSink(b)
		dataDir := b.TempDir()
		addr := freeAddr(b)
		configure(b, dataDir, "http://"+addr, sink.Port, func(app core.App) {
			s := app.Settings()
			s.RateLimits.Enabled = false
			if err := app.Save(s); err != nil {
				b.Fatal(err)
			}
		})
		// Not in dev mode, as in production (see runBin).
		srv := exec.Command(bin, "serve", "--dir", dataDir, "--http", addr)
		srv.Args[0] = "supportercrm"
		srv.Env = append(os.Environ(), "CRM_MIN_SUBMIT_SECONDS=0", "CRM_CONFIRMATIONS_PER_DAY=0")
		prof := startBenchProfiler(b, "signup", max(2, int(wrkFor.Seconds())-2))
		if prof != nil {
			srv.Env = append(srv.Env, "CRM_PPROF_ADDR="+prof.addr)
		}
		serveUntilHealthy(b, srv, addr)
		prof.during(time.Now().Add(time.Second))

		cpu0, loadStart := cpuTime(b, srv.Process.Pid), time.Now()
		load := exec.Command(wrk, "-t2", "-c8", "-d"+duration, "--latency", "-s", script,
			"http://"+addr+"/api/subscribe")
		out, err := load.CombinedOutput()
		loadEnd := time.Now()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		// Both share the machine's cores: what each used during the load.
		serveCores := (cpuTime(b, srv.Process.Pid) - cpu0).Seconds() / loadEnd.Sub(loadStart).Seconds()
		wrkCores := (load.ProcessState.UserTime() + load.ProcessState.SystemTime()).Seconds() / loadEnd.Sub(loadStart).Seconds()
		res := parseWrk(b, string(out))
		if res.bad != 0 || res.errors != "" {
			b.Fatalf("%d answers were not 202; socket errors: %q\n%s", res.bad, res.errors, out)
		}
		// wrk counts only the answers it read: a request in flight when it
		// stopped may still have been accepted, so the sink is watched until
		// its count has been still for a second.
		_, last := waitSink(b, sink, res.requests, 5*time.Minute)
		for n := sink.Count(); ; {
			time.Sleep(time.Second)
			if m := sink.Count(); m == n {
				break
			} else {
				n, last = m, time.Now()
			}
		}
		prof.after()
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
		maxWait := longestConfirmationWait(b, dataDir, sink.Count())

		after := max(0, last.Sub(loadEnd))
		b.ReportMetric(res.rate, "signups/s")
		b.ReportMetric(res.p50, "p50-ms")
		b.ReportMetric(res.p99, "p99-ms")
		b.ReportMetric(float64(after.Milliseconds()), "drain-ms")
		b.ReportMetric(float64(maxWait.Milliseconds()), "max-wait-ms")
		b.ReportMetric(serveCores, "serve-cores")
		b.ReportMetric(wrkCores, "wrk-cores")
		b.Logf("wrk:\n%s", out)
		fmt.Printf("SUMMARY signup wrk -c8 -d%s sink=%s signups=%d rate=%.0f/s (target >= 900) p50=%.1f ms p99=%.1f ms (target <= 40) "+
			"last confirmation %s after the load (longest wait signup to relay %s, target <= 2s) "+
			"serve-CPU=%.2f cores (%.2f ms a signup) wrk-CPU=%.2f cores\n",
			duration, sink.Name, res.requests, res.rate, res.p50, res.p99, after.Round(time.Millisecond), maxWait.Round(time.Millisecond),
			serveCores, 1000*serveCores/res.rate, wrkCores)
	}
}

// wrkResult is what BenchmarkBinarySignup reads from wrk's output.
type wrkResult struct {
	requests int
	rate     float64 // requests a second
	p50, p99 float64 // ms
	bad      int     // answers other than 202 (the script's count)
	errors   string  // wrk's socket errors line, if any
}

var (
	wrkRequestsRe = regexp.MustCompile(`(\d+) requests in`)
	wrkRateRe     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkBadRe      = regexp.MustCompile(`not-202: (\d+)`)
	wrkErrorsRe   = regexp.MustCompile(`Socket errors:.*`)
)

func parseWrk(b *testing.B, out string) wrkResult {
	find := func(re *regexp.Regexp) string {
		m := re.FindStringSubmatch(out)
		if m == nil {
			b.Fatalf("wrk output has no %s:\n%s", re, out)
		}
		return m[1]
	}
	var r wrkResult
	var err error
	if r.requests, err = strconv.Atoi(find(wrkRequestsRe)); err != nil {
		b.Fatal(err)
	}
	if r.rate, err = strconv.ParseFloat(find(wrkRateRe), 64); err != nil {
		b.Fatal(err)
	}
	if r.bad, err = strconv.Atoi(find(wrkBadRe)); err != nil {
		b.Fatal(err)
	}
	r.errors = wrkErrorsRe.FindString(out)
	r.p50 = wrkPercentile(b, out, "50%")
	r.p99 = wrkPercentile(b, out, "99%")
	return r
}

// wrkPercentile reads one line of wrk's latency distribution ("99%  12.34ms"), in ms.
func wrkPercentile(b *testing.B, out, p string) float64 {
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(p) + `\s+([\d.]+)(us|ms|s)\s*$`).FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("wrk output has no %s latency:\n%s", p, out)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	switch m[2] {
	case "us":
		v /= 1000
	case "s":
		v *= 1000
	}
	return v
}

// longestConfirmationWait reads the stopped server's outbox: every
// confirmation must be sent, want of them (the sink's count), and it returns the longest time one
// took from being queued (its signup's transaction) to the relay's 250.
func longestConfirmationWait(b *testing.B, dataDir string, want int) time.Duration {
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dataDir})
	if err := app.Bootstrap(); err != nil {
		b.Fatal(err)
	}
	defer app.ClearBootstrap()
	var row struct {
		Sent int     `db:"sent"`
		Max  float64 `db:"max_ms"`
	}
	err := app.DB().Select("COUNT(*) AS sent", "COALESCE(MAX((julianday(sent_at) - julianday(created)) * 86400000), 0) AS max_ms").
		From(vocab.Outbox).Where(dbx.HashExp{"status": vocab.OutboxSent, "kind": vocab.KindConfirm}).One(&row)
	if err != nil {
		b.Fatal(err)
	}
	total, err := app.CountRecords(vocab.Outbox)
	if err != nil {
		b.Fatal(err)
	}
	if row.Sent != want || int64(want) != total {
		b.Fatalf("%d confirmations sent of %d queued, the sink accepted %d", row.Sent, total, want)
	}
	return time.Duration(row.Max * float64(time.Millisecond))
}
