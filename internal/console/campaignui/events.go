package campaignui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console"
	"supportercrm/internal/fbsync"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// The events that the events page and newsletters list: those the
// Facebook sync brings in and those staff enter. Staff hide or feature any
// event and write a blurb (or fill in a date and place a post lacks): the
// sync never overwrites those fields. Sync now runs a sync at once.

type eventRow struct {
	ID, Name, Source, Place, Blurb string
	StaffPlace                     string
	Start                          time.Time
	Hidden, Featured, Cancelled    bool
	Removed, Manual                bool
	Date, Clock                    string // the staff start, for the form
}

type eventsPage struct {
	Rows             []eventRow
	Form             *console.Form
	LastSync         *syncView
	CanSync          bool
	Page, Prev, Next int
}

type syncView struct {
	Started, Finished                  time.Time
	Trigger, Error                     string
	Fetched, Created, Updated, Removed int
}

// eventsSize is how many events a page lists.
const eventsSize = 50

func (p *Pages) eventRoutes() {
	c := p.Console
	c.Nav("Events", "/events", console.Comms)
	c.GET("/events", console.Comms, p.eventList)
	c.POST("/events/new", console.Comms, p.eventCreate)
	c.POST("/events/sync", console.Comms, p.eventSync)
	c.POST("/events/{id}", console.Comms, p.eventUpdate)
}

func (p *Pages) eventList(e *core.RequestEvent) error {
	return p.renderEvents(e, http.StatusOK, console.NewForm(nil))
}

func (p *Pages) renderEvents(e *core.RequestEvent, status int, f *console.Form) error {
	page, _ := strconv.Atoi(e.Request.URL.Query().Get("page"))
	page = max(page, 1)
	recs, err := e.App.FindRecordsByFilter(vocab.Events, "", "-start,-created", eventsSize+1, (page-1)*eventsSize)
	if err != nil {
		return err
	}
	v := eventsPage{Form: f, CanSync: p.Sync != nil, Page: page}
	if len(recs) > eventsSize {
		recs, v.Next = recs[:eventsSize], page+1
	}
	if page > 1 {
		v.Prev = page - 1
	}
	for _, r := range recs {
		row := eventRow{ID: r.Id, Name: r.GetString("name"), Source: r.GetString("source"), Place: firstOf(r.GetString("staff_place"), r.GetString("place")),
			Blurb: r.GetString("blurb"), StaffPlace: r.GetString("staff_place"), Start: r.GetDateTime("start").Time(), Hidden: r.GetBool("hidden"), Featured: r.GetBool("featured"),
			Cancelled: r.GetBool("cancelled"), Removed: r.GetBool("removed"), Manual: r.GetString("source") == vocab.SourceManual}
		if st := r.GetDateTime("staff_start").Time(); !st.IsZero() {
			row.Start = st
			row.Date, row.Clock = st.In(tz.London).Format("2006-01-02"), st.In(tz.London).Format("15:04")
		}
		v.Rows = append(v.Rows, row)
	}
	runs, err := e.App.FindRecordsByFilter(vocab.SyncRuns, "", "-started", 1, 0)
	if err == nil && len(runs) == 1 {
		r := runs[0]
		v.LastSync = &syncView{Started: r.GetDateTime("started").Time(), Finished: r.GetDateTime("finished").Time(),
			Trigger: r.GetString("trigger"), Error: r.GetString("error"), Fetched: r.GetInt("fetched"),
			Created: r.GetInt("created_count"), Updated: r.GetInt("updated_count"), Removed: r.GetInt("removed_count")}
	}
	return p.Console.RenderStatus(e, status, "events/list", v)
}

// readStaffTime reads an optional London date and time from the form; an
// empty date is no time.
func readStaffTime(f *console.Form, dateField, clockField string) (time.Time, bool) {
	if f.Get(dateField) == "" {
		return time.Time{}, true
	}
	clock := f.Get(clockField)
	if clock == "" {
		clock = "00:00"
	}
	at, err := londonInput(f.Get(dateField), clock)
	if err != nil {
		f.Fail(dateField, "Give the date as 2026-12-03 and the time as 18:30.")
		return time.Time{}, false
	}
	return at, true
}

// eventCreate adds an event entered by staff.
func (p *Pages) eventCreate(e *core.RequestEvent) error {
	f := console.NewForm(e)
	f.Require("name", "the event's name", "date", "the date")
	start, _ := readStaffTime(f, "date", "time")
	if u := f.Get("ticket_url"); u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			f.Fail("ticket_url", "Give a web address starting https://.")
		}
	}
	if len(f.Get("name")) > 300 {
		f.Fail("name", "Keep the name to 300 characters.")
	}
	if f.OK() {
		col, err := e.App.FindCachedCollectionByNameOrId(vocab.Events)
		if err != nil {
			return err
		}
		r := core.NewRecord(col)
		r.Set("name", f.Get("name"))
		r.Set("source", vocab.SourceManual)
		r.Set("start", start.UTC())
		r.Set("place", f.Get("place"))
		r.Set("description", f.Get("description"))
		r.Set("ticket_url", f.Get("ticket_url"))
		r.Set("online", f.Get("online") != "")
		if err := e.App.Save(r); err != nil {
			failSave(f, err)
		}
	}
	if !f.OK() {
		return p.renderEvents(e, http.StatusBadRequest, f)
	}
	return console.Redirect(e, "/events", "Added "+f.Get("name")+".")
}

// eventUpdate sets the staff-owned fields of one event: hidden, featured,
// blurb, and the date and place a Facebook post may lack.
func (p *Pages) eventUpdate(e *core.RequestEvent) error {
	r, err := e.App.FindRecordById(vocab.Events, e.Request.PathValue("id"))
	if err != nil {
		return p.notFound(e)
	}
	f := console.NewForm(e)
	switch f.Get("action") {
	case "hide", "show":
		r.Set("hidden", f.Get("action") == "hide")
	case "feature", "unfeature":
		r.Set("featured", f.Get("action") == "feature")
	default:
		if len([]rune(f.Get("blurb"))) > 1000 {
			f.Fail("blurb-"+r.Id, "Keep the blurb to 1,000 characters.")
		}
		start, ok := readStaffTime(f, "staff_date", "staff_time")
		if ok && f.OK() {
			r.Set("blurb", f.Get("blurb"))
			r.Set("staff_place", f.Get("staff_place"))
			if start.IsZero() {
				r.Set("staff_start", "")
			} else {
				r.Set("staff_start", start.UTC())
			}
		}
	}
	if f.OK() {
		if err := e.App.Save(r); err != nil {
			failSave(f, err)
		}
	}
	if !f.OK() {
		return p.renderEvents(e, http.StatusBadRequest, f)
	}
	return console.Redirect(e, "/events", "Saved "+r.GetString("name")+".")
}

// eventSync runs a Facebook sync now and says how it went.
func (p *Pages) eventSync(e *core.RequestEvent) error {
	if p.Sync == nil {
		return console.Redirect(e, "/events", "Facebook is not set up, so there is nothing to sync (see the README's Facebook section).")
	}
	res, err := p.Sync(e.Request.Context())
	switch {
	case errors.Is(err, fbsync.ErrBusy):
		return console.Redirect(e, "/events", "A sync is already running; its result shows here when it ends.")
	case err != nil:
		return console.Redirect(e, "/events", "The sync failed: "+err.Error())
	}
	return console.Redirect(e, "/events", fmt.Sprintf("Synced: %d fetched, %d new, %d updated, %d removed.", res.Fetched, res.Created, res.Updated, res.Removed))
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
