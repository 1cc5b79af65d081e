package testkit

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"supportercrm/internal/outbox"
	"supportercrm/pb_hooks"
	_ "supportercrm/pb_migrations"
)

// TestSecret is the link-signing secret test apps use (64 hex chars).
const TestSecret = "7465737420736563726574207465737420736563726574207465737420736563"

// Env is a running app.
type Env struct {
	App  *tests.TestApp
	URL  string // base URL of the HTTP server, no trailing slash
	SMTP *SMTPSink
}

// Options adjust a test app before it starts.
type Options struct {
	// SMTPDown leaves the relay stopped; call Env.SMTP.Start to bring it up.
	SMTPDown bool
	// RateLimits keeps PocketBase's limiter on (it is switched off by default
	// in tests so that many requests from 127.0.0.1 are not refused).
	RateLimits bool
	// Configure edits the app configuration.
	Configure func(*pb_hooks.Config)
	// SampleIdentity keeps the shipped example identity (under which no
	// campaign can be scheduled) instead of RealIdentity's.
	SampleIdentity bool
}

// Start runs the app with its routes and workers on loopback.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := pb_hooks.Config{
		TokenSecret: TestSecret,
		ResendAfter: 10 * time.Minute,
		Outbox:      outbox.Config{PollInterval: 50 * time.Millisecond, RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, DialMax: 200 * time.Millisecond},
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	if err := pb_hooks.Register(app, cfg); err != nil {
		t.Fatal(err)
	}
	sink := NewSMTPSink(t)
	if !opts.SMTPDown {
		sink.Start(t)
	}

	// The settings are saved before OnServe starts the workers (outbox,
	// campaign engine, cron ticks), as they are in the database before
	// `serve` in production: saving them later rewrites the settings that
	// those goroutines read. The listener is opened first for the URL.
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(func() {
		srv.Close()
		app.Cleanup()
	})
	base := "http://" + srv.Listener.Addr().String()
	s := app.Settings()
	s.Meta.AppURL = base
	s.SMTP.Enabled = true
	s.SMTP.Host = "127.0.0.1"
	s.SMTP.Port = sink.Port
	s.RateLimits.Enabled = opts.RateLimits
	if err := app.Save(s); err != nil {
		t.Fatal(err)
	}
	if !opts.SampleIdentity {
		RealIdentity(t, app)
	}

	router, err := apis.NewRouter(app)
	if err != nil {
		t.Fatal(err)
	}
	// As `serve` does: PocketBase's CORS for every path, any origin.
	router.Bind(apis.CORS(apis.CORSConfig{AllowOrigins: []string{"*"}}))
	err = app.OnServe().Trigger(&core.ServeEvent{App: app, Router: router, Server: &http.Server{}}, func(e *core.ServeEvent) error {
		mux, err := e.Router.BuildMux()
		if err != nil {
			return err
		}
		srv.Config.Handler = mux
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	return &Env{App: app, URL: srv.URL, SMTP: sink}
}

// Client is an HTTP client that doesn't follow redirects.
var Client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Do sends a request and returns the status and body.
func (e *Env) Do(t testing.TB, method, path, contentType, body string) (int, string) {
	t.Helper()
	return e.send(t, method, path, contentType, "", body)
}

// PostJSON posts a JSON body to path.
func (e *Env) PostJSON(t testing.TB, path, body string) (int, string) {
	return e.Do(t, http.MethodPost, path, "application/json", body)
}

// PostForm posts form values to path.
func (e *Env) PostForm(t testing.TB, path string, v url.Values) (int, string) {
	return e.Do(t, http.MethodPost, path, "application/x-www-form-urlencoded", v.Encode())
}

// Count returns how many records of collection match the filter.
func (e *Env) Count(t testing.TB, collection, filter string) int {
	t.Helper()
	recs, err := e.App.FindRecordsByFilter(collection, filter, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// Link finds the first URL in s that starts with the app's base URL and path.
func (e *Env) Link(t testing.TB, s, path string) string {
	t.Helper()
	prefix := e.URL + path
	i := strings.Index(s, prefix)
	if i < 0 {
		t.Fatalf("no %s link in:\n%s", prefix, s)
	}
	end := strings.IndexAny(s[i:], " \r\n\"'<>")
	if end < 0 {
		end = len(s) - i
	}
	return s[i : i+end]
}

// Eventually waits up to timeout for cond, checking every 20 ms, and fails
// the test if it never holds.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met within %s", timeout)
}
