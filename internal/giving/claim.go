package giving

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/csvio"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// Header is the claim file's header row: the columns of HMRC's Charities
// Online schedule spreadsheet in its order (without its own Item column),
// then three columns for the charity's audit trail. They come after
// Amount, so copying the first nine columns into HMRC's template gives
// exactly the schedule; the rest tie each line back to the donation, the
// provider's transaction and the declaration it was claimed under.
var Header = []string{
	"Title", "First name", "Last name", "House name or number", "Postcode",
	"Aggregated donations", "Sponsored event", "Donation date (DD/MM/YY)", "Amount",
	"Donation ID", "Provider reference", "Declaration ID",
}

// claimRe is what a claim reference may be: it names the claim in
// gift_aid_claim (60 characters) and in the file's name.
var claimRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$`)

// ErrBadClaim is the error for a claim reference that can't be used.
var ErrBadClaim = errors.New("a claim reference is 1 to 60 letters, digits, dots, dashes or underscores, starting with a letter or digit (e.g. 2026-11)")

// ValidClaim reports whether ref can name a claim.
func ValidClaim(ref string) bool { return claimRe.MatchString(ref) }

// cover is the declaration a donation d is claimed under: one of the
// donor's that covers its date and isn't cancelled before it. A
// past_and_future declaration covers gifts from 4 years before it was made
// onward; a this_donation one only the donation linked to it. The one
// linked to the donation comes first (a claim pins it there), then the
// latest made.
const cover = `(SELECT g.id FROM gift_aid_declarations g
	WHERE g.supporter = d.supporter
	AND (g.cancelled_on = '' OR g.cancelled_on > d.donated_on)
	AND ((g.scope = 'past_and_future' AND date(d.donated_on) >= date(g.declared_on, '-4 years'))
		OR (g.scope = 'this_donation' AND g.id = d.gift_aid_declaration))
	ORDER BY g.id = d.gift_aid_declaration DESC, g.declared_on DESC, g.id
	LIMIT 1)`

// unclaimed selects donations that can go into a claim.
const unclaimed = `d.gift_aid_eligible = TRUE AND d.gift_aid_claim = '' AND d.currency = 'GBP' AND d.amount_pence > 0`

// Marked is what marking a claim did.
type Marked struct {
	Claim string `json:"claim"`
	// Marked is how many donations were added to the claim now.
	Marked int `json:"marked"`
	// Existing is true when the reference was used before: nothing was
	// added, and the export repeats that claim.
	Existing bool `json:"existing"`
}

// MarkClaim puts every donation that can be claimed (Gift Aid eligible,
// in no claim yet, covered by a declaration) into the claim ref, and
// records on each the declaration it is claimed under. A reference names a
// fixed set of donations: if it was used before, nothing is added, so
// exporting it again gives the same lines (a lost file can be made again)
// and a claim already sent to HMRC never grows. Newer donations go into a
// claim with a new reference.
func MarkClaim(app core.App, ref string) (Marked, error) {
	m := Marked{Claim: ref}
	if !ValidClaim(ref) {
		return m, ErrBadClaim
	}
	err := app.RunInTransaction(func(tx core.App) error {
		var err error
		if m.Existing, err = Claimed(tx, ref); err != nil || m.Existing {
			return err
		}
		res, err := tx.DB().NewQuery(`UPDATE donations AS d
			SET gift_aid_claim = {:claim}, gift_aid_declaration = ` + cover + `, updated = {:now}
			WHERE ` + unclaimed + ` AND ` + cover + ` IS NOT NULL`).
			Bind(dbx.Params{"claim": ref, "now": types.NowDateTime().String()}).Execute()
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		m.Marked = int(n)
		return err
	})
	if err != nil {
		return Marked{Claim: ref}, fmt.Errorf("failed to mark Gift Aid claim %s: %w", ref, err)
	}
	return m, nil
}

// Claimed reports whether a claim ref was made before: some donations are
// in it. Exporting a claim (WriteClaim with ref) marks nothing, so a
// reference never made is worth telling apart from an empty claim.
func Claimed(app core.App, ref string) (bool, error) {
	var used int
	err := app.DB().Select("count(*)").From(vocab.Donations).Where(dbx.HashExp{"gift_aid_claim": ref}).Row(&used)
	return used > 0, err
}

// Totals are what a claim file holds.
type Totals struct {
	Donations   int   `json:"donations"`
	AmountPence int64 `json:"amount_pence"`
}

// claimLine is one donation as the claim file shows it.
type claimLine struct {
	ID          string `db:"id"`
	Provider    string `db:"provider"`
	Reference   string `db:"reference"`
	DonatedOn   string `db:"donated_on"`
	AmountPence int64  `db:"amount_pence"`
	Declaration string `db:"decl"`
	Title       string `db:"title"`
	FirstName   string `db:"first_name"`
	LastName    string `db:"last_name"`
	House       string `db:"house"`
	Postcode    string `db:"postcode"`
}

// WriteClaim writes the claim schedule as CSV (csvio.Writer: BOM, CRLF,
// cells guarded against formula injection), oldest donation first, the
// donor's name and address as given on the declaration. With ref empty it
// lists the donations that could be claimed now and marks nothing (a
// preview); with a reference, the donations in that claim (MarkClaim
// first). Rows are streamed from a database cursor, never all in memory.
func WriteClaim(ctx context.Context, app core.App, w io.Writer, ref string) (Totals, error) {
	var t Totals
	where, params := unclaimed, dbx.Params{}
	if ref != "" {
		if !ValidClaim(ref) {
			return t, ErrBadClaim
		}
		where, params = "d.gift_aid_claim = {:claim}", dbx.Params{"claim": ref}
	}
	rows, err := app.DB().NewQuery(`SELECT x.id, x.provider, x.reference, x.donated_on, x.amount_pence, x.decl,
			g.title, g.first_name, g.last_name, g.house, g.postcode
		FROM (SELECT d.id, d.provider, d.reference, d.donated_on, d.amount_pence, ` + cover + ` AS decl
			FROM donations d WHERE ` + where + `) x
		JOIN gift_aid_declarations g ON g.id = x.decl
		ORDER BY x.donated_on, x.id`).Bind(params).WithContext(ctx).Rows()
	if err != nil {
		return t, fmt.Errorf("failed to list Gift Aid donations: %w", err)
	}
	defer rows.Close()
	cw, err := csvio.NewWriter(w, Header...)
	if err != nil {
		return t, err
	}
	var l claimLine
	for rows.Next() {
		if err := rows.ScanStruct(&l); err != nil {
			return t, fmt.Errorf("failed to read a Gift Aid donation: %w", err)
		}
		on, err := types.ParseDateTime(l.DonatedOn)
		if err != nil {
			return t, fmt.Errorf("donation %s has a bad date %q: %w", l.ID, l.DonatedOn, err)
		}
		ref := l.Reference
		if ref != "" {
			ref = l.Provider + ":" + ref
		}
		err = cw.Write(l.Title, l.FirstName, l.LastName, l.House, l.Postcode, "", "",
			on.Time().In(london).Format("02/01/06"), fmt.Sprintf("%d.%02d", l.AmountPence/100, l.AmountPence%100),
			l.ID, ref, l.Declaration)
		if err != nil {
			return t, err
		}
		t.Donations++
		t.AmountPence += l.AmountPence
	}
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("failed to list Gift Aid donations: %w", err)
	}
	return t, cw.Flush()
}

// Monthly is a weekly amount as a month's: 52 weeks over 12 months,
// rounded up to the penny (so a weekly rate charged monthly never comes to
// less than the weeks it covers).
func Monthly(weekly int64) int64 { return (weekly*52 + 11) / 12 }

// Pounds formats pence as "£1,234.50" for people.
func Pounds(pence int64) string {
	whole := fmt.Sprint(pence / 100)
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	return fmt.Sprintf("£%s.%02d", whole, pence%100)
}

// london is where the schedule's dates are read.
var london = tz.London
