package supporterui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console/supporterui"
	"supportercrm/internal/erasure"
	"supportercrm/internal/outbox"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

func save(t testing.TB, app core.App, coll string, data map[string]any) *core.Record {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, app, coll))
	r.Load(data)
	if err := app.Save(r); err != nil {
		t.Fatalf("%s: %v", coll, err)
	}
	return r
}

// history gives a supporter one of everything the timeline shows, a
// millisecond or more apart, and someone else a donation.
func history(t testing.TB, app core.App) *core.Record {
	t.Helper()
	sup := addSupporter(t, app, "tess@example.org", "Tess", "Line", vocab.StatusSubscribed)
	sup.Set("address", "4 Kirkgate, Leeds")
	sup.Set("postcode", "LS2 7DJ")
	if err := app.Save(sup); err != nil {
		t.Fatal(err)
	}
	step := func() { time.Sleep(3 * time.Millisecond) }
	topic, _ := app.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	step()
	save(t, app, vocab.Consents, map[string]any{"supporter": sup.Id, "email": "tess@example.org", "action": vocab.ActionGrant, "basis": vocab.BasisConsent,
		"topics": []string{topic.Id}, "topic_slugs": []string{"newsletter"}, "method": vocab.MethodWebForm, "wording": "Yes please", "wording_version": "v1"})
	step()
	for _, m := range []outbox.Mail{
		{To: "tess@example.org", SupporterID: sup.Id, Kind: vocab.KindWelcome, Subject: "Welcome", Text: "Hello"},
		{To: "tess@example.org", SupporterID: sup.Id, Kind: vocab.KindThankYou, Subject: "Thank you for your gift of £25", Text: "Thanks"},
	} {
		if _, err := outbox.Enqueue(app, m); err != nil {
			t.Fatal(err)
		}
		step()
	}
	save(t, app, vocab.Donations, map[string]any{"supporter": sup.Id, "amount_pence": 2500, "currency": "GBP", "method": "card", "donated_on": time.Now()})
	step()
	save(t, app, vocab.Pledges, map[string]any{"supporter": sup.Id, "purpose": "Sponsor a room", "amount_pence": 250, "frequency": vocab.PledgeWeekly, "starts_on": time.Now(), "status": vocab.PledgeActive})
	step()
	save(t, app, vocab.Declarations, map[string]any{"supporter": sup.Id, "first_name": "Tess", "last_name": "Line", "house": "4", "address": "4 Kirkgate, Leeds",
		"postcode": "LS2 7DJ", "declared_on": time.Now(), "scope": vocab.ScopePastAndFuture, "method": vocab.DeclaredWritten})
	step()
	save(t, app, vocab.Consents, map[string]any{"supporter": sup.Id, "action": vocab.ActionWithdraw, "basis": vocab.BasisConsent,
		"topics": []string{topic.Id}, "topic_slugs": []string{"newsletter"}, "method": vocab.MethodOneClick})
	other := addSupporter(t, app, "other@example.org", "Otto", "Other", vocab.StatusSubscribed)
	save(t, app, vocab.Donations, map[string]any{"supporter": other.Id, "amount_pence": 999, "currency": "GBP", "method": "cash", "donated_on": time.Now()})
	return sup
}

func kinds(events []supporterui.Event) string {
	var k []string
	for _, e := range events {
		k = append(k, e.Kind)
	}
	return strings.Join(k, " ")
}

func TestTimelineNewestFirstWithGivingForAdmins(t *testing.T) {
	app := newApp(t)
	sup := history(t, app)
	events, more, err := supporterui.Timeline(app, sup, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := "unsubscribe gift_aid pledge donation email email consent_grant signup"; kinds(events) != want || more {
		t.Fatalf("admin timeline:\n got %s\nwant %s (more %v)", kinds(events), want, more)
	}
	for _, e := range events {
		if e.Kind == "donation" && (e.AmountPence != 2500 || !strings.Contains(e.Summary, "£25.00")) {
			t.Errorf("donation: %+v", e)
		}
	}
}

func TestTimelineForCommsHasNoGivingData(t *testing.T) {
	app := newApp(t)
	sup := history(t, app)
	events, _, err := supporterui.Timeline(app, sup, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := "unsubscribe email consent_grant signup"; kinds(events) != want {
		t.Fatalf("comms timeline:\n got %s\nwant %s", kinds(events), want)
	}
	for _, e := range events {
		if e.Giving() || e.AmountPence != 0 || strings.Contains(e.Summary, "£") || strings.Contains(strings.ToLower(e.Summary), "gift") {
			t.Errorf("comms sees giving data: %+v", e)
		}
	}
}

func TestTimelineOfAnErasedSupporterStartsWithTheErasure(t *testing.T) {
	app := newApp(t)
	sup := history(t, app)
	// A donation claimed this year: HMRC needs the declaration kept.
	save(t, app, vocab.Donations, map[string]any{"supporter": sup.Id, "amount_pence": 500, "currency": "GBP", "method": "card",
		"donated_on": time.Now(), "gift_aid_eligible": true, "gift_aid_claim": "2026-01"})
	if res, err := (&erasure.Eraser{App: app, Hash: signup.HashEmail}).Erase(sup.Id); err != nil || res.DeclarationsKept != 1 {
		t.Fatalf("erase: %+v %v", res, err)
	}
	sup, err := app.FindRecordById(vocab.Supporters, sup.Id)
	if err != nil {
		t.Fatal(err)
	}
	events, _, err := supporterui.Timeline(app, sup, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 || events[0].Kind != "erased" || !strings.Contains(events[0].Summary, "Erased on request") {
		t.Fatalf("erased timeline: %+v", events)
	}
	for _, e := range events {
		if strings.Contains(e.Summary, "tess@example.org") || strings.Contains(e.Summary, "Tess") {
			t.Errorf("personal data left after erasure: %+v", e)
		}
		if strings.Contains(e.Summary, "Gift Aid") {
			t.Errorf("comms sees that Gift Aid was kept: %+v", e)
		}
	}
	admin, _, err := supporterui.Timeline(app, sup, true, 0)
	if err != nil || !strings.Contains(admin[0].Summary, "Gift Aid declaration(s) kept") {
		t.Errorf("admin erasure event: %+v %v", admin[0], err)
	}
}

func TestTimelinePages(t *testing.T) {
	app := newApp(t)
	sup := addSupporter(t, app, "many@example.org", "Manny", "", vocab.StatusSubscribed)
	for i := range supporterui.TimelineLimit + 5 {
		if _, err := outbox.Enqueue(app, outbox.Mail{To: "many@example.org", SupporterID: sup.Id, Kind: vocab.KindWelcome, Subject: "Mail " + string(rune('A'+i%26)), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	first, more, err := supporterui.Timeline(app, sup, false, 0)
	if err != nil || len(first) != supporterui.TimelineLimit || !more {
		t.Fatalf("first page: %d events, more %v, %v", len(first), more, err)
	}
	rest, more, err := supporterui.Timeline(app, sup, false, supporterui.TimelineLimit)
	if err != nil || len(rest) != 6 || more || rest[5].Kind != "signup" {
		t.Fatalf("second page: %d events (%s), more %v, %v", len(rest), kinds(rest), more, err)
	}
}

// Each part of the timeline is read through its supporter index: no table
// of a large list is scanned for one supporter's history.
func TestTimelineUsesIndexes(t *testing.T) {
	app := newApp(t)
	sup := history(t, app)
	plan := supporterui.TimelinePlan(t, app, sup.Id)
	t.Log(plan)
	for _, line := range strings.Split(plan, "\n") {
		// "SCAN t" reads the co-routine: the union of one supporter's rows.
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "SCAN") && l != "SCAN t" {
			t.Errorf("timeline scans: %s", line)
		}
	}
}
