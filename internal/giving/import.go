// Package giving imports donations from payment providers' CSV exports and
// exports the Gift Aid claim schedule HMRC's Charities Online takes
// (compliance.md §3). It knows nothing of HTTP; pb_hooks wires it to a
// route and to the `import donations` and `export gift-aid` commands.
package giving

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/csvio"
	"supportercrm/internal/signup"
	"supportercrm/internal/vocab"
)

// Columns of a donations file, by the names the README documents.
var columns = []string{"email", "amount", "amount_pence", "currency", "donated_on", "method", "provider", "reference", "status", "gift_aid", "pledge", "notes", "payment_intent"}

// paid are the statuses of completed payments, when a file has a status
// column (Stripe's and PayPal's exports list failed and pending ones too).
var paid = []string{"", "paid", "succeeded", "success", "successful", "completed", "complete", "cleared", "confirmed", "captured"}

// Aliases are other names for the columns, as payment providers and
// spreadsheets write them (compared after csvio.Normalize: lower case,
// spaces and dashes as underscores).
var Aliases = map[string]string{
	"email_address": "email", "e_mail": "email", "e_mail_address": "email", "donor_email": "email",
	"customer_email": "email", "payer_email": "email", "from_email_address": "email", "supporter_email": "email",

	"gross": "amount", "gross_amount": "amount", "donation_amount": "amount", "amount_gbp": "amount", "amount_(gbp)": "amount",
	"amount_in_pence": "amount_pence", "pence": "amount_pence",

	"date": "donated_on", "created": "donated_on", "created_(utc)": "donated_on", "created_date": "donated_on",
	"created_date_(utc)": "donated_on", "donation_date": "donated_on", "payment_date": "donated_on",
	"transaction_date": "donated_on", "date_paid": "donated_on", "paid_on": "donated_on",

	"payment_status": "status", "transaction_status": "status",
	"payment_method": "method", "payment_type": "method",
	"source": "provider", "platform": "provider",

	"transaction_id": "reference", "transaction_reference": "reference", "transaction_ref": "reference",
	"payment_id": "reference", "payment_reference": "reference", "charge_id": "reference",
	"donation_id": "reference", "id": "reference", "ref": "reference",

	"gift_aid_eligible": "gift_aid", "giftaid": "gift_aid", "gift_aided": "gift_aid",
	"pledge_reference": "pledge", "pledge_id": "pledge",
	"paymentintent_id": "payment_intent", "payment_intent_id": "payment_intent",
	"description": "notes", "note": "notes", "comment": "notes", "comments": "notes",
}

// DefaultBatch is how many rows each write transaction holds.
const DefaultBatch = 500

// Options adjust an import.
type Options struct {
	// Provider names where the file came from (stripe, paypal, bank…), for
	// rows that don't say in a provider column.
	Provider string
	// Batch is how many rows each transaction writes (DefaultBatch if 0).
	Batch int
	// Now is the clock that future dates are judged by (time.Now if nil).
	Now func() time.Time
}

// Summary is what an import did. Created rows are new donations; Skipped
// rows were imported before (same provider and reference); Failed rows
// were refused, each listed in Errors with its line (the first
// csvio.MaxProblems).
type Summary struct {
	Created int            `json:"created"`
	Skipped int            `json:"skipped"`
	Failed  int            `json:"failed"`
	Errors  csvio.Problems `json:"errors"`
	// Ignored lists the file's columns that aren't read, as written.
	Ignored []string `json:"ignored_columns"`
}

func (s *Summary) fail(line int, reason string) {
	s.Failed++
	s.Errors.Add(line, reason)
}

// row is a parsed line waiting for its batch.
type row struct {
	line                               int
	email, provider, reference, method string
	pledge, notes                      string
	pence                              int64
	on                                 time.Time
	giftAid                            bool
}

// Import reads a donations CSV and records its donations, matched to
// supporters by email. The file is checked to be UTF-8 first (then read
// again from the start), so a file in another encoding changes nothing.
// Rows are read one at a time and written DefaultBatch to a transaction;
// no transaction is open while the file is read. Donations are saved with
// app.Save, so record hooks run (a recent gift from a donor without a
// declaration queues the Gift Aid thank-you email).
//
// On an error other than a *csvio.FileError (the file refused whole,
// nothing written) the summary says what was committed
// before it; running the file again picks up where it stopped.
func Import(app core.App, r io.ReadSeeker, opts Options) (Summary, error) {
	var sum Summary
	if _, err := csvio.CheckUTF8(r); err != nil {
		return sum, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return sum, fmt.Errorf("failed to read the donations file again: %w", err)
	}
	rd, err := csvio.NewReader(r, columns, Aliases, "email", "reference", "donated_on")
	if err != nil {
		return sum, err
	}
	sum.Ignored = rd.Unknown()
	if !rd.Has("amount") && !rd.Has("amount_pence") {
		return sum, &csvio.FileError{Err: errors.New("the header row has no amount column (pounds, like 12.50) or amount_pence column")}
	}
	defaultProvider := strings.ToLower(strings.TrimSpace(opts.Provider))
	if !rd.Has("provider") && defaultProvider == "" {
		return sum, &csvio.FileError{Err: errors.New("say which payment provider the file is from: a provider column, or a provider given with the import (e.g. --provider stripe)")}
	}
	if utf8.RuneCountInString(defaultProvider) > 60 {
		return sum, &csvio.FileError{Err: errors.New("the provider name is longer than 60 characters")}
	}
	batch := opts.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rows := make([]row, 0, batch)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		done, err := write(app, rows)
		if err != nil {
			return err
		}
		sum.Created += done.Created
		sum.Skipped += done.Skipped
		for _, e := range done.Errors {
			sum.fail(e.Line, e.Reason)
		}
		rows = rows[:0]
		return nil
	}
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		var re *csvio.RowError
		if errors.As(err, &re) {
			sum.fail(re.Line, re.Err.Error())
			continue
		}
		if err != nil {
			return sum, errors.Join(fmt.Errorf("failed to read the donations file: %w", err), flush())
		}
		p, reason := parse(rec, defaultProvider, now())
		if reason != "" {
			sum.fail(rec.Line, reason)
			continue
		}
		if rows = append(rows, p); len(rows) == batch {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	err = flush()
	slices.SortStableFunc(sum.Errors, func(a, b csvio.Problem) int { return a.Line - b.Line })
	return sum, err
}

// parse checks a row's values; it needs no database.
func parse(rec csvio.Row, defaultProvider string, now time.Time) (row, string) {
	p := row{line: rec.Line}
	email, msg := signup.NormalizeEmail(rec.Get("email"))
	if msg != "" {
		if rec.Get("email") == "" {
			return p, "no email address"
		}
		return p, fmt.Sprintf("email %q: %s", rec.Get("email"), msg)
	}
	p.email = email

	if p.reference = rec.Get("reference"); p.reference == "" {
		return p, "no reference: each donation needs the provider's transaction id"
	}
	// Stripe's payments export names each payment by its charge (id) and
	// its PaymentIntent; gifts taken online are recorded by the
	// PaymentIntent (internal/stripepay), so that is the key here too.
	if pi := rec.Get("payment_intent"); pi != "" && strings.EqualFold(cmp.Or(rec.Get("provider"), defaultProvider), "stripe") {
		p.reference = pi
	}
	if utf8.RuneCountInString(p.reference) > 100 {
		return p, "the reference is longer than 100 characters"
	}
	if p.provider = strings.ToLower(rec.Get("provider")); p.provider == "" {
		p.provider = defaultProvider
	}
	switch {
	case p.provider == "":
		return p, "no provider: fill the provider column or give one with the import"
	case utf8.RuneCountInString(p.provider) > 60:
		return p, "the provider is longer than 60 characters"
	}

	if st := rec.Get("status"); !slices.Contains(paid, strings.ToLower(st)) {
		return p, fmt.Sprintf("status %q: only completed payments are imported", st)
	}
	if c := strings.ToUpper(rec.Get("currency")); c != "" && c != "GBP" {
		return p, fmt.Sprintf("currency %s: only donations in pounds (GBP) can be imported", c)
	}
	var err error
	if s := rec.Get("amount_pence"); s != "" {
		p.pence, err = parsePence(s)
	} else if s := rec.Get("amount"); s != "" {
		p.pence, err = parsePounds(s)
	} else {
		return p, "no amount"
	}
	if err != nil {
		return p, err.Error()
	}

	if s := rec.Get("donated_on"); s == "" {
		return p, "no date"
	} else if p.on, err = parseDate(s); err != nil {
		return p, err.Error()
	}
	switch {
	case p.on.After(now.Add(24 * time.Hour)):
		return p, fmt.Sprintf("the date %s is in the future", p.on.Format(time.DateOnly))
	case p.on.Year() < 2000:
		return p, fmt.Sprintf("the date %s is before 2000", p.on.Format(time.DateOnly))
	}

	if p.method, err = parseMethod(rec.Get("method"), p.provider); err != nil {
		return p, err.Error()
	}
	if p.giftAid, err = parseBool(rec.Get("gift_aid")); err != nil {
		return p, err.Error()
	}
	p.pledge = rec.Get("pledge")
	if p.notes = rec.Get("notes"); utf8.RuneCountInString(p.notes) > 5000 {
		return p, "the notes are longer than 5000 characters"
	}
	return p, ""
}

// write records one batch in one transaction. Its summary counts only
// once the transaction has committed.
func write(app core.App, rows []row) (Summary, error) {
	var sum Summary
	err := app.RunInTransaction(func(tx core.App) error {
		sum = Summary{}
		col, err := tx.FindCachedCollectionByNameOrId(vocab.Donations)
		if err != nil {
			return err
		}
		k, err := lookup(tx, rows)
		if err != nil {
			return err
		}
		for _, p := range rows {
			got, reason, err := save(tx, col, k, p)
			switch {
			case err != nil:
				return fmt.Errorf("line %d: %w", p.line, err)
			case got == created:
				sum.Created++
			case got == skipped:
				sum.Skipped++
			default:
				sum.fail(p.line, reason)
			}
		}
		return nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("failed to import donations: %w", err)
	}
	return sum, nil
}

// known is what a batch's rows refer to, looked up in two queries.
type known struct {
	donors map[string]string // email -> supporter id
	prior  map[string]prior  // provider NUL reference -> the donation imported before
}

type prior struct {
	Provider  string `db:"provider"`
	Reference string `db:"reference"`
	Supporter string `db:"supporter"`
	Pence     int64  `db:"amount_pence"`
}

func key(provider, reference string) string { return provider + "\x00" + reference }

// lookup finds the batch's donors by address and the donations already
// recorded with its references.
func lookup(tx core.App, rows []row) (known, error) {
	k := known{donors: map[string]string{}, prior: map[string]prior{}}
	emails, refs, providers := make([]any, 0, len(rows)), make([]any, 0, len(rows)), []any{}
	for _, p := range rows {
		emails, refs = append(emails, p.email), append(refs, p.reference)
		if !slices.Contains(providers, any(p.provider)) {
			providers = append(providers, p.provider)
		}
	}
	var sups []struct {
		ID    string `db:"id"`
		Email string `db:"email"`
	}
	if err := tx.DB().Select("id", "email").From(vocab.Supporters).Where(dbx.In("email", emails...)).All(&sups); err != nil {
		return k, err
	}
	for _, s := range sups {
		k.donors[s.Email] = s.ID
	}
	// Both columns and the reference != '' term let SQLite use the
	// partial unique index on (provider, reference).
	var found []prior
	err := tx.DB().Select("provider", "reference", "supporter", "amount_pence").From(vocab.Donations).
		Where(dbx.In("provider", providers...)).AndWhere(dbx.In("reference", refs...)).
		AndWhere(dbx.NewExp("reference != ''")).All(&found)
	for _, d := range found {
		k.prior[key(d.Provider, d.Reference)] = d
	}
	return k, err
}

// What became of a row.
type outcome int

const (
	refused outcome = iota
	created
	skipped // imported before
)

// save records one donation. A refused row comes with its reason; an
// error is the database failing.
func save(tx core.App, col *core.Collection, k known, p row) (outcome, string, error) {
	supporter, ok := k.donors[p.email]
	if !ok {
		return refused, fmt.Sprintf("no supporter has the address %s (import supporters first)", p.email), nil
	}
	if before, ok := k.prior[key(p.provider, p.reference)]; ok {
		if before.Supporter == supporter && before.Pence == p.pence {
			return skipped, "", nil
		}
		return refused, fmt.Sprintf("%s reference %s was already imported for a different donor or amount; this row was not imported", p.provider, p.reference), nil
	}
	pledge := ""
	if p.pledge != "" {
		pl, err := tx.FindFirstRecordByFilter(vocab.Pledges, "supporter = {:s} && (id = {:p} || reference = {:p})",
			map[string]any{"s": supporter, "p": p.pledge})
		if errors.Is(err, sql.ErrNoRows) {
			return refused, fmt.Sprintf("pledge %q isn't one of this donor's pledges (give its id or reference)", p.pledge), nil
		}
		if err != nil {
			return refused, "", err
		}
		pledge = pl.Id
	}
	d := core.NewRecord(col)
	d.Set("supporter", supporter)
	d.Set("amount_pence", p.pence)
	d.Set("currency", "GBP")
	d.Set("donated_on", p.on)
	d.Set("method", p.method)
	d.Set("provider", p.provider)
	d.Set("reference", p.reference)
	d.Set("pledge", pledge)
	d.Set("gift_aid_eligible", p.giftAid)
	d.Set("notes", p.notes)
	if err := tx.Save(d); err != nil {
		var ve validation.Errors
		if errors.As(err, &ve) {
			return refused, "the donation can't be saved: " + ve.Error(), nil
		}
		return refused, "", err
	}
	k.prior[key(p.provider, p.reference)] = prior{p.provider, p.reference, supporter, p.pence}
	return created, "", nil
}
