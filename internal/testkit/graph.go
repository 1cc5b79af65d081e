package testkit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// GraphPageID is the Page the fake Graph API serves.
const GraphPageID = "104857600000001"

// Graph is a fake Facebook Graph API: each edge serves the pages a test
// sets, in the documented JSON shape, linked by paging.next. A request with
// since (Unix seconds) gets only the items created at or after it: pages
// left empty are skipped, so a long feed before since is never served, and
// paging.next carries since on.
type Graph struct {
	*httptest.Server
	mu       sync.Mutex
	pages    map[string][]string // edge -> data arrays (JSON), one per page
	fail     map[string]string   // "edge/page" -> error body served instead
	status   map[string]int      // "edge/page" -> status for the error body
	left     map[string]int      // "edge/page" -> failures left (absent: until Heal)
	hold     chan struct{}       // when set, requests wait on it
	held     chan struct{}       // signalled when a request starts waiting
	requests int
	queries  []url.Values
}

// NewGraph starts a fake Graph API on loopback.
func NewGraph(t testing.TB) *Graph {
	g := &Graph{pages: map[string][]string{}, fail: map[string]string{}, status: map[string]int{}, left: map[string]int{}}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *Graph) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	hold, held := g.hold, g.held
	g.requests++
	g.queries = append(g.queries, r.URL.Query())
	g.mu.Unlock()
	if hold != nil {
		select {
		case held <- struct{}{}:
		default:
		}
		<-hold
	}
	edge := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	n, _ := strconv.Atoi(r.URL.Query().Get("after"))
	g.mu.Lock()
	defer g.mu.Unlock()
	key := fmt.Sprintf("%s/%d", edge, n)
	if body, ok := g.fail[key]; ok {
		status := g.status[key]
		if n, counted := g.left[key]; counted {
			if n <= 1 {
				delete(g.fail, key)
			}
			g.left[key] = n - 1
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
		return
	}
	pages := g.pages[edge]
	carry := ""
	if v := r.URL.Query().Get("since"); v != "" {
		since, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"(#100) Invalid since","type":"OAuthException","code":100,"fbtrace_id":"F"}}`)
			return
		}
		pages, carry = createdSince(pages, time.Unix(since, 0)), "&since="+v
	}
	if n >= len(pages) {
		fmt.Fprint(w, `{"data":[]}`)
		return
	}
	next := ""
	if n+1 < len(pages) {
		next = fmt.Sprintf(`,"paging":{"cursors":{"after":"%d"},"next":"%s/v26.0/%s/%s?fields=id&limit=25%s&after=%d"}`, n+1, g.URL, GraphPageID, edge, carry, n+1)
	}
	fmt.Fprintf(w, `{"data":%s%s}`, pages[n], next)
}

// createdSince keeps the items of each page created at or after since
// (items without a created_time, or a malformed page, are kept as they are)
// and drops the pages left empty.
func createdSince(pages []string, since time.Time) []string {
	var out []string
	for _, p := range pages {
		var items []json.RawMessage
		if json.Unmarshal([]byte(p), &items) != nil {
			out = append(out, p)
			continue
		}
		var kept []string
		for _, it := range items {
			var post struct {
				Created string `json:"created_time"`
			}
			_ = json.Unmarshal(it, &post)
			if t, err := time.Parse("2006-01-02T15:04:05-0700", post.Created); err == nil && t.Before(since) {
				continue
			}
			kept = append(kept, string(it))
		}
		if len(kept) > 0 {
			out = append(out, "["+strings.Join(kept, ",")+"]")
		}
	}
	return out
}

// Set makes edge ("posts" or "events") serve these pages, each a JSON array.
func (g *Graph) Set(edge string, pages ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pages[edge] = pages
}

// Fail makes page n (from 0) of edge answer status with body, until Heal.
func (g *Graph) Fail(edge string, n, status int, body string) {
	g.FailTimes(edge, n, -1, status, body)
}

// FailTimes is Fail for the next times requests only (all, if negative).
func (g *Graph) FailTimes(edge string, n, times, status int, body string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := fmt.Sprintf("%s/%d", edge, n)
	g.fail[key], g.status[key] = body, status
	if times >= 0 {
		g.left[key] = times
	}
}

// Heal removes every failure.
func (g *Graph) Heal() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.fail)
	clear(g.status)
	clear(g.left)
}

// Hold makes requests wait until the returned release is called; held
// receives once a request is waiting.
func (g *Graph) Hold() (held <-chan struct{}, release func()) {
	h, c := make(chan struct{}), make(chan struct{}, 1)
	g.mu.Lock()
	g.hold, g.held = h, c
	g.mu.Unlock()
	return c, func() {
		g.mu.Lock()
		g.hold = nil
		g.mu.Unlock()
		close(h)
	}
}

// Requests counts the requests served.
func (g *Graph) Requests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.requests
}

// Queries returns the query of each request served, in order.
func (g *Graph) Queries() []url.Values {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]url.Values(nil), g.queries...)
}

// PostTime is when EventPost and OrdinaryPost were published: ten days
// before the tests started, so that they are inside the posts sync's window
// (the last year, by default) whenever the tests run.
var PostTime = time.Now().UTC().Truncate(time.Hour).AddDate(0, 0, -10)

// GraphTime formats t as the Graph API does ("2026-11-20T09:12:00+0000").
func GraphTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05-0700")
}

// EventPost is a Page post announcing an event, as the feed shows it,
// published at PostTime.
func EventPost(eventID, title, updated string) string {
	return EventPostAt(eventID, title, PostTime, updated)
}

// EventPostAt is EventPost published at the given time.
func EventPostAt(eventID, title string, posted time.Time, updated string) string {
	return fmt.Sprintf(`{"id":"%s_9%s","created_time":"%s","updated_time":"%s","message":"%s 🏠\nJoin us!",
		"permalink_url":"https://www.facebook.com/%s/posts/9%s","status_type":"created_event",
		"attachments":{"data":[{"type":"event","title":"%s","url":"https://www.facebook.com/events/%s/",
		"target":{"id":"%s","url":"https://www.facebook.com/events/%s/"},"media":{"image":{"src":"https://scontent.example.net/%s.jpg"}}}]}}`,
		GraphPageID, eventID, GraphTime(posted), updated, title, GraphPageID, eventID, title, eventID, eventID, eventID, eventID)
}

// OrdinaryPost is a Page post that announces nothing, published at PostTime.
var OrdinaryPost = `{"id":"104857600000001_1","created_time":"` + GraphTime(PostTime) + `","updated_time":"` + GraphTime(PostTime) + `","message":"Thank you all","status_type":"mobile_status_update"}`
