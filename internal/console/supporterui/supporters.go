package supporterui

import (
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/console"
	"supportercrm/internal/giving"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// topicOption is a topic as a filter offers it.
type topicOption struct{ ID, Slug, Name string }

// topics lists the topics, and maps their ids to names.
func topics(app core.App) ([]topicOption, map[string]string, error) {
	recs, err := app.FindRecordsByFilter(vocab.Topics, "", "sort_order,name", 0, 0)
	if err != nil {
		return nil, nil, err
	}
	opts := make([]topicOption, len(recs))
	names := make(map[string]string, len(recs))
	for i, t := range recs {
		opts[i] = topicOption{ID: t.Id, Slug: t.GetString("slug"), Name: t.GetString("name")}
		names[t.Id] = opts[i].Name
	}
	return opts, names, nil
}

// listView is the supporters page: the search form and a page of results.
type listView struct {
	Form     *console.Form
	Searched bool
	Result   Result
	Topics   []topicOption
	Names    map[string]string // topic id → name
	Statuses []string
	Prev     string // query strings of the neighbouring pages, "" if none
	Next     string
}

// TopicNames are a row's topics by name.
func (v listView) TopicNames(r Row) []string {
	var out []string
	for _, id := range jsonList(r.Topics) {
		out = append(out, v.Names[id])
	}
	return out
}

func (p *Pages) list(e *core.RequestEvent) error {
	in := e.Request.URL.Query()
	q := Query{Text: in.Get("q"), Status: in.Get("status"), Topic: in.Get("topic"), Tag: strings.TrimSpace(in.Get("tag")), Page: pageNumber(e)}
	v := listView{Form: &console.Form{Values: in, Errors: map[string]string{}}, Statuses: vocab.SupporterStatuses[:5]}
	var err error
	if v.Topics, v.Names, err = topics(p.app); err != nil {
		return err
	}
	status := http.StatusOK
	if errs := q.Check(p.app); errs != nil {
		for f, msg := range errs {
			v.Form.Fail(f, msg)
		}
		status = http.StatusBadRequest
	} else {
		if v.Result, err = Search(p.app, q); err != nil {
			return err
		}
		v.Searched = true
		page := func(n int) string {
			w := url.Values{}
			for _, k := range []string{"q", "status", "topic", "tag"} {
				if x := in.Get(k); x != "" {
					w.Set(k, x)
				}
			}
			w.Set("page", strconv.Itoa(n))
			return "?" + w.Encode()
		}
		if q.Page > 1 {
			v.Prev = page(q.Page - 1)
		}
		if v.Result.More && q.Page < MaxPage {
			v.Next = page(q.Page + 1)
		}
	}
	return p.c.RenderStatus(e, status, "supporters/list", v)
}

// showView is a supporter's page. Address, postcode and giving are for
// admins only: the handler leaves them out for comms staff, so the page
// can't show them by mistake.
type showView struct {
	Title     string
	Supporter *core.Record
	Admin     bool
	Address   string
	Postcode  string
	Topics    []string
	Tags      []string
	Giving    *givingTotals
	Events    []Event
	Older     string // the next timeline page's query, "" if none
	Erased    bool
	Notes     string
}

// givingTotals is a supporter's row of the supporter_giving view.
type givingTotals struct {
	DonationCount int    `db:"donation_count"`
	DonatedPence  int64  `db:"donated_pence"`
	LastDonation  string `db:"last_donation_on"`
	ActivePledges int    `db:"active_pledges"`
	WeeklyPence   int64  `db:"weekly_pledged_pence"`
	MonthlyPence  int64  `db:"monthly_pledged_pence"`
	GiftAid       string `db:"gift_aid"`
}

// Donated is the total given, in pounds.
func (g givingTotals) Donated() string { return giving.Pounds(g.DonatedPence) }

// Last is the day of the last donation, "" if none.
func (g givingTotals) Last() string {
	d, err := types.ParseDateTime(g.LastDonation)
	if err != nil || d.IsZero() {
		return ""
	}
	return d.Time().In(tz.London).Format("2 Jan 2006")
}

// Pledged is what the active pledges come to, e.g. "£2.50 a week and £10.00 a month".
func (g givingTotals) Pledged() string {
	var parts []string
	if g.WeeklyPence > 0 {
		parts = append(parts, giving.Pounds(g.WeeklyPence)+" a week")
	}
	if g.MonthlyPence > 0 {
		parts = append(parts, giving.Pounds(g.MonthlyPence)+" a month")
	}
	return strings.Join(parts, " and ")
}

func (p *Pages) show(e *core.RequestEvent, sup *core.Record) error {
	isAdmin := admin(e)
	offset, _ := strconv.Atoi(e.Request.URL.Query().Get("from"))
	offset = max(offset, 0)
	events, more, err := Timeline(p.app, sup, isAdmin, offset)
	if err != nil {
		return err
	}
	_, names, err := topics(p.app)
	if err != nil {
		return err
	}
	v := showView{Title: sup.GetString("email"), Supporter: sup, Admin: isAdmin, Events: events, Tags: sup.GetStringSlice("tags"), Erased: sup.GetString("status") == vocab.StatusErased}
	if name := strings.TrimSpace(sup.GetString("first_name") + " " + sup.GetString("last_name")); name != "" {
		v.Title = name
	}
	v.Notes = sup.GetString("notes")
	if v.Erased {
		v.Title, v.Notes = "Erased supporter", ErasedNote(sup, isAdmin)
	}
	for _, id := range sup.GetStringSlice("topics") {
		v.Topics = append(v.Topics, names[id])
	}
	if more {
		v.Older = "?from=" + strconv.Itoa(offset+TimelineLimit)
	}
	if isAdmin {
		v.Address, v.Postcode = sup.GetString("address"), sup.GetString("postcode")
		var g givingTotals
		err := p.app.DB().Select("donation_count", "donated_pence", "last_donation_on", "active_pledges", "weekly_pledged_pence", "monthly_pledged_pence", "gift_aid").
			From(vocab.Giving).Where(dbx.HashExp{"supporter": sup.Id}).One(&g)
		switch {
		case err == nil:
			v.Giving = &g
		case !errors.Is(err, sql.ErrNoRows): // no row: no giving
			return err
		}
	}
	return p.c.Render(e, "supporters/show", v)
}
