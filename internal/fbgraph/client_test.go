package fbgraph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"supportercrm/internal/fbgraph"
	"supportercrm/internal/tz"
)

const (
	pageID = "104857600000001"
	token  = "EAAB-secret-page-token-123"
)

var london = tz.London

// fakeGraph serves the fixtures in testdata/ as the Graph API would, with
// paging links rewritten to itself, and lets a test queue faults.
type fakeGraph struct {
	*httptest.Server
	mu       sync.Mutex
	faults   map[string][]func(w http.ResponseWriter) // by edge, used in order
	pages    map[string][]string                      // edge -> fixture files
	headers  http.Header                              // extra response headers
	requests atomic.Int64
	queries  []url.Values // of every request, in order
	t        *testing.T
}

func newFakeGraph(t *testing.T) *fakeGraph {
	f := &fakeGraph{t: t, faults: map[string][]func(http.ResponseWriter){}, headers: http.Header{},
		pages: map[string][]string{"posts": {"posts-page1.json", "posts-page2.json"}, "events": {"events-page1.json", "events-page2.json"}}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.Query())
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"An active access token must be used","type":"OAuthException","code":2500}}`)
		return
	}
	if r.URL.Query().Has("access_token") {
		f.t.Errorf("the token was sent in the URL: %s", r.URL.RawQuery)
	}
	if r.URL.Query().Get("fields") == "" {
		f.t.Errorf("no explicit fields in %s", r.URL)
	}
	edge := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	if !strings.HasPrefix(r.URL.Path, "/v26.0/"+pageID+"/") {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	if q := f.faults[edge]; len(q) > 0 {
		f.faults[edge] = q[1:]
		f.mu.Unlock()
		q[0](w)
		return
	}
	f.mu.Unlock()
	for k, v := range f.headers {
		w.Header()[k] = v
	}
	files := f.pages[edge]
	n := 0
	if after := r.URL.Query().Get("after"); after != "" {
		n = 1
	}
	if n >= len(files) {
		http.NotFound(w, r)
		return
	}
	body, err := os.ReadFile("testdata/" + files[n])
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprint(w, strings.ReplaceAll(string(body), "https://graph.facebook.com", f.URL))
}

func (f *fakeGraph) fail(edge string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[edge] = append(f.faults[edge], func(w http.ResponseWriter) {
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}

func fixture(t *testing.T, name string) string {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func client(t *testing.T, f *fakeGraph) *fbgraph.Client {
	c, err := fbgraph.New(fbgraph.Config{BaseURL: f.URL, PageID: pageID, Token: token, Backoff: time.Millisecond, MaxPages: 5})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPostsFollowEveryPageAndFindEventPosts(t *testing.T) {
	f := newFakeGraph(t)
	posts, err := client(t, f).Posts(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 5 {
		t.Fatalf("posts = %d, want 5 over two pages", len(posts))
	}
	var events []fbgraph.Post
	for _, p := range posts {
		if p.Event() != nil {
			events = append(events, p)
		}
	}
	if len(events) != 2 {
		t.Fatalf("event posts = %d, want 2", len(events))
	}
	p := events[0]
	a := p.Event()
	if a.Title != "Winter Sleep-Out for Safe Homes" || a.Target.ID != "1234567890123456" || a.Media.Image.Src == "" || !strings.Contains(p.Message, "🏠") {
		t.Errorf("event post = %+v, attachment %+v", p, a)
	}
	if !p.Updated.Equal(time.Date(2026, 11, 21, 16, 40, 5, 0, time.UTC)) {
		t.Errorf("updated = %v", p.Updated)
	}
}

func TestEventsEdgeFields(t *testing.T) {
	f := newFakeGraph(t)
	events, err := client(t, f).Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]fbgraph.Event{}
	for _, e := range events {
		byID[e.ID] = e
	}
	online, carols := byID["2345678901234567"], byID["4567890123456789"]
	if !online.Online || online.OnlineURL != "https://meet.example.org/briefing" || len(online.Times) != 2 ||
		!online.Times[1].Start.Equal(time.Date(2027, 2, 17, 19, 30, 0, 0, time.UTC)) {
		t.Errorf("online event = %+v", online)
	}
	if !carols.Canceled || !carols.Start.DateOnly || carols.Start.Format("2006-01-02") != "2026-12-20" || !carols.End.IsZero() || carols.Place.String() != "St Mary's Church" {
		t.Errorf("cancelled event = %+v", carols)
	}
	if len(events) < 3 {
		t.Errorf("events = %d over two pages", len(events))
	}
}

func TestErrorsAreTyped(t *testing.T) {
	cases := []struct {
		name, fixture string
		status        int
		kind          fbgraph.Kind
		want          string
	}{
		{"expired token", "error-190-expired.json", 400, fbgraph.TokenInvalid, "subcode 463"},
		{"app limit", "error-4-app-limit.json", 403, fbgraph.RateLimited, "code 4"},
		{"hourly limit", "error-613-hourly.json", 400, fbgraph.RateLimited, "code 613"},
		{"events edge refused", "error-100-33-events-restricted.json", 400, fbgraph.NotPermitted, "FACEBOOK_SOURCE=posts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeGraph(t)
			f.fail("events", c.status, fixture(t, c.fixture))
			_, err := client(t, f).Events(context.Background())
			var ge *fbgraph.Error
			if !errors.As(err, &ge) || ge.Kind != c.kind || !strings.Contains(err.Error(), c.want) || ge.TraceID == "" {
				t.Fatalf("err = %v, want kind %s containing %q", err, c.kind, c.want)
			}
			if n := f.requests.Load(); n != 1 {
				t.Errorf("%d requests for a non-transient error, want 1", n)
			}
		})
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	f := newFakeGraph(t)
	f.fail("posts", 500, "<html>Internal Server Error</html>")
	f.fail("posts", 503, `{"error":{"message":"An unknown error occurred","code":1}}`)
	posts, err := client(t, f).Posts(context.Background(), time.Time{})
	if err != nil || len(posts) != 5 {
		t.Fatalf("after a 500 and a 503: %d posts, %v", len(posts), err)
	}
	g := newFakeGraph(t)
	for range 3 {
		g.fail("posts", 502, "bad gateway")
	}
	_, err = client(t, g).Posts(context.Background(), time.Time{})
	var ge *fbgraph.Error
	if !errors.As(err, &ge) || ge.Kind != fbgraph.Transient || g.requests.Load() != 3 {
		t.Fatalf("three 502s: %v after %d requests", err, g.requests.Load())
	}
}

func TestMalformedResponsesAreErrorsNotPanics(t *testing.T) {
	for name, body := range map[string]string{
		"not json":        "<html>hello</html>",
		"truncated":       `{"data":[{"id":"1","created_time":"2026-`,
		"no data":         `{"paging":{}}`,
		"bad time":        `{"data":[{"id":"1","created_time":"yesterday"}]}`,
		"wrong type":      `{"data":[{"id":1}]}`,
		"attachments odd": `{"data":[{"id":"1","attachments":"x"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeGraph(t)
			f.fail("posts", 200, body)
			_, err := client(t, f).Posts(context.Background(), time.Time{})
			var ge *fbgraph.Error
			if !errors.As(err, &ge) || ge.Kind != fbgraph.Malformed {
				t.Fatalf("err = %v, want malformed", err)
			}
		})
	}
}

func TestTokenNeverAppearsInErrors(t *testing.T) {
	f := newFakeGraph(t)
	f.fail("posts", 400, `{"error":{"message":"Invalid OAuth access token - Cannot parse access token `+token+`","code":190,"fbtrace_id":"X"}}`)
	_, err := client(t, f).Posts(context.Background(), time.Time{})
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("err = %v", err)
	}
	// A next link that echoes the token is followed without it (the fake
	// server fails the test if a token arrives in a URL).
	g := newFakeGraph(t)
	g.fail("posts", 200, `{"data":[],"paging":{"next":"`+g.URL+`/v26.0/`+pageID+`/posts?fields=id&access_token=`+token+`&after=x"}}`)
	if _, err := client(t, g).Posts(context.Background(), time.Time{}); err != nil {
		t.Fatal(err)
	}
}

func TestPagingStaysOnTheGraphHostAndIsCapped(t *testing.T) {
	other := newFakeGraph(t)
	f := newFakeGraph(t)
	f.fail("posts", 200, `{"data":[],"paging":{"next":"`+other.URL+`/v26.0/`+pageID+`/posts?fields=id&after=x"}}`)
	_, err := client(t, f).Posts(context.Background(), time.Time{})
	if err == nil || other.requests.Load() != 0 {
		t.Fatalf("a next link to another host: err %v, requests there %d", err, other.requests.Load())
	}
	g := newFakeGraph(t)
	for range 10 {
		g.fail("posts", 200, `{"data":[{"id":"1"}],"paging":{"next":"`+g.URL+`/v26.0/`+pageID+`/posts?fields=id&after=y"}}`)
	}
	posts, err := client(t, g).Posts(context.Background(), time.Time{})
	var ge *fbgraph.Error
	if !errors.As(err, &ge) || ge.Kind != fbgraph.Capped || len(posts) != 5 {
		t.Fatalf("endless paging: %d posts, err %v; want the 5-page cap", len(posts), err)
	}
}

// Posts since a time ask Graph for them with since (Unix seconds) on every
// page, even when Facebook's paging.next link leaves it out (the fixture's
// does); without a time, the whole feed is asked for.
func TestPostsSinceAskEveryPageWithSince(t *testing.T) {
	f := newFakeGraph(t)
	since := time.Date(2025, 11, 30, 12, 0, 0, 0, time.UTC)
	posts, err := client(t, f).Posts(context.Background(), since)
	if err != nil || len(posts) != 5 {
		t.Fatalf("posts since = %d, %v", len(posts), err)
	}
	if len(f.queries) != 2 {
		t.Fatalf("%d requests, want 2", len(f.queries))
	}
	for i, q := range f.queries {
		if q.Get("since") != "1764504000" || q.Get("fields") == "" {
			t.Errorf("request %d: %v, want since=1764504000", i+1, q)
		}
	}
	if f.queries[1].Get("after") == "" {
		t.Errorf("the second request lost the cursor: %v", f.queries[1])
	}
	g := newFakeGraph(t)
	if _, err := client(t, g).Posts(context.Background(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, q := range g.queries {
		if q.Has("since") {
			t.Errorf("since without a time: %v", q)
		}
	}
}

func TestUsageNearTheLimitStopsEarly(t *testing.T) {
	f := newFakeGraph(t)
	f.headers.Set("X-Business-Use-Case-Usage", `{"`+pageID+`":[{"type":"pages","call_count":97,"total_cputime":10,"total_time":12,"estimated_time_to_regain_access":0}]}`)
	posts, err := client(t, f).Posts(context.Background(), time.Time{})
	var ge *fbgraph.Error
	if !errors.As(err, &ge) || ge.Kind != fbgraph.RateLimited || len(posts) != 3 || f.requests.Load() != 1 {
		t.Fatalf("at 97%% usage: %d posts, %d requests, err %v", len(posts), f.requests.Load(), err)
	}
}

func TestHugeTextAndEmoji(t *testing.T) {
	f := newFakeGraph(t)
	desc := strings.Repeat("Safe homes 🏠 for survivors. ", 40000) // ~1.1 MB
	f.fail("events", 200, `{"data":[{"id":"9","name":"Sleep-out 🌙","description":"`+desc+`","start_time":"2026-12-05T18:00:00+0000"}]}`)
	events, err := client(t, f).Events(context.Background())
	if err != nil || len(events) != 1 || events[0].Description != desc || events[0].Name != "Sleep-out 🌙" {
		t.Fatalf("huge event: %v", err)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2026-12-05T18:00:00+0000":  time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC),
		"2026-07-05T18:00:00+0100":  time.Date(2026, 7, 5, 17, 0, 0, 0, time.UTC),
		"2026-07-05T18:00:00+01:00": time.Date(2026, 7, 5, 17, 0, 0, 0, time.UTC),
		"2026-12-20":                time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC),
		"":                          {},
	} {
		got, err := fbgraph.ParseTime(in)
		if err != nil || !got.Equal(want) || got.DateOnly != (len(in) == 10) {
			t.Errorf("ParseTime(%q) = %v (date only %v), %v", in, got, got.DateOnly, err)
		}
	}
	for _, bad := range []string{"yesterday", "2026-13-01", "05/12/2026 18:00"} {
		if _, err := fbgraph.ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
	// Across the October clock change the same UTC hour reads differently in London.
	before, _ := fbgraph.ParseTime("2027-10-31T00:30:00+0000")
	after, _ := fbgraph.ParseTime("2027-10-31T01:30:00+0000")
	if b, a := before.In(london).Format("15:04 MST"), after.In(london).Format("15:04 MST"); b != "01:30 BST" || a != "01:30 GMT" {
		t.Errorf("London times = %s and %s", b, a)
	}
}

func TestNewNeedsPageAndToken(t *testing.T) {
	for _, cfg := range []fbgraph.Config{{PageID: pageID}, {Token: token}, {PageID: pageID, Token: token, BaseURL: "::"}} {
		if _, err := fbgraph.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		} else if strings.Contains(err.Error(), token) {
			t.Errorf("error shows the token: %v", err)
		}
	}
}

// A request that times out is retried; one that always does is a
// transient error (the next run tries again), never a hang.
func TestTimeoutsAreRetried(t *testing.T) {
	var requests atomic.Int64
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	serve := func(always bool) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n := requests.Add(1); always || n == 1 {
				select { // hold the answer until the client gives up
				case <-r.Context().Done():
				case <-hang:
				}
				return
			}
			fmt.Fprint(w, `{"data":[{"id":"`+pageID+`_1","created_time":"2026-11-20T09:12:00+0000","status_type":"created_event"}]}`)
		}))
		t.Cleanup(s.Close)
		return s
	}
	for _, c := range []struct {
		always  bool
		timeout time.Duration
	}{{false, 2 * time.Second}, {true, 200 * time.Millisecond}} {
		requests.Store(0)
		s := serve(c.always)
		cl, err := fbgraph.New(fbgraph.Config{BaseURL: s.URL, PageID: pageID, Token: token, Backoff: time.Millisecond,
			Client: &http.Client{Timeout: c.timeout}})
		if err != nil {
			t.Fatal(err)
		}
		posts, err := cl.Posts(context.Background(), time.Time{})
		if !c.always {
			if err != nil || len(posts) != 1 || requests.Load() != 2 {
				t.Fatalf("after one timeout: %d posts, %d requests, %v", len(posts), requests.Load(), err)
			}
			continue
		}
		var ge *fbgraph.Error
		if !errors.As(err, &ge) || ge.Kind != fbgraph.Transient || requests.Load() != 3 || strings.Contains(err.Error(), token) {
			t.Fatalf("always timing out: %d requests, %v", requests.Load(), err)
		}
	}
}
