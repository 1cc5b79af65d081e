package giving_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/csvio"
	"supportercrm/internal/giving"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

func supporter(t testing.TB, app core.App, email, first, last string) *core.Record {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, app, vocab.Supporters))
	r.Set("email", email)
	r.Set("first_name", first)
	r.Set("last_name", last)
	r.Set("status", vocab.StatusSubscribed)
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// messy is a payment provider's export as Excel saves it: a BOM, CRLF,
// Stripe's header names, an amount with a thousands separator, a quoted
// note with a line break, and every kind of bad row.
func messy(yesterday string) string {
	return "\ufeffid,Created (UTC),Amount,Currency,Customer Email,Status,Gift Aid,Description,Card Brand\r\n" +
		"ch_001,2026-03-01 10:15:00,12.50,gbp,Ann@Example.org ,Paid,yes,\"Spring appeal, thanks\",visa\r\n" + // 2 created
		"ch_002,03/04/2026,\"£1,000.00\",GBP,bob@example.org,Paid,no,,visa\r\n" + // 3 created
		"ch_003,2026-04-05,twelve,GBP,bob@example.org,Paid,no,,visa\r\n" + // 4 bad amount
		"ch_004,2026-04-05,0.00,GBP,bob@example.org,Paid,no,,visa\r\n" + // 5 zero
		"ch_005,2026-04-05,-5.00,GBP,bob@example.org,Paid,no,,visa\r\n" + // 6 refund
		"ch_006,2026-04-05,5.00,GBP,nobody@example.org,Paid,no,,visa\r\n" + // 7 unknown donor
		"ch_001,2026-03-01 10:15:00,12.50,GBP,ann@example.org,Paid,yes,,visa\r\n" + // 8 duplicate: skipped
		"ch_007,2026-04-05,5.00,EUR,bob@example.org,Paid,no,,visa\r\n" + // 9 not GBP
		"ch_008,2026-04-05,5.00,GBP,not-an-address,Paid,no,,visa\r\n" + // 10 bad address
		"ch_009,2026-04-05,5.00,GBP,bob@example.org,Failed,no,,visa\r\n" + // 11 failed payment
		"ch_010,2026-04-06T09:00:00+01:00,5,GBP,bob@example.org,Paid,n,\"two\r\nlines\",visa\r\n" + // 12-13 created
		",2026-04-05,5.00,GBP,bob@example.org,Paid,no,,visa\r\n" + // 14 no reference
		"ch_001,2026-03-01,99.00,GBP,ann@example.org,Paid,yes,,visa\r\n" + // 15 same reference, other amount
		"ch_011,2026-04-05,12.345,GBP,bob@example.org,Paid,no,,visa\r\n" + // 16 three decimals
		"ch_012,2030-01-01,5.00,GBP,bob@example.org,Paid,no,,visa\r\n" + // 17 future
		"ch_013,31/02/2026,5.00,GBP,bob@example.org,Paid,no,,visa\r\n" + // 18 no such date
		"ch_014,2026-04-05,5.00\r\n" + // 19 too few fields
		"ch_015,2026-04-05,5.00,GBP,ann@example.org,Paid,maybe,,visa\r\n" + // 20 gift aid neither yes nor no
		"ch_016," + yesterday + ",20.00,GBP,cat@example.org,Paid,no,,visa\r\n" // 21 created; recent: a thank-you
}

// A messy file: the good rows imported with the right values, every bad row
// reported with its line and reason, exact counts; the thank-you hook runs
// for the recent gift only. Running the same file again changes nothing.
func TestImportMessyFileTwice(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	app := env.App
	ann := supporter(t, app, "ann@example.org", "Ann", "Lee")
	bob := supporter(t, app, "bob@example.org", "Bob", "Ray")
	supporter(t, app, "cat@example.org", "Cat", "Oak")
	file := messy(time.Now().AddDate(0, 0, -1).Format(time.DateOnly))

	sum, err := giving.Import(app, strings.NewReader(file), giving.Options{Provider: "Stripe", Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 4 || sum.Skipped != 1 || sum.Failed != 14 || len(sum.Errors) != 14 {
		t.Fatalf("summary %+v", sum)
	}
	if len(sum.Ignored) != 1 || sum.Ignored[0] != "Card Brand" {
		t.Errorf("ignored columns %q", sum.Ignored)
	}
	want := map[int]string{
		4: "isn't an amount", 5: "more than zero", 6: "refunds", 7: "no supporter has the address nobody@example.org (import supporters first)",
		9: "currency EUR", 10: "not-an-address", 11: `status "Failed"`, 14: "no reference", 15: "already imported for a different donor or amount",
		16: "isn't an amount", 17: "in the future", 18: "isn't a date", 19: "fields", 20: `gift_aid "maybe"`,
	}
	for _, e := range sum.Errors {
		if w, ok := want[e.Line]; !ok || !strings.Contains(e.Reason, w) {
			t.Errorf("line %d: %q, want it to mention %q", e.Line, e.Reason, w)
		}
		delete(want, e.Line)
	}
	if len(want) != 0 {
		t.Errorf("lines not reported: %v", want)
	}

	get := func(ref string) *core.Record {
		t.Helper()
		r, err := app.FindFirstRecordByFilter(vocab.Donations, "provider = 'stripe' && reference = {:r}", map[string]any{"r": ref})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		return r
	}
	for ref, w := range map[string]struct {
		supporter string
		pence     int
		on        string
		giftAid   bool
		notes     string
	}{
		"ch_001": {ann.Id, 1250, "2026-03-01 10:15:00.000Z", true, "Spring appeal, thanks"},
		"ch_002": {bob.Id, 100000, "2026-04-03 00:00:00.000Z", false, ""},
		"ch_010": {bob.Id, 500, "2026-04-06 08:00:00.000Z", false, "two\nlines"},
	} {
		d := get(ref)
		if d.GetString("supporter") != w.supporter || d.GetInt("amount_pence") != w.pence || d.GetDateTime("donated_on").String() != w.on ||
			d.GetBool("gift_aid_eligible") != w.giftAid || strings.ReplaceAll(d.GetString("notes"), "\r", "") != w.notes ||
			d.GetString("currency") != "GBP" || d.GetString("method") != "card" {
			t.Errorf("%s imported as %v", ref, d.FieldsData())
		}
	}
	if n := env.Count(t, vocab.Donations, ""); n != 4 {
		t.Fatalf("%d donations", n)
	}
	// Only the recent gift, from a donor without a declaration, is thanked.
	if n := env.Count(t, vocab.Outbox, "kind = 'thank_you'"); n != 1 {
		t.Fatalf("%d thank-you emails queued, want 1 (cat's)", n)
	}
	if n := env.Count(t, vocab.Outbox, "kind = 'thank_you' && to = 'cat@example.org'"); n != 1 {
		t.Fatal("the thank-you isn't cat's")
	}

	before, mails := testkit.Dump(t, app, vocab.Donations), env.Count(t, vocab.Outbox, "")
	again, err := giving.Import(app, strings.NewReader(file), giving.Options{Provider: "stripe"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Created != 0 || again.Skipped != 5 || again.Failed != 14 {
		t.Fatalf("second run %+v", again)
	}
	if testkit.Dump(t, app, vocab.Donations) != before || env.Count(t, vocab.Outbox, "") != mails {
		t.Fatal("the second run changed donations or the outbox")
	}
}

// A file that isn't UTF-8 (Excel's plain CSV) is refused whole, naming the
// line, before any row is written: even the good rows above it.
func TestImportRefusesNonUTF8(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	supporter(t, env.App, "ann@example.org", "Ann", "Lee")
	latin1 := "email,amount,date,reference\r\nann@example.org,5.00,2026-01-02,r1\r\nann@example.org,6.00,2026-01-03,r2 caf\xe9\r\n"
	_, err := giving.Import(env.App, strings.NewReader(latin1), giving.Options{Provider: "bank"})
	var fe *csvio.FileError
	if !errors.As(err, &fe) || !errors.Is(err, csvio.ErrNotUTF8) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v", err)
	}
	if n := env.Count(t, vocab.Donations, ""); n != 0 {
		t.Fatalf("%d donations written", n)
	}
}

// Files refused as a whole say why, and write nothing.
func TestImportFileProblems(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	for name, c := range map[string]struct{ file, provider, want string }{
		"empty":       {"", "bank", "empty"},
		"no email":    {"amount,date,reference\n5,2026-01-01,r\n", "bank", "email"},
		"no amount":   {"email,date,reference\na@example.org,2026-01-01,r\n", "bank", "amount"},
		"no provider": {"email,amount,date,reference\na@example.org,5,2026-01-01,r\n", "", "provider"},
	} {
		_, err := giving.Import(env.App, strings.NewReader(c.file), giving.Options{Provider: c.provider})
		var fe *csvio.FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want a FileError mentioning %q", name, err, c.want)
		}
	}
}

// Other columns: amount_pence, a provider column, methods by name and by
// provider, UK dates, a pledge by reference.
func TestImportColumns(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	app := env.App
	ann := supporter(t, app, "ann@example.org", "Ann", "Lee")
	pledge := core.NewRecord(testkit.Collection(t, app, vocab.Pledges))
	pledge.Set("supporter", ann.Id)
	pledge.Set("amount_pence", 250)
	pledge.Set("frequency", vocab.PledgeWeekly)
	pledge.Set("starts_on", "2026-01-01 00:00:00.000Z")
	pledge.Set("status", vocab.PledgeActive)
	pledge.Set("reference", "ROOM-7")
	if err := app.Save(pledge); err != nil {
		t.Fatal(err)
	}
	file := "Email Address,Amount Pence,Donated On,Payment Method,Provider,Transaction ID,Gift Aid,Pledge\n" +
		"ann@example.org,250,07/01/2026,Standing Order,Bank,SO-1,y,ROOM-7\n" +
		"ann@example.org,1000,2026-01-08,,PayPal,PP-1,1,\n" +
		"ann@example.org,1000,2026-01-09,,mybank,MB-1,0,\n" +
		"ann@example.org,1000,2026-01-09,crypto,mybank,MB-2,0,\n" +
		"ann@example.org,250,2026-01-14,standing_order,bank,SO-2,yes,ROOM-9\n"
	sum, err := giving.Import(app, strings.NewReader(file), giving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 2 || sum.Failed != 3 {
		t.Fatalf("summary %+v", sum)
	}
	for i, w := range []string{"no payment method", `method "crypto"`, `pledge "ROOM-9"`} {
		if !strings.Contains(sum.Errors[i].Reason, w) {
			t.Errorf("error %d = %+v, want %q", i, sum.Errors[i], w)
		}
	}
	so, err := app.FindFirstRecordByData(vocab.Donations, "reference", "SO-1")
	if err != nil {
		t.Fatal(err)
	}
	if so.GetString("method") != "standing_order" || so.GetString("provider") != "bank" || so.GetString("pledge") != pledge.Id ||
		so.GetDateTime("donated_on").String() != "2026-01-07 00:00:00.000Z" || so.GetInt("amount_pence") != 250 || !so.GetBool("gift_aid_eligible") {
		t.Errorf("SO-1 = %v", so.FieldsData())
	}
	pp, err := app.FindFirstRecordByData(vocab.Donations, "reference", "PP-1")
	if err != nil {
		t.Fatal(err)
	}
	if pp.GetString("method") != "paypal" || pp.GetString("provider") != "paypal" {
		t.Errorf("PP-1 = %v", pp.FieldsData())
	}
}

// Large files go in batches; the batch boundary doesn't matter.
func TestImportBatches(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	supporter(t, env.App, "ann@example.org", "Ann", "Lee")
	var b strings.Builder
	b.WriteString("email,amount,date,reference\n")
	for i := range 1234 {
		fmt.Fprintf(&b, "ann@example.org,%d.00,2025-01-02,r%d\n", i%50+1, i%1000) // 234 repeats
	}
	sum, err := giving.Import(env.App, strings.NewReader(b.String()), giving.Options{Provider: "bank"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 1000 || sum.Skipped != 234 || sum.Failed != 0 {
		t.Fatalf("created %d, skipped %d, failed %d", sum.Created, sum.Skipped, sum.Failed)
	}
}
