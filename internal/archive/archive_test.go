package archive_test

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// body uses every personal field a campaign may: none may show in the archive.
const body = "# Dear {{.FirstName}} {{.LastName}}\n\nWe wrote to {{.Email}}.\n\n" +
	"[Preferences]({{.PreferencesURL}}) · [Unsubscribe]({{.UnsubscribeURL}}) · [In your browser]({{.WebURL}})"

type fixture struct {
	env            *testkit.Env
	comms          string
	sent, older    *core.Record // public once the test makes them so
	private, draft *core.Record
	readers        []*core.Record
}

// newFixture sends a campaign to three real supporters, and adds an older
// sent campaign, a sent one left private and a draft.
func newFixture(t *testing.T) *fixture {
	env := testkit.Start(t, testkit.Options{})
	f := &fixture{env: env, comms: testkit.Login(t, env, vocab.RoleComms)}
	f.readers = testkit.Subscribers(t, env.App, 3)
	for _, r := range f.readers {
		r.Set("last_name", "Lovelace")
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	f.sent = testkit.DueCampaign(t, env.App, "Spring news for {{.FirstName}}", body)
	testkit.Eventually(t, 30*time.Second, func() bool {
		c, err := env.App.FindRecordById(vocab.Campaigns, f.sent.Id)
		return err == nil && c.GetString("status") == vocab.CampaignSent
	})
	if n := len(env.SMTP.Mails()); n != 3 {
		t.Fatalf("the campaign reached %d, want 3", n)
	}
	f.older = f.stored(t, "Winter news", vocab.CampaignSent, time.Now().AddDate(0, -3, 0))
	f.private = f.stored(t, "Trustees only", vocab.CampaignSent, time.Now().AddDate(0, -1, 0))
	f.draft = f.stored(t, "Not yet", vocab.CampaignDraft, time.Time{})
	return f
}

// stored saves a campaign as it would be after the engine (no mail).
func (f *fixture) stored(t *testing.T, subject, status string, finished time.Time) *core.Record {
	t.Helper()
	topic, err := f.env.App.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	c := core.NewRecord(testkit.Collection(t, f.env.App, vocab.Campaigns))
	c.Load(map[string]any{"name": subject, "subject": subject, "body_format": vocab.FormatMarkdown, "body": body,
		"topics": []string{topic.Id}, "status": status, "finished_at": finished})
	if err := f.env.App.Save(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) publish(t *testing.T, c *core.Record, fields string) (int, string) {
	t.Helper()
	return f.env.Call(t, f.comms, http.MethodPatch, "/api/collections/campaigns/records/"+c.Id, `{"public":true`+fields+`}`)
}

func (f *fixture) slug(t *testing.T, c *core.Record) string {
	t.Helper()
	got, err := f.env.App.FindRecordById(vocab.Campaigns, c.Id)
	if err != nil {
		t.Fatal(err)
	}
	return got.GetString("slug")
}

func (f *fixture) get(t *testing.T, path string) testkit.Answer {
	t.Helper()
	return f.env.Request(t, "", http.MethodGet, path, "", nil)
}

// noPersonalData fails if the page holds any reader's address or name,
// or any link that could manage a subscription.
func (f *fixture) noPersonalData(t *testing.T, what, page string) {
	t.Helper()
	for _, r := range f.readers {
		for _, v := range []string{r.GetString("email"), r.GetString("first_name")} {
			if strings.Contains(page, v) {
				t.Errorf("%s shows %q", what, v)
			}
		}
	}
	for _, bad := range []string{"Lovelace", "token=", "/unsubscribe", "/preferences", "/view", "@example.org"} {
		if strings.Contains(page, bad) {
			t.Errorf("%s holds %q", what, bad)
		}
	}
}

func TestArchiveShowsPublicSentCampaignsAsToNobody(t *testing.T) {
	f := newFixture(t)

	// Private by default; only a sent campaign can be made public.
	if a := f.get(t, "/archive"); a.Status != http.StatusOK || strings.Contains(a.Body, "Spring news") {
		t.Fatalf("archive before anything is public = %d, lists: %v", a.Status, strings.Contains(a.Body, "Spring news"))
	}
	status, answer := f.publish(t, f.draft, "")
	if status != http.StatusBadRequest || !strings.Contains(answer, `"public"`) {
		t.Errorf("making a draft public = %d %s", status, answer)
	}
	if d, _ := f.env.App.FindRecordById(vocab.Campaigns, f.draft.Id); d.GetBool("public") {
		t.Error("the refused draft is public")
	}
	for _, c := range []*core.Record{f.sent, f.older} {
		if status, answer := f.publish(t, c, ""); status != http.StatusOK {
			t.Fatalf("publish = %d %s", status, answer)
		}
	}
	slug, older := f.slug(t, f.sent), f.slug(t, f.older)
	if !strings.HasSuffix(slug, "-spring-news-for") || older == "" {
		t.Errorf("slugs %q and %q", slug, older)
	}
	// The private one gets a slug by hand; it is still not shown.
	if status, answer := f.env.Call(t, f.comms, http.MethodPatch, "/api/collections/campaigns/records/"+f.private.Id, `{"slug":"trustees"}`); status != http.StatusOK {
		t.Fatalf("slug = %d %s", status, answer)
	}

	list := f.get(t, "/archive")
	if list.Status != http.StatusOK || list.Header.Get("Content-Security-Policy") == "" || !strings.Contains(list.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("archive = %d %v", list.Status, list.Header)
	}
	i, j := strings.Index(list.Body, `href="/archive/`+slug+`"`), strings.Index(list.Body, `href="/archive/`+older+`"`)
	if i < 0 || j < 0 || i > j {
		t.Errorf("the archive lists them at %d and %d, want both, newest first", i, j)
	}
	if !strings.Contains(list.Body, "Spring news for friend") || strings.Contains(list.Body, "Trustees only") || strings.Contains(list.Body, "Not yet") {
		t.Error("the archive shows the wrong campaigns")
	}
	f.noPersonalData(t, "/archive", list.Body)

	page := f.get(t, "/archive/"+slug)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "Dear friend") || page.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("/archive/%s = %d:\n%s", slug, page.Status, page.Body)
	}
	f.noPersonalData(t, "/archive/"+slug, page.Body)

	for _, path := range []string{"/archive/trustees", "/archive/" + f.private.Id, "/archive/no-such-thing"} {
		if a := f.get(t, path); a.Status != http.StatusNotFound || strings.Contains(a.Body, "Trustees only") {
			t.Errorf("%s = %d", path, a.Status)
		}
	}
	// Made private again, it is gone.
	if status, answer := f.env.Call(t, f.comms, http.MethodPatch, "/api/collections/campaigns/records/"+f.older.Id, `{"public":false}`); status != http.StatusOK {
		t.Fatalf("unpublish = %d %s", status, answer)
	}
	if a := f.get(t, "/archive/"+older); a.Status != http.StatusNotFound {
		t.Errorf("an unpublished campaign = %d", a.Status)
	}
}

// The Atom elements RFC 4287 requires (4.1.1, 4.1.2), and those it says a
// feed should have, read back from what the server sends.
type feed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	IDs     []string `xml:"id"`
	Titles  []string `xml:"title"`
	Updated []string `xml:"updated"`
	Authors []struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Links   []link `xml:"link"`
	Entries []struct {
		IDs     []string `xml:"id"`
		Titles  []string `xml:"title"`
		Updated []string `xml:"updated"`
		Links   []link   `xml:"link"`
		Content []struct {
			Type string `xml:"type,attr"`
			Body string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

type link struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
}

func one(t *testing.T, what string, v []string) string {
	t.Helper()
	if len(v) != 1 || strings.TrimSpace(v[0]) == "" {
		t.Fatalf("%s: %d elements, want exactly one, not empty", what, len(v))
	}
	return v[0]
}

func absolute(t *testing.T, what, v string) {
	t.Helper()
	if u, err := url.Parse(v); err != nil || !u.IsAbs() {
		t.Errorf("%s %q is not an absolute IRI", what, v)
	}
}

func stamp(t *testing.T, what, v string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		t.Errorf("%s %q is not an RFC 3339 date-time: %v", what, v, err)
	}
	return at
}

func TestFeedIsAtom(t *testing.T) {
	f := newFixture(t)
	for _, c := range []*core.Record{f.sent, f.older} {
		if status, answer := f.publish(t, c, ""); status != http.StatusOK {
			t.Fatalf("publish = %d %s", status, answer)
		}
	}
	a := f.get(t, "/archive/feed.xml")
	if a.Status != http.StatusOK || !strings.HasPrefix(a.Header.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("feed = %d %s", a.Status, a.Header.Get("Content-Type"))
	}
	var fd feed
	if err := xml.Unmarshal([]byte(a.Body), &fd); err != nil {
		t.Fatalf("the feed is not Atom XML: %v\n%s", err, a.Body)
	}
	absolute(t, "feed id", one(t, "feed id", fd.IDs))
	one(t, "feed title", fd.Titles)
	newest := stamp(t, "feed updated", one(t, "feed updated", fd.Updated))
	if len(fd.Authors) == 0 || fd.Authors[0].Name == "" {
		t.Error("the feed has no author (required unless every entry has one)")
	}
	self := false
	for _, l := range fd.Links {
		self = self || (l.Rel == "self" && l.Href == f.env.URL+"/archive/feed.xml")
	}
	if !self {
		t.Errorf("no rel=self link to the feed in %v", fd.Links)
	}
	if len(fd.Entries) != 2 {
		t.Fatalf("%d entries, want the 2 public ones", len(fd.Entries))
	}
	ids := map[string]bool{}
	var last time.Time
	for i, e := range fd.Entries {
		id := one(t, "entry id", e.IDs)
		absolute(t, "entry id", id)
		if ids[id] {
			t.Errorf("entry id %s repeated", id)
		}
		ids[id] = true
		one(t, "entry title", e.Titles)
		at := stamp(t, "entry updated", one(t, "entry updated", e.Updated))
		if i == 0 && !at.Equal(newest) || i > 0 && at.After(last) {
			t.Errorf("entry %d updated %s: entries are not newest first, or the feed's updated is not the newest", i, at)
		}
		last = at
		alternate := false
		for _, l := range e.Links {
			alternate = alternate || (l.Rel == "alternate" && strings.HasPrefix(l.Href, f.env.URL+"/archive/"))
		}
		if !alternate || len(e.Content) != 1 || e.Content[0].Type != "html" {
			t.Errorf("entry %d: alternate link %v, content %d", i, alternate, len(e.Content))
		}
	}
	if !strings.Contains(fd.Entries[0].Content[0].Body, "Dear friend") {
		t.Error("the newest entry's content is not the campaign as to nobody")
	}
	f.noPersonalData(t, "the feed", a.Body)
}

func TestArchivePagesAreAccessible(t *testing.T) {
	f := newFixture(t)
	if status, answer := f.publish(t, f.sent, ""); status != http.StatusOK {
		t.Fatalf("publish = %d %s", status, answer)
	}
	ctx := testkit.Browser(t, 30*time.Second)
	for _, path := range []string{"/archive", "/archive/" + f.slug(t, f.sent)} {
		res, err := chromedp.RunResponse(ctx, chromedp.Navigate(f.env.URL+path))
		if err != nil || res.Status != http.StatusOK {
			t.Fatalf("open %s: %v", path, err)
		}
		if v := testkit.Axe(t, ctx); len(v) > 0 {
			t.Errorf("%s: axe-core found:\n%s", path, strings.Join(v, "\n"))
		}
	}
}
