// Package events lists the charity's events for people: the public events
// page and the events block in newsletters. It reads the events collection
// (filled by the Facebook sync or by staff) and applies what staff set:
// hidden events are left out, a staff date or place fills in for Facebook's.
package events

import (
	"cmp"
	"slices"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// London is the zone every date is shown in: the charity and its
// supporters are in the UK.
var London = tz.London

// assumedLength is how long an event with no end time is taken to last, so
// that one in progress still shows as on.
const assumedLength = 3 * time.Hour

// announcedFor is how long an event announced without a date stays listed.
const announcedFor = 120 * 24 * time.Hour

// Item is one event as people see it.
type Item struct {
	ID        string
	Name      string
	Summary   string // the staff blurb, else the start of Facebook's text
	Place     string // "" when online or unknown
	Online    bool
	URL       string // tickets, else the Facebook event
	ImageURL  string
	Start     time.Time // zero when announced without a date
	End       time.Time
	DateOnly  bool
	Cancelled bool
	Featured  bool
}

// Listing is what the events page shows.
type Listing struct {
	Upcoming  []Item // dated, soonest first (featured first on the same day)
	Announced []Item // no date yet, newest announcement first
}

// List returns the upcoming and recently announced events at now.
func List(app core.App, now time.Time) (Listing, error) {
	recs, err := app.FindAllRecords(vocab.Events,
		dbx.HashExp{"hidden": false, "removed": false},
		dbx.NewExp("(start = '' AND staff_start = '') OR start >= {:from} OR staff_start >= {:from} OR [[end]] >= {:from}",
			dbx.Params{"from": now.Add(-48 * time.Hour).UTC().Format(types.DefaultDateLayout)}))
	if err != nil {
		return Listing{}, err
	}
	var l Listing
	for _, r := range recs {
		it := itemOf(r)
		switch {
		case it.Start.IsZero():
			if now.Sub(announcedAt(r)) <= announcedFor {
				l.Announced = append(l.Announced, it)
			}
		case it.over(now):
		default:
			l.Upcoming = append(l.Upcoming, it)
		}
	}
	slices.SortStableFunc(l.Upcoming, func(a, b Item) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return boolFirst(a.Featured, b.Featured)
	})
	slices.SortStableFunc(l.Announced, func(a, b Item) int {
		if c := boolFirst(a.Featured, b.Featured); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID) // ids grow with time
	})
	return l, nil
}

// Next returns up to n upcoming events for a newsletter: dated, not
// cancelled (a newsletter invites people; the page reports cancellations).
func Next(app core.App, now time.Time, n int) ([]Item, error) {
	l, err := List(app, now)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, it := range l.Upcoming {
		if len(out) == n {
			break
		}
		if !it.Cancelled {
			out = append(out, it)
		}
	}
	return out, nil
}

func itemOf(r *core.Record) Item {
	it := Item{
		ID:        r.Id,
		Name:      r.GetString("name"),
		Summary:   r.GetString("blurb"),
		Place:     r.GetString("place"),
		Online:    r.GetBool("online"),
		URL:       firstOf(r.GetString("ticket_url"), r.GetString("facebook_url")),
		ImageURL:  r.GetString("cover_url"),
		Start:     r.GetDateTime("start").Time(),
		End:       r.GetDateTime("end").Time(),
		DateOnly:  r.GetBool("date_only"),
		Cancelled: r.GetBool("cancelled"),
		Featured:  r.GetBool("featured"),
	}
	if it.Summary == "" {
		it.Summary = summary(r.GetString("description"))
	}
	if it.Start.IsZero() {
		it.Start = r.GetDateTime("staff_start").Time()
		it.DateOnly = false
	}
	if it.Place == "" {
		it.Place = r.GetString("staff_place")
	}
	return it
}

// over reports whether the event has finished.
func (it Item) over(now time.Time) bool {
	switch {
	case !it.End.IsZero():
		return !it.End.After(now)
	case it.DateOnly:
		// A date with no time runs all that day (the date is stored as UTC midnight).
		y, m, d := it.Start.UTC().Date()
		return !time.Date(y, m, d+1, 0, 0, 0, 0, London).After(now)
	default:
		return !it.Start.Add(assumedLength).After(now)
	}
}

// announcedAt is when Facebook posted the event, or when staff entered it.
func announcedAt(r *core.Record) time.Time {
	if t := r.GetDateTime("posted_at"); !t.IsZero() {
		return t.Time()
	}
	return r.GetDateTime("created").Time()
}

func boolFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
