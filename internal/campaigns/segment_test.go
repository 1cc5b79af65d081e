package campaigns_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// person is a fixture supporter as the test itself reads it: the oracle the
// count and the snapshot are both held to.
type person struct {
	topics, tags    []string
	status          string
	joined          time.Time
	postcode        string
	donated, pledge bool
	engaged         bool // opened or clicked one of the last 2 tracked campaigns
}

func (p person) area() string {
	pc := strings.ToUpper(strings.TrimSpace(p.postcode))
	switch {
	case pc == "":
		return ""
	case len(pc) > 1 && unicode.IsLetter(rune(pc[1])):
		return pc[:2]
	}
	return pc[:1]
}

var joinedFrom = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// people makes 84 varied supporters (topics, tags, statuses, join dates,
// postcodes, donations, active and ended pledges) and returns them with
// the topic ids by slug.
func people(t *testing.T, env *testkit.Env) ([]person, map[string]string) {
	t.Helper()
	topic := map[string]string{}
	for _, slug := range []string{"newsletter", "events", "appeals"} {
		r, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", slug)
		if err != nil {
			t.Fatal(err)
		}
		topic[slug] = r.Id
	}
	postcodes := []string{"LS1 1AA", "M1 1AE", "L1 8JQ", "ls6 2ab", "", "YO1 7HH", "SW1A 1AA"}
	var out []person
	err := env.App.RunInTransaction(func(tx core.App) error {
		// Four sent campaigns, oldest first: tracked, tracked, tracked, and
		// a newest one without tracking. "The last 2 tracked" are the middle two.
		var sent []string
		for k, tracked := range []bool{true, true, true, false} {
			c := core.NewRecord(testkit.Collection(t, tx, vocab.Campaigns))
			c.Load(map[string]any{"name": fmt.Sprintf("Sent %d", k), "subject": "Hello", "body_format": vocab.FormatMarkdown, "body": "Hi",
				"topics": []string{topic["newsletter"]}, "status": vocab.CampaignDraft, "tracking": tracked})
			if err := tx.Save(c); err != nil {
				return err
			}
			if _, err := tx.DB().NewQuery(`UPDATE {{campaigns}} SET status = 'sent', finished_at = {:at} WHERE id = {:id}`).
				Bind(dbx.Params{"id": c.Id, "at": joinedFrom.AddDate(1, 0, k).Format("2006-01-02 15:04:05.000Z")}).Execute(); err != nil {
				return err
			}
			sent = append(sent, c.Id)
		}
		for i := range 84 {
			p := person{
				topics:   [][]string{{"newsletter"}, {"events"}, {"newsletter", "events"}, {"appeals"}}[i%4],
				tags:     [][]string{{"leeds"}, {"york"}, {"leeds", "volunteer"}, {}, {}}[i%5],
				status:   vocab.StatusSubscribed,
				joined:   joinedFrom.AddDate(0, 0, 7*i),
				postcode: postcodes[i%7],
				donated:  i%6 == 0,
			}
			switch {
			case i%9 == 4:
				p.status = vocab.StatusUnsubscribed
			case i%11 == 5:
				p.status = vocab.StatusBounced
			case i%13 == 6:
				p.status = vocab.StatusPending
			}
			ids := make([]string, len(p.topics))
			for k, s := range p.topics {
				ids[k] = topic[s]
			}
			r := core.NewRecord(testkit.Collection(t, tx, vocab.Supporters))
			r.Load(map[string]any{"email": fmt.Sprintf("seg%03d@example.org", i), "status": p.status, "topics": ids, "tags": p.tags, "postcode": p.postcode})
			if i%10 == 9 { // never confirmed: joined when first stored, now
				p.joined = time.Now()
			} else {
				r.Set("confirmed_at", p.joined)
			}
			if err := tx.SaveNoValidate(r); err != nil {
				return err
			}
			if p.donated {
				d := core.NewRecord(testkit.Collection(t, tx, vocab.Donations))
				d.Load(map[string]any{"supporter": r.Id, "amount_pence": 1000, "currency": "GBP", "donated_on": p.joined, "method": "other"})
				if err := tx.Save(d); err != nil {
					return err
				}
			}
			if i%8 == 1 || i%8 == 2 { // 1: active; 2: ended
				status, ends := vocab.PledgeActive, any("")
				if i%8 == 2 {
					status, ends = vocab.PledgeEnded, p.joined.AddDate(0, 1, 0)
				}
				pl := core.NewRecord(testkit.Collection(t, tx, vocab.Pledges))
				pl.Load(map[string]any{"supporter": r.Id, "amount_pence": 250, "frequency": vocab.PledgeWeekly, "starts_on": p.joined, "status": status, "ends_on": ends})
				if err := tx.Save(pl); err != nil {
					return err
				}
				p.pledge = i%8 == 1
			}
			// Events: on a recent tracked campaign (engaged), on the oldest
			// tracked one only, or on the untracked one only (neither counts).
			var on []string
			switch {
			case i%7 == 3:
				on = []string{sent[1], vocab.TrackClick}
			case i%5 == 2:
				on = []string{sent[2], vocab.TrackOpen}
			case i%7 == 5:
				on = []string{sent[0], vocab.TrackOpen}
			case i%7 == 6:
				on = []string{sent[3], vocab.TrackOpen}
			}
			if on != nil {
				ev := core.NewRecord(testkit.Collection(t, tx, vocab.TrackingEvents))
				ev.Load(map[string]any{"delivery": fmt.Sprintf("d%d", i), "campaign": on[0], "supporter": r.Id, "kind": on[1]})
				if err := tx.Save(ev); err != nil {
					return err
				}
				p.engaged = on[0] == sent[1] || on[0] == sent[2]
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, topic
}

// filter is one segment: its fields as saved, and the oracle's test.
type filter struct {
	name   string
	fields map[string]any
	in     func(person) bool
}

func anyOf(have, want []string) bool {
	return slices.ContainsFunc(have, func(x string) bool { return slices.Contains(want, x) })
}

func TestSegmentCountsMatchTheSnapshot(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	ps, topic := people(t, env)
	mid := joinedFrom.AddDate(0, 0, 7*30)
	late := joinedFrom.AddDate(0, 0, 7*60)
	single := []filter{
		{"topic events", map[string]any{"topics": []string{topic["events"]}}, func(p person) bool { return slices.Contains(p.topics, "events") }},
		{"tag leeds", map[string]any{"tags": []string{"leeds"}}, func(p person) bool { return slices.Contains(p.tags, "leeds") }},
		{"status subscribed or unsubscribed", map[string]any{"statuses": []string{vocab.StatusSubscribed, vocab.StatusUnsubscribed}}, func(person) bool { return true }},
		{"status unsubscribed", map[string]any{"statuses": []string{vocab.StatusUnsubscribed}}, func(person) bool { return false }},
		{"joined after", map[string]any{"joined_after": mid}, func(p person) bool { return p.joined.After(mid) }},
		{"joined before", map[string]any{"joined_before": mid}, func(p person) bool { return p.joined.Before(mid) }},
		{"area LS", map[string]any{"postcode_areas": []string{"ls"}}, func(p person) bool { return p.area() == "LS" }},
		{"areas M and L", map[string]any{"postcode_areas": []string{"M", "L"}}, func(p person) bool { return p.area() == "M" || p.area() == "L" }},
		{"donated", map[string]any{"giving": campaigns.GivingDonated}, func(p person) bool { return p.donated }},
		{"not donated", map[string]any{"giving": campaigns.GivingNone}, func(p person) bool { return !p.donated }},
		{"active pledge", map[string]any{"giving": campaigns.GivingPledge}, func(p person) bool { return p.pledge }},
		{"engaged with the last 2 tracked", map[string]any{"engagement": campaigns.EngagedRecently, "engagement_campaigns": 2}, func(p person) bool { return p.engaged }},
		{"not engaged with the last 2 tracked", map[string]any{"engagement": campaigns.NotEngagedRecently, "engagement_campaigns": 2}, func(p person) bool { return !p.engaged }},
	}
	cases := slices.Clone(single)
	// Every pair of filters on different fields, and most of them at once.
	for i, a := range single {
		for _, b := range single[i+1:] {
			if sameField(a, b) {
				continue
			}
			cases = append(cases, both(a, b))
		}
	}
	all := filter{"joined between", map[string]any{"joined_after": mid, "joined_before": late}, func(p person) bool { return p.joined.After(mid) && p.joined.Before(late) }}
	for _, f := range []filter{single[0], single[1], single[6], single[9]} {
		all = both(all, f)
	}
	cases = append(cases, all)

	nonEmpty := 0
	for _, f := range cases {
		// The campaign's own audience: two topics; once more with a tag of its own.
		for _, tags := range [][]string{nil, {"york", "volunteer"}} {
			want := 0
			for _, p := range ps {
				if p.status == vocab.StatusSubscribed && anyOf(p.topics, []string{"newsletter", "events"}) && (tags == nil || anyOf(p.tags, tags)) && f.in(p) {
					want++
				}
			}
			seg := save(t, env.App, vocab.Segments, merge(map[string]any{"name": f.name}, f.fields))
			c := save(t, env.App, vocab.Campaigns, map[string]any{"name": f.name, "subject": "Hello", "body_format": vocab.FormatMarkdown, "body": "Hi",
				"topics": []string{topic["newsletter"], topic["events"]}, "tags": tags, "status": vocab.CampaignDraft, "segment": seg.Id})
			count, err := campaigns.CountCampaign(env.App, c)
			if err != nil {
				t.Fatal(err)
			}
			written, err := campaigns.SnapshotForTest(env.App, c)
			if err != nil {
				t.Fatal(err)
			}
			if count != want || int(written) != want {
				t.Errorf("%s (campaign tags %v): count %d, snapshot %d, want %d", f.name, tags, count, written, want)
			}
			if want > 0 {
				nonEmpty++
			}
		}
	}
	if nonEmpty < len(cases) { // the fixture must exercise the filters, not match nobody
		t.Errorf("only %d of %d cases reach anyone", nonEmpty, 2*len(cases))
	}
}

func sameField(a, b filter) bool {
	for k := range a.fields {
		if _, ok := b.fields[k]; ok {
			return true
		}
	}
	_, ja := a.fields["joined_after"]
	_, jb := b.fields["joined_before"]
	return ja && jb // after mid and before mid: nobody, a test of nothing
}

func both(a, b filter) filter {
	return filter{a.name + " + " + b.name, merge(merge(map[string]any{}, a.fields), b.fields), func(p person) bool { return a.in(p) && b.in(p) }}
}

func merge(into, from map[string]any) map[string]any {
	for k, v := range from {
		into[k] = v
	}
	return into
}

func save(t *testing.T, app core.App, coll string, fields map[string]any) *core.Record {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, app, coll))
	r.Load(fields)
	if err := app.Save(r); err != nil {
		t.Fatalf("save %s %v: %v", coll, fields, err)
	}
	return r
}

// Giving is admin data: comms staff can't write a segment that filters on
// it, target one, or count one. A bad field is refused by name.
func TestGivingSegmentsAreForAdmins(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	_, topic := people(t, env)
	comms, admin := testkit.Login(t, env, vocab.RoleComms), testkit.Login(t, env, vocab.RoleAdmin)
	const donors = `{"name":"Donors","giving":"donated"}`
	if status, body := env.Call(t, comms, http.MethodPost, "/api/collections/segments/records", donors); status != http.StatusForbidden || !strings.Contains(body, "giving") {
		t.Errorf("comms creating a giving segment = %d %s", status, body)
	}
	if n := env.Count(t, vocab.Segments, ""); n != 0 {
		t.Fatalf("a refused segment was stored (%d)", n)
	}
	status, body := env.Call(t, admin, http.MethodPost, "/api/collections/segments/records", donors)
	if status != http.StatusOK {
		t.Fatalf("admin creating a giving segment = %d %s", status, body)
	}
	seg := jsonField(t, body, "id")
	if status, body := env.Call(t, comms, http.MethodPatch, "/api/collections/segments/records/"+seg, `{"name":"Renamed"}`); status != http.StatusForbidden {
		t.Errorf("comms editing a giving segment = %d %s", status, body)
	}
	campaign := `{"name":"To donors","subject":"Hi","body_format":"markdown","body":"Hi","topics":["` + topic["newsletter"] + `"],"segment":"` + seg + `"}`
	if status, body := env.Call(t, comms, http.MethodPost, "/api/collections/campaigns/records", campaign); status != http.StatusForbidden {
		t.Errorf("comms targeting a giving segment = %d %s", status, body)
	}
	if status, _ := env.Call(t, comms, http.MethodGet, "/api/crm/segments/"+seg+"/count", ""); status != http.StatusForbidden {
		t.Errorf("comms counting a giving segment = %d", status)
	}
	status, body = env.Call(t, admin, http.MethodPost, "/api/collections/campaigns/records", campaign)
	if status != http.StatusOK {
		t.Fatalf("admin targeting a giving segment = %d %s", status, body)
	}
	c, err := env.App.FindRecordById(vocab.Campaigns, jsonField(t, body, "id"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := campaigns.CountCampaign(env.App, c)
	if err != nil || want == 0 {
		t.Fatalf("count %d %v", want, err)
	}
	if status, body := env.Call(t, admin, http.MethodGet, "/api/crm/campaigns/"+c.Id+"/count", ""); status != http.StatusOK || body != fmt.Sprintf(`{"count":%d}`, want) {
		t.Errorf("admin's campaign count = %d %s, want %d", status, body, want)
	}
	if status, _ := env.Call(t, "", http.MethodGet, "/api/crm/campaigns/"+c.Id+"/count", ""); status != http.StatusUnauthorized {
		t.Errorf("anonymous count = %d", status)
	}
	// In use by a campaign not yet sent: can't be deleted (the audience would widen).
	if status, _ := env.Call(t, admin, http.MethodDelete, "/api/collections/segments/records/"+seg, ""); status != http.StatusBadRequest {
		t.Errorf("deleting a segment in use = %d", status)
	}
	// Comms staff use the other filters; a bad one is named.
	if status, body := env.Call(t, comms, http.MethodPost, "/api/collections/segments/records", `{"name":"Leeds","postcode_areas":["LS"],"tags":["leeds"]}`); status != http.StatusOK {
		t.Errorf("comms creating a segment = %d %s", status, body)
	}
	if status, body := env.Call(t, comms, http.MethodPost, "/api/collections/segments/records", `{"name":"Bad","postcode_areas":["LS1"]}`); status != http.StatusBadRequest || !strings.Contains(body, "postcode_areas") {
		t.Errorf("a bad area = %d %s", status, body)
	}
}

func jsonField(t *testing.T, body, field string) string {
	t.Helper()
	i := strings.Index(body, `"`+field+`":"`)
	if i < 0 {
		t.Fatalf("no %s in %s", field, body)
	}
	rest := body[i+len(field)+4:]
	return rest[:strings.IndexByte(rest, '"')]
}
