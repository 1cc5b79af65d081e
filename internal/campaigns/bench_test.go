//go:build unix

package campaigns_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	gomail "github.com/wneessen/go-mail"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/charity"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
	"supportercrm/templates"
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
// SUPPORTERCRM_BENCH_SIZES=10000 (comma-separated) runs only those sizes; so
// does -bench 'Send/recipients=10000$'. SUPPORTERCRM_BENCH_CPUPROFILE=DIR
// writes a CPU profile of each timed run alone (no setup or
// seeding) to DIR/engine-N.prof and DIR/bare-N.prof.
func BenchmarkSend(b *testing.B) {
	content := benchContent()
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
			var engine, bare, engineCPU, bareCPU []float64
			var sinkName string
			b.Run("engine", func(b *testing.B) {
				r := benchEngine(b, n, content)
				engine, engineCPU = append(engine, r.rate), append(engineCPU, r.cpuPerMsg)
				peaks[n] = max(peaks[n], r.peakMB)
				sinkName = r.sink
			})
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

// benchEngine runs b.N campaigns of n recipients through the real engine.
func benchEngine(b *testing.B, n int, content campaigns.Content) benchResult {
	b.StopTimer()
	sink := startBenchSink(b)
	env := testkit.Start(b, testkit.Options{Configure: func(c *pb_hooks.Config) {
		c.Campaigns = campaigns.Config{Connections: benchConns, PerSecond: 0}
	}})
	s := env.App.Settings()
	s.SMTP.Port = sink.port
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
		c := scheduleContent(b, env, topic.Id, content, due)
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
	sink.expect(b, b.N*n)
	rate := float64(b.N*n) / elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(peak, "peak-MB")
	b.ReportMetric(float64(start.Microseconds())/1000/float64(b.N), "start-ms")
	perMsg := float64(cpu.Microseconds()) / float64(b.N*n)
	b.ReportMetric(perMsg, "cpu-us/msg")
	return benchResult{rate: rate, peakMB: peak, cpuPerMsg: perMsg, sink: sink.name}
}

// benchBare sends b.N×n pre-built messages over 8 plain go-mail clients.
func benchBare(b *testing.B, n int, content campaigns.Content) benchResult {
	b.StopTimer()
	sink := startBenchSink(b)
	// Each worker gets its own few messages (a go-mail Msg is not safe for
	// concurrent sends); building n of them would only measure memory.
	const perWorker = 32
	msgs := buildBareMessages(b, content, benchConns*perWorker)

	var elapsed, cpu time.Duration
	var peak float64
	for range b.N {
		mem := testkit.StartPeak()
		var next, ok atomic.Int64
		var firstErr atomic.Value
		var wg sync.WaitGroup
		prof := startProfile(b, fmt.Sprintf("bare-%d", n))
		cpu0 := cpuTime()
		b.StartTimer()
		t0 := time.Now()
		for w := range benchConns {
			wg.Go(func() {
				client, err := gomail.NewClient("127.0.0.1", gomail.WithPort(sink.port), gomail.WithTimeout(15*time.Second),
					gomail.WithTLSPolicy(gomail.TLSOpportunistic))
				if err == nil {
					err = client.DialWithContext(context.Background())
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				defer client.Close()
				mine := msgs[w*perWorker : (w+1)*perWorker]
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					if err := client.Send(mine[i%perWorker]); err != nil {
						firstErr.CompareAndSwap(nil, err)
						continue
					}
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		took := time.Since(t0)
		b.StopTimer()
		cpu += cpuTime() - cpu0
		prof()
		peak = max(peak, mem.Stop())
		elapsed += took
		if got := ok.Load(); got != int64(n) {
			b.Fatalf("bare sender delivered %d of %d (first error: %v)", got, n, firstErr.Load())
		}
	}
	sink.expect(b, b.N*n)
	rate := float64(b.N*n) / elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(peak, "peak-MB")
	perMsg := float64(cpu.Microseconds()) / float64(b.N*n)
	b.ReportMetric(perMsg, "cpu-us/msg")
	return benchResult{rate: rate, peakMB: peak, cpuPerMsg: perMsg, sink: sink.name}
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

// benchContent is a typical newsletter: a personalised heading, a few
// sections of prose with links, a list, and the unsubscribe link; with the
// default layout it renders to about 8 KB of HTML.
func benchContent() campaigns.Content {
	var body strings.Builder
	body.WriteString("# Dear {{.FirstName}}, here is our spring update\n\n")
	sections := []string{"The new safe house", "Volunteers in Leeds", "Our summer appeal", "What your gifts did", "Dates for your diary"}
	for i, title := range sections {
		fmt.Fprintf(&body, "## %s\n\n", title)
		body.WriteString("The new safe house opened this month, with six bedrooms, a shared kitchen and a garden that volunteers " +
			"cleared over three weekends. Families who stayed with us in the winter have already moved in, and the first " +
			"children started at the school round the corner last Monday. None of it happens without people like you.\n\n")
		body.WriteString("Our caseworkers answered more calls this quarter than in any quarter before, and the helpline now runs " +
			"until ten every evening. [Read the full report](https://lanternhouse.org.uk/reports/spring-" + strconv.Itoa(i) + ") " +
			"to see where every pound went, or [watch the short film](https://lanternhouse.org.uk/films/" + strconv.Itoa(i) + ") " +
			"our volunteers made about the move.\n\n")
		body.WriteString("- Forty-two families supported since January\n- Nine new volunteers trained in March\n" +
			"- One new partnership with the local housing association\n\n")
	}
	body.WriteString("Thank you, {{.FirstName}}. [Not for you any more? Unsubscribe]({{.UnsubscribeURL}}) or " +
		"[choose what you receive]({{.PreferencesURL}}).\n")
	return campaigns.Content{
		Subject:   "Spring news for {{.FirstName}}",
		Preheader: "The new safe house is open, and what your gifts did this spring",
		Body:      body.String(),
		Format:    vocab.FormatMarkdown,
	}
}

// buildBareMessages renders the content for k recipients with fixed links
// and builds them as go-mail messages, as the engine would send them.
func buildBareMessages(b *testing.B, content campaigns.Content, k int) []*gomail.Msg {
	id := charity.Identity{Name: "Lanternhouse Trust", Number: "1234567", Address: "PO Box 4127, Leeds LS1 1AA",
		Website: "https://lanternhouse.org.uk", LogoURL: "http://127.0.0.1/static/logo.png", AppURL: "http://127.0.0.1"}
	compiled, err := campaigns.Compile(content, templates.FS, id, nil)
	if err != nil {
		b.Fatal(err)
	}
	from := mail.Address{Name: "Lanternhouse Trust", Address: "news@lanternhouse.org.uk"}
	token := strings.Repeat("x", 160) // about the length of a signed link token
	out := make([]*gomail.Msg, k)
	for i := range out {
		email := fmt.Sprintf("reader%06d@example.org", i)
		unsub := id.AppURL + "/unsubscribe?token=" + token
		m, err := compiled.Render(campaigns.Recipient{FirstName: fmt.Sprintf("Reader%d", i), LastName: "Bench", Email: email,
			UnsubscribeURL: unsub, PreferencesURL: id.AppURL + "/preferences?token=" + token, WebURL: id.AppURL + "/view?token=" + token})
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			b.Logf("message HTML %d bytes, text %d bytes", len(m.HTML), len(m.Text))
		}
		msg, err := mailsend.Build(&mailsend.Message{
			From: from, To: mail.Address{Name: fmt.Sprintf("Reader%d Bench", i), Address: email},
			Subject: m.Subject, HTML: m.HTML, Text: m.Text, MessageID: mailsend.NewMessageID(from.Address),
			Headers: []mailsend.Header{
				{Name: "List-Unsubscribe", Value: "<" + unsub + ">"},
				{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
				{Name: "List-Id", Value: "Lanternhouse Trust: Newsletter <newsletter.lanternhouse.org.uk>"},
				{Name: "Precedence", Value: "bulk"},
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = msg
	}
	return out
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

// benchSink is the SMTP sink of one sub-benchmark.
type benchSink struct {
	name  string
	port  int
	count func() int // messages accepted so far
}

// expect checks the sink accepted want messages (waiting briefly for the
// sink's counter to catch up).
func (s *benchSink) expect(b *testing.B, want int) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := s.count()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s accepted %d messages, want %d", s.name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startBenchSink starts Postfix's smtp-sink on a free loopback port, or an
// in-process go-smtp server that discards the data when it isn't installed.
func startBenchSink(b *testing.B) *benchSink {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	bin, err := exec.LookPath("smtp-sink")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/smtp-sink")
	}
	if err != nil || os.Getenv("SUPPORTERCRM_BENCH_SINK") == "go" {
		return startGoSink(b, l)
	}
	l.Close()
	return startPostfixSink(b, bin, port)
}

var sinkCountRe = regexp.MustCompile(`mesg=(\d+)`)

func startPostfixSink(b *testing.B, bin string, port int) *benchSink {
	// -c writes running counters ("sess=N quit=N mesg=N\r") to stdout.
	out := filepath.Join(b.TempDir(), "smtp-sink.out")
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"-c", "-m", "1000"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	cmd := exec.Command(bin, append(args, "127.0.0.1:"+strconv.Itoa(port), "1024")...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("smtp-sink did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &benchSink{name: "postfix smtp-sink", port: port, count: func() int {
		data, err := os.ReadFile(out)
		if err != nil {
			return -1
		}
		m := sinkCountRe.FindAllSubmatch(data, -1)
		if len(m) == 0 {
			return 0
		}
		n, _ := strconv.Atoi(string(m[len(m)-1][1]))
		return n
	}}
}

func startGoSink(b *testing.B, l net.Listener) *benchSink {
	be := &discardBackend{}
	srv := smtp.NewServer(be)
	srv.Domain = "127.0.0.1"
	srv.MaxMessageBytes = 1 << 20
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return &benchSink{name: "in-process go-smtp (discard)", port: l.Addr().(*net.TCPAddr).Port, count: func() int { return int(be.n.Load()) }}
}

type discardBackend struct{ n atomic.Int64 }

func (d *discardBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return discardSession{d}, nil }

type discardSession struct{ d *discardBackend }

func (discardSession) Reset()                               {}
func (discardSession) Logout() error                        { return nil }
func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s discardSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.d.n.Add(1)
	return nil
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
