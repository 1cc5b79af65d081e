package signup_test

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// benchClients is the number of concurrent HTTP clients, like wrk -c 8.
const benchClients = 8

// BenchmarkSignupHTTP measures double opt-in signups per second through POST
// /api/subscribe (JSON) into SQLite, each a new address, with 8 concurrent
// clients on loopback. The outbox worker mails the confirmations to the SMTP
// sink meanwhile, as in production. The per-IP rate limiter is off (testkit's
// default).
func BenchmarkSignupHTTP(b *testing.B) {
	benchSignups(b, func(*testkit.Env) func(email string) (string, string) {
		return func(email string) (string, string) {
			return "application/json", `{"email":"` + email + `","first_name":"Bench","last_name":"Mark","topics":["newsletter","events"],"consent":true}`
		}
	}, "/api/subscribe")
}

// BenchmarkSignupHTTPForm is the same through POST /subscribe (the signup
// page's form), with one form token fetched from GET / and reused.
func BenchmarkSignupHTTPForm(b *testing.B) {
	benchSignups(b, func(env *testkit.Env) func(email string) (string, string) {
		status, page := env.Do(b, http.MethodGet, "/", "", "")
		m := formTokenRe.FindStringSubmatch(page)
		if status != http.StatusOK || m == nil {
			b.Fatalf("GET / = %d, form token found: %v", status, m != nil)
		}
		token := m[1]
		return func(email string) (string, string) {
			return "application/x-www-form-urlencoded", url.Values{
				"form_token": {token}, "email": {email}, "first_name": {"Bench"}, "last_name": {"Mark"},
				"topics": {"newsletter", "events"}, "consent": {"true"},
			}.Encode()
		}
	}, "/subscribe")
}

func benchSignups(b *testing.B, setup func(*testkit.Env) func(email string) (contentType, body string), path string) {
	env := testkit.Start(b, testkit.Options{Configure: func(c *pb_hooks.Config) { c.MinSubmit = 0 }})
	request := setup(env)
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        benchClients,
		MaxIdleConnsPerHost: benchClients,
		IdleConnTimeout:     time.Minute,
	}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	type job struct{ contentType, body string }
	jobs := make([]job, b.N)
	for i := range jobs {
		jobs[i].contentType, jobs[i].body = request(fmt.Sprintf("bench-%d@example.org", i))
	}
	var (
		next     atomic.Int64
		accepted atomic.Int64
		failMu   sync.Mutex
		failure  string
		lat      = make([][]time.Duration, benchClients)
		wg       sync.WaitGroup
	)
	fail := func(msg string) {
		failMu.Lock()
		if failure == "" {
			failure = msg
		}
		failMu.Unlock()
	}

	b.ResetTimer()
	start := time.Now()
	for c := range benchClients {
		wg.Go(func() {
			mine := make([]time.Duration, 0, b.N/benchClients+1)
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					break
				}
				t0 := time.Now()
				req, err := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(jobs[i].body))
				if err != nil {
					fail(err.Error())
					continue
				}
				req.Header.Set("Content-Type", jobs[i].contentType)
				res, err := client.Do(req)
				if err != nil {
					fail(err.Error())
					continue
				}
				body, _ := io.ReadAll(res.Body) // read to the end so the connection is reused
				res.Body.Close()
				mine = append(mine, time.Since(t0))
				if res.StatusCode == http.StatusAccepted {
					accepted.Add(1)
				} else {
					fail(fmt.Sprintf("request %d: HTTP %d: %.300s", i, res.StatusCode, body))
				}
			}
			lat[c] = mine
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	// The outbox worker shares the CPU with the handlers (and the sink is in
	// this process): report how much mail it delivered during the run.
	b.ReportMetric(float64(len(env.SMTP.Mails()))/elapsed.Seconds(), "mails/s")

	// The figures count only if every request did what it should: 202, and
	// one new supporter (with its consent row and queued mail) for each.
	if failure != "" {
		b.Fatalf("%d of %d requests accepted; first failure: %s", accepted.Load(), b.N, failure)
	}
	if got := accepted.Load(); got != int64(b.N) {
		b.Fatalf("%d of %d requests accepted", got, b.N)
	}
	for _, c := range []string{vocab.Supporters, vocab.Consents, vocab.Outbox} {
		n, err := env.App.CountRecords(c)
		if err != nil {
			b.Fatal(err)
		}
		if n != int64(b.N) {
			b.Fatalf("%s rows = %d after %d signups", c, n, b.N)
		}
	}

	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "signups/s")
	b.ReportMetric(ms(percentile(all, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(all, 0.99)), "p99-ms")
	if b.N > 1 {
		b.Logf("%d signups in %v; %d confirmation mails reached the sink meanwhile", b.N, elapsed.Round(time.Millisecond), len(env.SMTP.Mails()))
	}
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p)) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
