package supporterui_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"supportercrm/internal/console/supporterui"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	_ "supportercrm/pb_migrations"
)

func newApp(t testing.TB) *tests.TestApp {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	return app
}

func addSupporter(t testing.TB, app core.App, email, first, last, status string) *core.Record {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, app, vocab.Supporters))
	r.Set("email", email)
	r.Set("first_name", first)
	r.Set("last_name", last)
	r.Set("status", status)
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func emails(res supporterui.Result) []string {
	var out []string
	for _, r := range res.Rows {
		out = append(out, r.Email)
	}
	return out
}

func search(t *testing.T, app core.App, q supporterui.Query) supporterui.Result {
	t.Helper()
	if errs := q.Check(app); errs != nil {
		t.Fatalf("%+v: %v", q, errs)
	}
	res, err := supporterui.Search(app, q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	return res
}

func TestSearchMatchesNamesAndAddressesByPrefix(t *testing.T) {
	app := newApp(t)
	addSupporter(t, app, "ann.smith@example.org", "Ann", "Smith", vocab.StatusSubscribed)
	addSupporter(t, app, "bob@example.org", "Bob", "SMITHERS", vocab.StatusPending)
	addSupporter(t, app, "smiley@example.org", "Carol", "Jones", vocab.StatusSubscribed)
	addSupporter(t, app, "zoe@example.org", "Zoë", "Öztürk", vocab.StatusUnsubscribed)
	addSupporter(t, app, "john.smith@example.org", "John", "Smith", vocab.StatusSubscribed)
	gone := addSupporter(t, app, "smith.gone@example.org", "Smith", "Gone", vocab.StatusSubscribed)
	gone.Set("status", vocab.StatusErased)
	if err := app.Save(gone); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		text string
		want []string // in order
	}{
		// Last name, any case, in name order; an address starting "smi" too.
		{"smi", []string{"smiley@example.org", "ann.smith@example.org", "john.smith@example.org", "bob@example.org"}},
		{"  SMITH ", []string{"ann.smith@example.org", "john.smith@example.org", "bob@example.org"}},
		{"ann", []string{"ann.smith@example.org"}},
		// First and last, either way round.
		{"john smi", []string{"john.smith@example.org"}},
		{"smith jo", []string{"john.smith@example.org"}},
		// An address prefix, stored lowercased.
		{"JOHN.SMITH@EX", []string{"john.smith@example.org"}},
		{"bob@", []string{"bob@example.org"}},
		// Accented names match as stored; A to Z folds.
		{"Zoë", []string{"zoe@example.org"}},
		{"Öz", []string{"zoe@example.org"}},
		{"nobody", nil},
		// Wildcards of LIKE and GLOB are plain characters.
		{"a%", nil},
		{"a*", nil},
	} {
		got := emails(search(t, app, supporterui.Query{Text: c.text}))
		if !slices.Equal(got, c.want) {
			t.Errorf("search %q = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestSearchFiltersAndPages(t *testing.T) {
	app := newApp(t)
	testkit.People(t, app, 1000)

	all := search(t, app, supporterui.Query{})
	if all.Total != 1000 || all.Capped || len(all.Rows) != supporterui.PerPage || !all.More {
		t.Fatalf("no filter: total %d capped %v rows %d more %v", all.Total, all.Capped, len(all.Rows), all.More)
	}
	if all.Rows[0].Email != "person000999@example.org" {
		t.Errorf("newest first: got %s first", all.Rows[0].Email)
	}
	last := search(t, app, supporterui.Query{Page: 40})
	if len(last.Rows) != 25 || last.More || last.Rows[24].Email != "person000000@example.org" {
		t.Errorf("page 40: %d rows, more %v, last %v", len(last.Rows), last.More, emails(last))
	}

	// People: 4 in 15 are not subscribed (pending, unsubscribed, bounced).
	sub := search(t, app, supporterui.Query{Status: vocab.StatusSubscribed})
	if want := 1000 - 3*(1000/15) - countMod(1000, 15, 4, 9, 14); sub.Total != want {
		t.Errorf("subscribed: %d, want %d", sub.Total, want)
	}
	for _, r := range sub.Rows {
		if r.Status != vocab.StatusSubscribed {
			t.Errorf("status filter let through %s (%s)", r.Email, r.Status)
		}
	}
	ev := search(t, app, supporterui.Query{Topic: "events"})
	if ev.Total != 334 { // every third, from 0
		t.Errorf("events topic: %d, want 334", ev.Total)
	}
	vol := search(t, app, supporterui.Query{Tag: "volunteer"})
	for _, r := range vol.Rows {
		if !slices.Contains(r.TagList(), "volunteer") {
			t.Errorf("tag filter let through %s %v", r.Email, r.TagList())
		}
	}
	if vol.Total == 0 {
		t.Error("no supporter has the volunteer tag")
	}
	// Filters and text together: Oliver Smith is person 0 (subscribed, events).
	both := search(t, app, supporterui.Query{Text: "oliver smith", Status: vocab.StatusSubscribed, Topic: "events"})
	if got := emails(both); !slices.Equal(got, []string{"person000000@example.org"}) {
		t.Errorf("oliver smith, subscribed, events: %v", got)
	}
}

// countMod counts the i in [0, n) whose i % m is one of rs.
func countMod(n, m int, rs ...int) int {
	c := 0
	for i := (n / m) * m; i < n; i++ {
		if slices.Contains(rs, i%m) {
			c++
		}
	}
	return c
}

func TestSearchRefusesBadFiltersByField(t *testing.T) {
	app := newApp(t)
	q := supporterui.Query{Text: strings.Repeat("a", 201), Status: "erased", Topic: "no-such-topic", Tag: strings.Repeat("t", 41), Page: 401}
	errs := q.Check(app)
	for _, f := range []string{"q", "status", "topic", "tag", "page"} {
		if errs[f] == "" {
			t.Errorf("no message for %s: %v", f, errs)
		}
	}
	if errs := (&supporterui.Query{Text: " j "}).Check(app); errs["q"] == "" {
		t.Errorf("one letter taken: %v", errs)
	}
	if errs := (&supporterui.Query{Text: "jo", Status: "subscribed", Topic: "newsletter"}).Check(app); errs != nil {
		t.Errorf("good filters refused: %v", errs)
	}
}

func TestSearchUsesIndexes(t *testing.T) {
	app := newApp(t)
	testkit.People(t, app, 200)
	// Each kind of text match is found by its index ranges, even beside a
	// status filter, whose index is far less selective.
	for _, text := range []string{"smi", "john smi", "person0001@"} {
		plan := supporterui.Plan(t, app, text)
		t.Logf("%s:\n%s", text, plan)
		if strings.Contains(plan, "SCAN") || strings.Contains(plan, "idx_supporters_status") {
			t.Errorf("search %q scans the table:\n%s", text, plan)
		}
	}
}

// testkitApp is a test app with the helpers these tests share.
type testkitApp struct{ *tests.TestApp }

// staff makes an admin staff record.
func (a *testkitApp) staff(t testing.TB) *core.Record {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, a, vocab.Staff))
	r.SetEmail("admin-" + core.GenerateDefaultRandomId() + "@lanternhouse.org.uk")
	r.SetPassword("a-long-password-1")
	r.Set("role", vocab.RoleAdmin)
	if err := a.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (a *testkitApp) count(t testing.TB, coll string) int {
	t.Helper()
	n, err := a.CountRecords(coll)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}
