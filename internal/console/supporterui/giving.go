package supporterui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/console"
	"supportercrm/internal/giving"
	"supportercrm/internal/vocab"
)

// givingPerPage is how many rows a giving list shows a page.
const givingPerPage = 50

// listPage is one page of a giving list, with its filter.
type listPage[T any] struct {
	Rows       []T
	Filter     string
	Filters    []string
	Prev, Next string
}

// paged reads page n of sel into a listPage, keeping filter in its links.
func paged[T any](e *core.RequestEvent, sel *dbx.SelectQuery, filter string, filters []string) (listPage[T], error) {
	n := pageNumber(e)
	l := listPage[T]{Filter: filter, Filters: filters}
	if err := sel.Limit(givingPerPage + 1).Offset(int64((n - 1) * givingPerPage)).All(&l.Rows); err != nil {
		return l, err
	}
	link := func(to int) string {
		return "?" + url.Values{"show": {filter}, "page": {strconv.Itoa(to)}}.Encode()
	}
	if len(l.Rows) > givingPerPage {
		l.Rows, l.Next = l.Rows[:givingPerPage], link(n+1)
	}
	if n > 1 {
		l.Prev = link(n - 1)
	}
	return l, nil
}

// filterOf is the page's show= filter when it is one of allowed, else the first.
func filterOf(e *core.RequestEvent, allowed []string) string {
	v := e.Request.URL.Query().Get("show")
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return allowed[0]
}

// donor is the supporter columns every giving list shows.
type donor struct {
	Supporter string `db:"supporter"`
	Email     string `db:"email"`
	FirstName string `db:"first_name"`
	LastName  string `db:"last_name"`
}

var donorCols = []string{"s.id AS supporter", "coalesce(s.email, '') AS email", "coalesce(s.first_name, '') AS first_name", "coalesce(s.last_name, '') AS last_name"}

type donationRow struct {
	donor
	ID          string         `db:"id"`
	AmountPence int64          `db:"amount_pence"`
	DonatedOn   types.DateTime `db:"donated_on"`
	Method      string         `db:"method"`
	Provider    string         `db:"provider"`
	Reference   string         `db:"reference"`
	GiftAid     bool           `db:"gift_aid_eligible"`
	Claim       string         `db:"gift_aid_claim"`
}

// Amount is the donation in pounds, for people.
func (d donationRow) Amount() string { return giving.Pounds(d.AmountPence) }

var donationFilters = []string{"all", "gift-aid-unclaimed", "gift-aid-claimed"}

func (p *Pages) donations(e *core.RequestEvent) error {
	show := filterOf(e, donationFilters)
	sel := p.app.DB().Select(append([]string{"d.id", "d.amount_pence", "d.donated_on", "d.method", "d.provider", "d.reference", "d.gift_aid_eligible", "d.gift_aid_claim"}, donorCols...)...).
		From(vocab.Donations+" d").LeftJoin(vocab.Supporters+" s", dbx.NewExp("s.id = d.supporter")).OrderBy("d.donated_on DESC", "d.id DESC")
	switch show {
	case "gift-aid-unclaimed":
		sel = sel.Where(dbx.NewExp("d.gift_aid_eligible = TRUE AND d.gift_aid_claim = ''"))
	case "gift-aid-claimed":
		sel = sel.Where(dbx.NewExp("d.gift_aid_claim != ''"))
	}
	l, err := paged[donationRow](e, sel, show, donationFilters)
	if err != nil {
		return err
	}
	return p.c.Render(e, "giving/donations", l)
}

type pledgeRow struct {
	donor
	ID             string         `db:"id"`
	Purpose        string         `db:"purpose"`
	AmountPence    int64          `db:"amount_pence"`
	Frequency      string         `db:"frequency"`
	Status         string         `db:"status"`
	StartsOn       types.DateTime `db:"starts_on"`
	EndsOn         types.DateTime `db:"ends_on"`
	FailedPayments int            `db:"failed_payments"`
	LastFailedOn   types.DateTime `db:"last_failed_on"`
}

// Amount is the pledge per period in pounds, for people.
func (r pledgeRow) Amount() string { return giving.Pounds(r.AmountPence) }

// pledgesFailing is the filter of pledges whose latest payment failed.
const pledgesFailing = "failing payments"

var pledgeFilters = []string{vocab.PledgeActive, pledgesFailing, "all", vocab.PledgePaused, vocab.PledgeEnded, vocab.PledgeCancelled}

// pledgesPage is a page of pledges under what the active ones bring in.
type pledgesPage struct {
	listPage[pledgeRow]
	Totals  []frequencyTotal
	Monthly string // all active pledges as a month's income, in pounds
	Failing int    // pledges whose latest payment failed
}

// frequencyTotal is the active pledges of one frequency.
type frequencyTotal struct {
	Frequency     string `db:"frequency"`
	Count         int    `db:"n"`
	PerPeriodP    int64  `db:"pence"`
	Period, Month string
}

func (p *Pages) pledges(e *core.RequestEvent) error {
	show := filterOf(e, pledgeFilters)
	sel := p.app.DB().Select(append([]string{"g.id", "g.purpose", "g.amount_pence", "g.frequency", "g.status", "g.starts_on", "g.ends_on",
		"g.failed_payments", "g.last_failed_on"}, donorCols...)...).
		From(vocab.Pledges+" g").LeftJoin(vocab.Supporters+" s", dbx.NewExp("s.id = g.supporter")).OrderBy("g.starts_on DESC", "g.id DESC")
	switch show {
	case "all":
	case pledgesFailing:
		sel = sel.Where(dbx.NewExp("g.failed_payments > 0 AND g.status IN ({:active}, {:paused})",
			dbx.Params{"active": vocab.PledgeActive, "paused": vocab.PledgePaused}))
	default:
		sel = sel.Where(dbx.HashExp{"g.status": show})
	}
	l, err := paged[pledgeRow](e, sel, show, pledgeFilters)
	if err != nil {
		return err
	}
	page := pledgesPage{listPage: l}
	if err := p.pledgeTotals(&page); err != nil {
		return err
	}
	return p.c.Render(e, "giving/pledges", page)
}

// pledgeTotals adds what the active pledges bring in, per frequency and
// as a month (a weekly gift is 52 a year), and how many are failing.
func (p *Pages) pledgeTotals(page *pledgesPage) error {
	err := p.app.DB().Select("frequency", "count(*) AS n", "coalesce(sum(amount_pence), 0) AS pence").From(vocab.Pledges).
		Where(dbx.HashExp{"status": vocab.PledgeActive}).GroupBy("frequency").OrderBy("frequency").All(&page.Totals)
	if err != nil {
		return err
	}
	var monthly int64
	for i, t := range page.Totals {
		m := t.PerPeriodP
		if t.Frequency == vocab.PledgeWeekly {
			m = giving.Monthly(t.PerPeriodP)
		}
		monthly += m
		page.Totals[i].Period, page.Totals[i].Month = giving.Pounds(t.PerPeriodP), giving.Pounds(m)
	}
	page.Monthly = giving.Pounds(monthly)
	return p.app.DB().Select("count(*)").From(vocab.Pledges).
		Where(dbx.NewExp("failed_payments > 0 AND status IN ({:active}, {:paused})",
			dbx.Params{"active": vocab.PledgeActive, "paused": vocab.PledgePaused})).Row(&page.Failing)
}

type declarationRow struct {
	donor
	ID          string         `db:"id"`
	Title       string         `db:"title"`
	DeclFirst   string         `db:"decl_first"`
	DeclLast    string         `db:"decl_last"`
	House       string         `db:"house"`
	Postcode    string         `db:"postcode"`
	DeclaredOn  types.DateTime `db:"declared_on"`
	Scope       string         `db:"scope"`
	Method      string         `db:"method"`
	CancelledOn types.DateTime `db:"cancelled_on"`
}

var declarationFilters = []string{"active", "cancelled", "all"}

func (p *Pages) declarations(e *core.RequestEvent) error {
	show := filterOf(e, declarationFilters)
	sel := p.app.DB().Select(append([]string{"g.id", "g.title", "g.first_name AS decl_first", "g.last_name AS decl_last", "g.house", "g.postcode",
		"g.declared_on", "g.scope", "g.method", "g.cancelled_on"}, donorCols...)...).
		From(vocab.Declarations+" g").LeftJoin(vocab.Supporters+" s", dbx.NewExp("s.id = g.supporter")).OrderBy("g.declared_on DESC", "g.id DESC")
	switch show {
	case "active":
		sel = sel.Where(dbx.HashExp{"g.cancelled_on": ""})
	case "cancelled":
		sel = sel.Where(dbx.NewExp("g.cancelled_on != ''"))
	}
	l, err := paged[declarationRow](e, sel, show, declarationFilters)
	if err != nil {
		return err
	}
	return p.c.Render(e, "giving/declarations", l)
}

// claimsView is the Gift Aid claim page: what the next claim would hold,
// and the claims made before.
type claimsView struct {
	Form    *console.Form
	Preview giving.Totals
	Claims  []claimRow
}

type claimRow struct {
	Ref         string `db:"ref"`
	Donations   int    `db:"donations"`
	AmountPence int64  `db:"pence"`
	Made        string `db:"made"`
}

// Amount is the claim's donations in pounds, for people.
func (c claimRow) Amount() string { return giving.Pounds(c.AmountPence) }

// PreviewAmount is the next claim's donations in pounds.
func (v claimsView) PreviewAmount() string { return giving.Pounds(v.Preview.AmountPence) }

func (p *Pages) claimsPage(e *core.RequestEvent) error {
	return p.renderClaims(e, http.StatusOK, console.NewForm(nil))
}

func (p *Pages) renderClaims(e *core.RequestEvent, status int, f *console.Form) error {
	v := claimsView{Form: f}
	var err error
	if v.Preview, err = giving.WriteClaim(e.Request.Context(), p.app, io.Discard, ""); err != nil {
		return err
	}
	err = p.app.DB().Select("gift_aid_claim AS ref", "count(*) AS donations", "sum(amount_pence) AS pence", "max(updated) AS made").
		From(vocab.Donations).Where(dbx.NewExp("gift_aid_claim != ''")).GroupBy("gift_aid_claim").OrderBy("made DESC").All(&v.Claims)
	if err != nil {
		return err
	}
	return p.c.RenderStatus(e, status, "giving/claims", v)
}

// makeClaim marks the donations that can be claimed under the reference
// typed (giving.MarkClaim: a reference used before adds nothing) and
// audits it; the claim file is then downloaded from the list.
func (p *Pages) makeClaim(e *core.RequestEvent) error {
	f := console.NewForm(e)
	ref := f.Get("claim")
	if !giving.ValidClaim(ref) {
		f.Fail("claim", "Give the claim a reference: "+giving.ErrBadClaim.Error()+".")
		return p.renderClaims(e, http.StatusBadRequest, f)
	}
	var m giving.Marked
	err := p.app.RunInTransaction(func(tx core.App) error {
		var err error
		if m, err = giving.MarkClaim(tx, ref); err != nil {
			return err
		}
		detail := fmt.Sprintf("claim %s: %d donations marked as claimed", ref, m.Marked)
		if m.Existing {
			detail = fmt.Sprintf("claim %s made before: nothing added", ref)
		}
		return console.AuditRequest(tx, e, "giftaid.claim", "donations", detail)
	})
	if errors.Is(err, giving.ErrBadClaim) {
		f.Fail("claim", err.Error())
		return p.renderClaims(e, http.StatusBadRequest, f)
	}
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Claim %s made: %d donations marked as claimed. Download its file below.", ref, m.Marked)
	if m.Existing {
		msg = fmt.Sprintf("Claim %s was made before; nothing new was added. Download its file below.", ref)
	}
	return console.Redirect(e, "/giving/claims", msg)
}

// claimDownload streams a claim made before (claim=REF), or the preview of
// the next one (no claim), in HMRC's schedule columns.
func (p *Pages) claimDownload(e *core.RequestEvent) error {
	f := console.NewForm(e)
	ref := f.Get("claim")
	name, what := "gift-aid-unclaimed", "Gift Aid claim preview"
	if ref != "" {
		made := false
		if giving.ValidClaim(ref) {
			var err error
			if made, err = giving.Claimed(p.app, ref); err != nil {
				return err
			}
		}
		if !made {
			f.Fail("claim", "There is no claim "+clipped(ref)+".")
			return p.renderClaims(e, http.StatusBadRequest, f)
		}
		name, what = "gift-aid-claim-"+ref, "Gift Aid claim "+ref
	}
	return p.download(e, name, "giftaid.export", what, func(w io.Writer) (int, error) {
		t, err := giving.WriteClaim(e.Request.Context(), p.app, w, ref)
		return t.Donations, err
	})
}
