package giftaid_test

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// giving puts a donation and a pledge on sup's record.
func giving(t *testing.T, env *testkit.Env, sup *core.Record, donationPence, pledgePence int) {
	t.Helper()
	donate(t, env, sup, donationPence, "card", time.Now().AddDate(0, -2, 0))
	p := core.NewRecord(testkit.Collection(t, env.App, vocab.Pledges))
	p.Load(map[string]any{"supporter": sup.Id, "purpose": "Sponsor a room", "amount_pence": pledgePence,
		"frequency": vocab.PledgeMonthly, "starts_on": time.Now().AddDate(0, -1, 0), "status": vocab.PledgeActive})
	if err := env.App.Save(p); err != nil {
		t.Fatal(err)
	}
}

// A newsletter gets forwarded. Everything its links lead to, followed by
// someone else with no session (every page, and every form on them submitted
// as it stands), shows no home address, postcode or giving of its reader and
// nothing of any other supporter, and never reaches the Gift Aid page.
func TestForwardedNewsletter(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	topic, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	reader := donor(t, env, "reader@example.org")
	other := supporter(t, env, "bertha.benz@example.org", vocab.StatusSubscribed)
	other.Load(map[string]any{"first_name": "Bertha", "last_name": "Benz", "address": "9 Quay Street\nManchester", "postcode": "M3 3JE"})
	for _, s := range []*core.Record{reader, other} {
		s.Set("topics", []string{topic.Id})
		s.Set("tags", []string{"vigil-volunteer-2025"})
		s.Set("notes", "Met at the Headingley vigil; prefers phone calls")
		if err := env.App.Save(s); err != nil {
			t.Fatal(err)
		}
	}
	giving(t, env, reader, 4321, 1337)
	giving(t, env, other, 9876, 2468)

	// Nothing of these may appear. The reader's own name and address are the
	// subscription, and may.
	forbidden := append(slices.Clone(homeParts), homeArea, "43.21", "13.37", "Sponsor a room",
		"declaration", "Cancel my Gift Aid", "vigil-volunteer-2025", "Headingley vigil",
		"bertha", "Bertha", "Benz", "Quay Street", "M3 3JE", "98.76", "24.68")

	testkit.DueCampaign(t, env.App, "Winter news for {{.FirstName}}",
		"Dear {{.FirstName}},\n\nThis winter we opened a third house. [See what's on]("+env.URL+"/events) or [tell a friend]("+env.URL+"/).")
	var campaign testkit.Mail
	testkit.Eventually(t, 15*time.Second, func() bool {
		for _, m := range env.SMTP.To("reader@example.org") {
			if m.Header.Get("List-Id") != "" {
				campaign = m
				return true
			}
		}
		return false
	})
	env.SMTP.WaitFor(t, "bertha.benz@example.org", 1, 10*time.Second)
	mailsBefore := len(env.SMTP.Mails())

	c := &crawler{t: t, env: env, forbidden: forbidden, seen: map[string]bool{}}
	for _, part := range []string{campaign.HTML, campaign.Text} {
		c.leak("the campaign message", part)
	}
	c.links("the campaign's HTML", hrefs(parse(t, []byte(campaign.HTML))))
	c.links("the campaign's text", textLinks.FindAllString(campaign.Text, -1))
	c.links("the List-Unsubscribe header", regexp.MustCompile(`<(http[^>]+)>`).FindAllString(campaign.Header.Get("List-Unsubscribe"), -1))
	c.run()
	t.Logf("followed %d requests: %v", len(c.seen), c.did)

	for _, want := range []string{"GET /view", "GET /preferences", "GET /unsubscribe", "POST /preferences", "POST /unsubscribe", "POST /gift-aid/request", "GET /events"} {
		if !c.did[want] {
			t.Errorf("the crawl never did %s; it did %v", want, c.did)
		}
	}
	if c.did["GET /gift-aid"] || c.did["POST /gift-aid"] {
		t.Errorf("the Gift Aid page was reached from the newsletter: %v", c.did)
	}
	// Every token the newsletter's links carry, tried on the Gift Aid page.
	for tok := range c.tokens {
		if status, body := get(t, env, "/gift-aid?token="+url.QueryEscape(tok)); status != http.StatusBadRequest {
			t.Errorf("a token from the newsletter opens the Gift Aid page (%d):\n%s", status, body)
		}
	}
	// The Gift Aid button queued a link for the reader at the address on
	// file (the crawl's unsubscribe may have cancelled it since); nobody else
	// got anything.
	if n := env.Count(t, vocab.Outbox, "kind = 'gift_aid_link' && to = 'reader@example.org'"); n == 0 {
		t.Error("the Gift Aid button queued no link for the reader")
	}
	if n := env.Count(t, vocab.Outbox, "to != 'reader@example.org'"); n != 0 {
		t.Errorf("%d messages queued for others", n)
	}
	time.Sleep(300 * time.Millisecond)
	for _, m := range env.SMTP.Mails()[mailsBefore:] {
		if len(m.To) != 1 || m.To[0] != "reader@example.org" {
			t.Errorf("the crawl made mail go to %v", m.To)
		}
	}
}

// textLinks finds the URLs in a plain-text part.
var textLinks = regexp.MustCompile(`https?://[^\s<>"]+`)

func parse(t *testing.T, page []byte) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// hrefs lists every link and resource a page refers to.
func hrefs(doc *goquery.Document) []string {
	var out []string
	doc.Find("[href], [src]").Each(func(_ int, s *goquery.Selection) {
		for _, attr := range []string{"href", "src"} {
			if v, ok := s.Attr(attr); ok {
				out = append(out, v)
			}
		}
	})
	return out
}

// crawler follows same-origin links breadth first as a stranger would: no
// cookies, no login, redirects followed by hand.
type crawler struct {
	t         *testing.T
	env       *testkit.Env
	forbidden []string
	seen      map[string]bool // requests made: method, URL and body
	queue     []request
	did       map[string]bool // "METHOD /path" done
	tokens    map[string]bool
}

type request struct {
	from, method, url string
	form              url.Values
}

// links queues the app's own URLs among found (relative ones resolved against
// the app); others (the charity's website) are not the app's to check.
func (c *crawler) links(from string, found []string) {
	base, _ := url.Parse(c.env.URL + "/")
	for _, l := range found {
		u, err := base.Parse(strings.TrimRight(strings.TrimSpace(html.UnescapeString(l)), ").,;"))
		if err != nil || u.Scheme+"://"+u.Host != c.env.URL {
			continue
		}
		u.Fragment = ""
		c.queue = append(c.queue, request{from: from, method: http.MethodGet, url: u.String()})
	}
}

func (c *crawler) run() {
	c.did, c.tokens = map[string]bool{}, map[string]bool{}
	for len(c.queue) > 0 && len(c.seen) < 200 {
		r := c.queue[0]
		c.queue = c.queue[1:]
		key := r.method + " " + r.url + " " + r.form.Encode()
		if c.seen[key] {
			continue
		}
		c.seen[key] = true
		c.visit(r)
	}
	if len(c.queue) > 0 {
		c.t.Errorf("the crawl didn't end after %d requests", len(c.seen))
	}
}

func (c *crawler) visit(r request) {
	t := c.t
	u, _ := url.Parse(r.url)
	c.did[r.method+" "+u.Path] = true
	if tok := u.Query().Get("token"); tok != "" {
		c.tokens[tok] = true
	}
	if tok := r.form.Get("token"); tok != "" {
		c.tokens[tok] = true
	}
	var body io.Reader
	if r.method == http.MethodPost {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequest(r.method, r.url, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := testkit.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	where := r.method + " " + u.Path + " (from " + r.from + ")"
	if res.StatusCode >= 500 {
		t.Errorf("%s = %d", where, res.StatusCode)
	}
	if loc := res.Header.Get("Location"); loc != "" {
		if next, err := u.Parse(loc); err == nil {
			c.links(where, []string{next.String()})
		}
	}
	c.leak(where, string(raw))
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		return
	}
	doc := parse(t, raw)
	c.links(where, hrefs(doc))
	doc.Find("form").Each(func(_ int, f *goquery.Selection) {
		action, _ := f.Attr("action")
		target, err := u.Parse(html.UnescapeString(action))
		if err != nil {
			t.Errorf("%s: form action %q", where, action)
			return
		}
		method := strings.ToUpper(f.AttrOr("method", http.MethodGet))
		v := formValues(f)
		if method == http.MethodGet {
			target.RawQuery = v.Encode()
			v = nil
		}
		if target.Scheme+"://"+target.Host == c.env.URL {
			c.queue = append(c.queue, request{from: "a form on " + where, method: method, url: target.String(), form: v})
		}
	})
}

// formValues is what a browser submits for a form left as it is.
func formValues(f *goquery.Selection) url.Values {
	v := url.Values{}
	f.Find("input, textarea, select").Each(func(_ int, s *goquery.Selection) {
		name, ok := s.Attr("name")
		if !ok {
			return
		}
		switch goquery.NodeName(s) {
		case "textarea":
			v.Add(name, s.Text())
		case "select":
			v.Add(name, s.Find("option[selected]").AttrOr("value", ""))
		default:
			switch s.AttrOr("type", "text") {
			case "checkbox", "radio":
				if _, on := s.Attr("checked"); on {
					v.Add(name, s.AttrOr("value", "on"))
				}
			case "submit", "button", "image", "file":
			default:
				v.Add(name, s.AttrOr("value", ""))
			}
		}
	})
	return v
}

// signed matches a signed link token, whose random-looking signature could
// happen to contain a forbidden string such as "LS6".
var signed = regexp.MustCompile(`[a-z_]+\.[a-z0-9]*\.[0-9a-z]+\.[0-9a-z]+\.[A-Za-z0-9_-]{43}`)

// leak fails the test for every forbidden string in body (HTML and URL
// unescaped, link tokens left out).
func (c *crawler) leak(where, body string) {
	text := html.UnescapeString(body)
	if u, err := url.QueryUnescape(text); err == nil {
		text = u
	}
	text = signed.ReplaceAllString(text, "")
	var found []string
	for _, f := range c.forbidden {
		if strings.Contains(text, f) {
			found = append(found, f)
		}
	}
	if len(found) > 0 {
		sort.Strings(found)
		c.t.Errorf("%s shows %q", where, found)
	}
}
