package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"supportercrm/internal/testkit"
)

// BenchmarkBinaryCampaign measures a campaign as an operator would see it:
// the real binary started with serve, supporters imported with the import
// command, the campaign created through the REST API as a superuser, sent
// over 8 connections into the bench sink (Postfix's smtp-sink when
// installed). Beside it, in the same run and into the same sink, the bare
// go-mail sender sends as many messages of the same content. It prints, per
// size: both rates (the campaign's from send_at to the last message
// accepted), their ratio, the bare sender's rate without go-mail's NOOP
// before every message (a third run), the start latency (send_at to the first message
// accepted), the server's peak RSS and the import's time and peak RSS.
//
//	GOTOOLCHAIN=go1.27.3 go test . -run '^$' -bench BinaryCampaign -benchtime 1x -timeout 30m
//
// SUPPORTERCRM_BENCH_SIZES=20000,100000 (comma-separated) sets the sizes
// (default 20000); SUPPORTERCRM_BENCH_CONNS the connections of both senders
// (default 8); SUPPORTERCRM_BENCH_LATENCY=20ms puts both behind a proxy that
// delays every read that much each way (a relay that is not on loopback).
// SUPPORTERCRM_BENCH_PPROF=DIR serves the binary's profiles (CRM_PPROF_ADDR)
// and writes to DIR, per size, a CPU profile of the send (from send_at, for
// n/2000 seconds), an execution trace of one second and a goroutine dump
// from a third of the way through it, and the block,
// mutex, heap and allocs profiles once the last message was accepted.
// SUPPORTERCRM_BENCH_BIN=PATH measures that binary instead of this tree's.
func BenchmarkBinaryCampaign(b *testing.B) {
	sizes := benchSizes(b, 20000)
	conns := 8
	if env := os.Getenv("SUPPORTERCRM_BENCH_CONNS"); env != "" {
		var err error
		if conns, err = strconv.Atoi(env); err != nil || conns <= 0 {
			b.Fatalf("SUPPORTERCRM_BENCH_CONNS: bad count %q", env)
		}
	}
	var latency time.Duration
	if env := os.Getenv("SUPPORTERCRM_BENCH_LATENCY"); env != "" {
		var err error
		if latency, err = time.ParseDuration(env); err != nil {
			b.Fatalf("SUPPORTERCRM_BENCH_LATENCY: %v", err)
		}
	}
	bin := benchBinary(b)
	content := testkit.BenchContent()
	for _, n := range sizes {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			for range b.N {
				sink := testkit.StartBenchSink(b)
				port := sink.Port
				if latency > 0 {
					port = testkit.StartLatencyProxy(b, sink.Port, latency).Port
				}
				dataDir := b.TempDir()
				addr := freeAddr(b)
				configure(b, dataDir, "http://"+addr, port, nil)
				imp := runBin(b, bin, dataDir, "import", "supporters", writeSupportersCSV(b, n))
				runBin(b, bin, dataDir, "superuser", "upsert", "bench@example.org", "bench-passphrase-1")
				// Not in dev mode, as in production (see runBin): start's
				// servers are, so that tests can read their logs.
				srv := exec.Command(bin, "serve", "--dir", dataDir, "--http", addr)
				srv.Args[0] = "supportercrm"
				srv.Env = append(os.Environ(), "CRM_SMTP_CONNECTIONS="+strconv.Itoa(conns))
				prof := startBenchProfiler(b, strconv.Itoa(n), max(2, n/2000))
				if prof != nil {
					srv.Env = append(srv.Env, "CRM_PPROF_ADDR="+prof.addr)
				}
				serveUntilHealthy(b, srv, addr)

				api := restClient{b: b, base: "http://" + addr}
				api.login("bench@example.org", "bench-passphrase-1")
				topic := api.firstID("topics", "slug='newsletter'")
				sendAt := time.Now().Add(1500 * time.Millisecond).UTC()
				campaign := api.post("campaigns", map[string]any{
					"name": "Spring update", "subject": content.Subject, "preheader": content.Preheader,
					"body_format": content.Format, "body": content.Body, "topics": []string{topic},
					"status": "scheduled", "send_at": sendAt.Format("2006-01-02 15:04:05.000Z"),
				})
				prof.during(sendAt)
				cpu0 := cpuTime(b, srv.Process.Pid)
				first, last := waitSink(b, sink, n, 30*time.Minute)
				cores := (cpuTime(b, srv.Process.Pid) - cpu0).Seconds() / time.Since(sendAt).Seconds()
				rss := peakRSS(b, srv.Process.Pid)
				prof.after()
				began, firstSent := api.startTimes(campaign)
				srv.Process.Signal(syscall.SIGTERM)
				srv.Wait()

				bare := testkit.BareSend(b, port, conns, n, content)
				bareNoNoop := testkit.BareSend(b, port, conns, n, content, gomail.WithoutNoop())
				sink.Expect(b, 3*n)

				campaignRate := float64(n) / last.Sub(sendAt).Seconds()
				bareRate := float64(n) / bare.Seconds()
				noNoopRate := float64(n) / bareNoNoop.Seconds()
				start := first.Sub(sendAt)
				b.ReportMetric(campaignRate, "msgs/s")
				b.ReportMetric(bareRate, "bare-msgs/s")
				b.ReportMetric(campaignRate/bareRate, "ratio")
				b.ReportMetric(noNoopRate, "bare-nonoop-msgs/s")
				b.ReportMetric(float64(start.Milliseconds()), "start-ms")
				b.ReportMetric(float64(began.Sub(sendAt).Milliseconds()), "began-ms")
				b.ReportMetric(float64(firstSent.Sub(began).Milliseconds()), "began-to-first-sent-ms")
				b.ReportMetric(rss, "peak-RSS-MB")
				b.ReportMetric(cores, "serve-cores")
				fmt.Printf("SUMMARY binary recipients=%d conns=%d latency=%s sink=%s campaign=%.0f msgs/s bare=%.0f msgs/s ratio=%.2f (target >= 0.80) bare-without-NOOP=%.0f msgs/s (%.2f of bare) "+
					"start=%s (target <= 1s; began %s after send_at, first sent_at %s later) serve-peak-RSS=%.0f MB serve-CPU=%.2f cores; import %s, import-peak-RSS=%.0f MB\n",
					n, conns, latency, sink.Name, campaignRate, bareRate, campaignRate/bareRate, noNoopRate, noNoopRate/bareRate, start.Round(time.Millisecond), began.Sub(sendAt).Round(time.Millisecond), firstSent.Sub(began).Round(time.Millisecond), rss, cores,
					imp.took.Round(10*time.Millisecond), imp.peakMB)
			}
		})
	}
}

// benchBinary is the binary the benchmarks measure: SUPPORTERCRM_BENCH_BIN
// when set (one built from an older commit, to compare before and after in
// one sitting), else this tree's.
func benchBinary(b *testing.B) string {
	if bin := os.Getenv("SUPPORTERCRM_BENCH_BIN"); bin != "" {
		return bin
	}
	return buildBinary(b)
}

// benchSizes reads SUPPORTERCRM_BENCH_SIZES, or gives def.
func benchSizes(b *testing.B, def int) []int {
	env := os.Getenv("SUPPORTERCRM_BENCH_SIZES")
	if env == "" {
		return []int{def}
	}
	var sizes []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("SUPPORTERCRM_BENCH_SIZES: bad size %q", f)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// writeSupportersCSV writes n subscribed supporters with consent evidence,
// as an export from another system would give them.
func writeSupportersCSV(b *testing.B, n int) string {
	path := filepath.Join(b.TempDir(), "supporters.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	buf := bufio.NewWriter(f)
	w := csv.NewWriter(buf)
	w.Write([]string{"email", "first_name", "last_name", "topics", "consent_source", "consent_date"})
	for i := range n {
		w.Write([]string{fmt.Sprintf("reader%06d@example.org", i), "Reader" + strconv.Itoa(i), "Bench", "newsletter", "paper form, Leeds fair", "2025-03-31"})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		b.Fatal(err)
	}
	if err := buf.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// binRun is how one command of the binary went.
type binRun struct {
	took   time.Duration
	peakMB float64
	cpu    time.Duration // user and system time: on a shared machine, steadier than took
	out    string        // what it printed (stdout and stderr)
}

// runBin runs one command of the binary on dataDir and fails b if it fails.
// Its peak RSS is the process's own high-water mark (VmHWM), read every
// 10 ms while it runs: rusage's Maxrss is no good here, because Linux
// carries the forking process's high-water mark over into the child at
// exec, so it reported the benchmark's own memory (390 MB at 100,000 rows).
// Only a command too quick to be read once falls back to Maxrss. The
// command is named plain "supportercrm" to itself, as when run from PATH:
// PocketBase takes a program whose name starts with the temp dir for one
// started by go run, and runs it in dev mode, printing every SQL statement
// (that made an import of 100,000 rows take three times the CPU).
func runBin(b *testing.B, bin, dataDir string, args ...string) binRun {
	cmd := exec.Command(bin, append(args, "--dir", dataDir)...)
	cmd.Args[0] = "supportercrm"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	hwm := make(chan float64)
	go func() {
		peak := 0.0
		for tick := time.NewTicker(10 * time.Millisecond); ; {
			if mb, ok := vmHWM(cmd.Process.Pid); ok {
				peak = mb
			}
			select {
			case <-done:
				tick.Stop()
				hwm <- peak
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	run := binRun{took: time.Since(t0), out: out.String()}
	close(done)
	run.peakMB = <-hwm
	if err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, run.out)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		if run.peakMB == 0 {
			run.peakMB = float64(ru.Maxrss) / 1024 // Linux reports KB
		}
		run.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return run
}

// waitSink waits until the sink has accepted n messages, and returns when
// the first and the last of them were seen (polled every millisecond).
func waitSink(b *testing.B, sink *testkit.BenchSink, n int, timeout time.Duration) (first, last time.Time) {
	deadline := time.Now().Add(timeout)
	for {
		got := sink.Count()
		now := time.Now()
		if got > 0 && first.IsZero() {
			first = now
		}
		if got >= n {
			return first, now
		}
		if now.After(deadline) {
			b.Fatalf("the sink accepted %d of %d messages in %s", got, n, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// peakRSS is the process's peak resident set (VmHWM), in MB.
func peakRSS(b *testing.B, pid int) float64 {
	mb, ok := vmHWM(pid)
	if !ok {
		b.Fatalf("no VmHWM for process %d", pid)
	}
	return mb
}

// vmHWM reads a running process's peak resident set, in MB.
func vmHWM(pid int) (float64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) / 1024, err == nil
		}
	}
	return 0, false
}

// restClient calls the app's REST API as one superuser.
type restClient struct {
	b     *testing.B
	base  string
	token string
}

func (c *restClient) do(method, path string, body any) map[string]any {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			c.b.Fatal(err)
		}
		r = strings.NewReader(string(data))
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.b.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		c.b.Fatalf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		c.b.Fatalf("%s %s: %v", method, path, err)
	}
	return out
}

func (c *restClient) login(email, password string) {
	out := c.do("POST", "/api/collections/_superusers/auth-with-password", map[string]string{"identity": email, "password": password})
	c.token, _ = out["token"].(string)
	if c.token == "" {
		c.b.Fatalf("no token in %v", out)
	}
}

func (c *restClient) firstID(collection, filter string) string {
	out := c.do("GET", "/api/collections/"+collection+"/records?perPage=1&filter="+url.QueryEscape(filter), nil)
	items, _ := out["items"].([]any)
	if len(items) == 0 {
		c.b.Fatalf("no %s record matches %s", collection, filter)
	}
	id, _ := items[0].(map[string]any)["id"].(string)
	return id
}

// startTimes reads when the engine began a campaign (started_at) and when
// its first message was recorded sent.
func (c *restClient) startTimes(campaign string) (began, firstSent time.Time) {
	parse := func(v any) time.Time {
		s, _ := v.(string)
		t, err := time.Parse("2006-01-02 15:04:05.000Z", s)
		if err != nil {
			c.b.Fatalf("bad time %q: %v", s, err)
		}
		return t
	}
	began = parse(c.do("GET", "/api/collections/campaigns/records/"+campaign, nil)["started_at"])
	out := c.do("GET", "/api/collections/deliveries/records?perPage=1&skipTotal=1&sort=sent_at&fields=sent_at&filter="+
		url.QueryEscape("campaign='"+campaign+"' && sent_at!=''"), nil)
	items, _ := out["items"].([]any)
	if len(items) == 0 {
		c.b.Fatal("no delivery was recorded sent")
	}
	return began, parse(items[0].(map[string]any)["sent_at"])
}

func (c *restClient) post(collection string, record map[string]any) string {
	out := c.do("POST", "/api/collections/"+collection+"/records", record)
	id, _ := out["id"].(string)
	return id
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): utime and stime are the 12th and 13th, in clock ticks (100 Hz).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// benchProfiler fetches the binary's profiles for SUPPORTERCRM_BENCH_PPROF;
// nil (whose methods do nothing) when that is unset.
type benchProfiler struct {
	b    *testing.B
	dir  string
	addr string
	name string // the files' prefix
	secs int    // the CPU profile's length
	cpu  chan struct{}
}

// startBenchProfiler names the files name-cpu.pprof and so on; the CPU
// profile lasts secs.
func startBenchProfiler(b *testing.B, name string, secs int) *benchProfiler {
	dir := os.Getenv("SUPPORTERCRM_BENCH_PPROF")
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	return &benchProfiler{b: b, dir: dir, addr: freeAddr(b), name: name, secs: secs, cpu: make(chan struct{})}
}

// during starts the CPU profile at sendAt, and the trace and goroutine dump
// a third of the way through it.
func (p *benchProfiler) during(sendAt time.Time) {
	if p == nil {
		return
	}
	secs := p.secs
	go func() {
		defer close(p.cpu)
		time.Sleep(time.Until(sendAt))
		go func() {
			time.Sleep(time.Duration(secs) * time.Second / 3)
			p.fetch("trace?seconds=1", "trace.out")
			p.fetch("goroutine?debug=1", "goroutines.txt")
		}()
		p.fetch("profile?seconds="+strconv.Itoa(secs), "cpu.pprof")
	}()
}

// after waits for the CPU profile and takes the cumulative ones.
func (p *benchProfiler) after() {
	if p == nil {
		return
	}
	<-p.cpu
	for _, name := range []string{"block", "mutex", "heap", "allocs"} {
		p.fetch(name, name+".pprof")
	}
}

func (p *benchProfiler) fetch(path, file string) {
	res, err := http.Get("http://" + p.addr + "/debug/pprof/" + path)
	if err != nil {
		p.b.Errorf("pprof %s: %v", path, err)
		return
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		p.b.Errorf("pprof %s: %d %v", path, res.StatusCode, err)
		return
	}
	name := filepath.Join(p.dir, p.name+"-"+file)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		p.b.Error(err)
	}
}
