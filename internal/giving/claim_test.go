package giving_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/giving"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

type decl struct {
	title, first, last, house, postcode string
	declared, cancelled, scope          string
}

func declare(t *testing.T, app core.App, sup *core.Record, d decl) *core.Record {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, app, vocab.Declarations))
	r.Set("supporter", sup.Id)
	r.Set("title", d.title)
	r.Set("first_name", d.first)
	r.Set("last_name", d.last)
	r.Set("house", d.house)
	r.Set("address", d.house+" Mill Lane\nLeeds")
	r.Set("postcode", d.postcode)
	r.Set("declared_on", d.declared)
	r.Set("cancelled_on", d.cancelled)
	r.Set("scope", d.scope)
	r.Set("method", vocab.DeclaredWritten)
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

type gift struct {
	pence    int
	on       string
	eligible bool
	claim    string
	decl     *core.Record
}

func give(t *testing.T, app core.App, sup *core.Record, g gift) *core.Record {
	t.Helper()
	d := core.NewRecord(testkit.Collection(t, app, vocab.Donations))
	d.Set("supporter", sup.Id)
	d.Set("amount_pence", g.pence)
	d.Set("currency", "GBP")
	d.Set("method", "card")
	d.Set("provider", "stripe")
	d.Set("reference", "ch_"+core.GenerateDefaultRandomId())
	d.Set("donated_on", g.on)
	d.Set("gift_aid_eligible", g.eligible)
	d.Set("gift_aid_claim", g.claim)
	if g.decl != nil {
		d.Set("gift_aid_declaration", g.decl.Id)
	}
	if err := app.Save(d); err != nil {
		t.Fatal(err)
	}
	return d
}

// claimFile writes a claim (ref "" for the preview) and returns its rows
// after the header, checking the BOM and the header.
func claimFile(t *testing.T, app core.App, ref string) ([][]string, giving.Totals) {
	t.Helper()
	var buf bytes.Buffer
	tot, err := giving.WriteClaim(context.Background(), app, &buf, ref)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := bytes.CutPrefix(buf.Bytes(), []byte("\ufeff"))
	if !ok || !bytes.Contains(b, []byte("\r\n")) {
		t.Fatalf("no BOM or CRLF: %q", buf.String())
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], "|") != strings.Join(giving.Header, "|") {
		t.Fatalf("header %q", recs[0])
	}
	if tot.Donations != len(recs)-1 {
		t.Fatalf("totals say %d donations, the file has %d", tot.Donations, len(recs)-1)
	}
	return recs[1:], tot
}

// The claim holds exactly the eligible, unclaimed donations a declaration
// covers, oldest first, in HMRC's formats, the donor as declared, formula
// cells neutralised. Marking a claim takes them out of the next one; the
// same reference gives the same file again and never grows.
func TestGiftAidClaim(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	app := env.App
	ann := supporter(t, app, "ann@example.org", "Ann", "Lee")
	bob := supporter(t, app, "bob@example.org", "Bob", "Ray")
	cat := supporter(t, app, "cat@example.org", "Cat", "Oak")
	eve := supporter(t, app, "eve@example.org", "Eve", "Hack")
	dan := supporter(t, app, "dan@example.org", "Dan", "None")

	annDecl := declare(t, app, ann, decl{"Dr", "Ann", "Lee-Smith", "7", "ls1 1aa", "2025-06-01 09:00:00.000Z", "", vocab.ScopePastAndFuture})
	give(t, app, ann, gift{pence: 500, on: "2021-05-31 00:00:00.000Z", eligible: true})                     // older than 4 years before: out
	a1 := give(t, app, ann, gift{pence: 1000, on: "2021-06-01 00:00:00.000Z", eligible: true})              // exactly 4 years before: in
	a2 := give(t, app, ann, gift{pence: 2500, on: "2025-09-15 12:00:00.000Z", eligible: true})              // in
	give(t, app, ann, gift{pence: 3000, on: "2025-10-01 00:00:00.000Z", eligible: false})                   // not eligible: out
	give(t, app, ann, gift{pence: 3500, on: "2025-10-02 00:00:00.000Z", eligible: true, claim: "2025-OLD"}) // claimed before: out

	bobDecl := declare(t, app, bob, decl{"", "Bob", "Ray", "Flat 2", "M1 1AE", "2024-01-01 00:00:00.000Z", "2025-03-01 10:00:00.000Z", vocab.ScopePastAndFuture})
	b1 := give(t, app, bob, gift{pence: 123456, on: "2024-06-01 00:00:00.000Z", eligible: true}) // before the cancellation: in
	give(t, app, bob, gift{pence: 700, on: "2025-04-01 00:00:00.000Z", eligible: true})          // after it: out

	catDecl := declare(t, app, cat, decl{"Ms", "Cat", "Oak", "12", "EH1 1YZ", "2025-05-01 00:00:00.000Z", "", vocab.ScopeThisDonation})
	c1 := give(t, app, cat, gift{pence: 5000, on: "2025-05-01 00:00:00.000Z", eligible: true, decl: catDecl}) // the declared gift: in
	give(t, app, cat, gift{pence: 5000, on: "2025-05-02 00:00:00.000Z", eligible: true})                      // another: out

	eveDecl := declare(t, app, eve, decl{"", `=HYPERLINK("http://ev.il","x")`, "@SUM(A1)", "+44 House", "SW1A 1AA", "2025-01-01 00:00:00.000Z", "", vocab.ScopePastAndFuture})
	e1 := give(t, app, eve, gift{pence: 5, on: "2025-06-30 23:30:00.000Z", eligible: true}) // 00:30 on 1 July in London

	give(t, app, dan, gift{pence: 900, on: "2025-08-01 00:00:00.000Z", eligible: true}) // no declaration: out

	want := [][]string{
		{"Dr", "Ann", "Lee-Smith", "7", "LS1 1AA", "", "", "01/06/21", "10.00", a1.Id, "stripe:" + a1.GetString("reference"), annDecl.Id},
		{"", "Bob", "Ray", "Flat 2", "M1 1AE", "", "", "01/06/24", "1234.56", b1.Id, "stripe:" + b1.GetString("reference"), bobDecl.Id},
		{"Ms", "Cat", "Oak", "12", "EH1 1YZ", "", "", "01/05/25", "50.00", c1.Id, "stripe:" + c1.GetString("reference"), catDecl.Id},
		{"", `'=HYPERLINK("http://ev.il","x")`, "'@SUM(A1)", "'+44 House", "SW1A 1AA", "", "", "01/07/25", "0.05", e1.Id, "stripe:" + e1.GetString("reference"), eveDecl.Id},
		{"Dr", "Ann", "Lee-Smith", "7", "LS1 1AA", "", "", "15/09/25", "25.00", a2.Id, "stripe:" + a2.GetString("reference"), annDecl.Id},
	}
	check := func(name string, got [][]string, tot giving.Totals) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d:\n%q", name, len(got), len(want), got)
		}
		for i := range want {
			if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
				t.Errorf("%s row %d:\n got %q\nwant %q", name, i, got[i], want[i])
			}
		}
		if tot.AmountPence != 1000+123456+5000+5+2500 {
			t.Errorf("%s: total %d", name, tot.AmountPence)
		}
	}
	preview, tot := claimFile(t, app, "")
	check("preview", preview, tot)
	if again, _ := claimFile(t, app, ""); len(again) != len(want) {
		t.Fatal("the preview marked something")
	}

	m, err := giving.MarkClaim(app, "2026-11")
	if err != nil || m.Marked != 5 || m.Existing {
		t.Fatalf("mark = %+v, %v", m, err)
	}
	claimed, tot := claimFile(t, app, "2026-11")
	check("claim", claimed, tot)
	if rest, _ := claimFile(t, app, ""); len(rest) != 0 {
		t.Fatalf("claimed donations still offered: %q", rest)
	}
	// Each claimed donation records the declaration it was claimed under.
	if d, _ := app.FindRecordById(vocab.Donations, a1.Id); d.GetString("gift_aid_declaration") != annDecl.Id || d.GetString("gift_aid_claim") != "2026-11" {
		t.Fatalf("a1 after the claim: %v", d.FieldsData())
	}

	// Ann moves and declares again; a new gift comes in. The claim made is
	// fixed: the same reference repeats it with the address it was made
	// with; the new gift waits for the next claim.
	declare(t, app, ann, decl{"Dr", "Ann", "Lee-Smith", "99", "LS2 9JT", "2026-01-20 00:00:00.000Z", "", vocab.ScopePastAndFuture})
	a3 := give(t, app, ann, gift{pence: 4000, on: "2026-02-01 00:00:00.000Z", eligible: true})
	m, err = giving.MarkClaim(app, "2026-11")
	if err != nil || m.Marked != 0 || !m.Existing {
		t.Fatalf("mark again = %+v, %v", m, err)
	}
	claimed, tot = claimFile(t, app, "2026-11")
	check("claim again", claimed, tot)
	next, _ := claimFile(t, app, "")
	if len(next) != 1 || next[0][9] != a3.Id || next[0][3] != "99" || next[0][4] != "LS2 9JT" {
		t.Fatalf("next claim preview %q", next)
	}
	if m, err = giving.MarkClaim(app, "2027-01"); err != nil || m.Marked != 1 {
		t.Fatalf("next claim = %+v, %v", m, err)
	}

	for _, bad := range []string{"", "two words", "../etc", "x;y", strings.Repeat("a", 61)} {
		if _, err := giving.MarkClaim(app, bad); !errors.Is(err, giving.ErrBadClaim) {
			t.Errorf("claim %q: err = %v", bad, err)
		}
	}
}
