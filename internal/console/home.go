package console

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/fbgraph"
	"supportercrm/internal/outbox"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// The home page: the first-run checklist until setup is done, subscribed
// supporters now, the growth chart, recent campaigns with their results,
// the next scheduled sends and schedule runs (London time), and alerts that
// need someone.

type homePage struct {
	Checklist  []Step
	SetupDone  bool
	Subscribed int
	Growth     []Week
	Series     string // Growth as JSON for the chart
	Recent     []campaignRow
	Scheduled  []campaignRow
	Runs       []runRow
	Alerts     []string
}

type campaignRow struct {
	ID, Name, Status, When                        string
	Total, Sent, Failed, Bounced, Skipped, Unsubs int
}

type runRow struct {
	Name, Next string
	AutoSend   bool
}

// homeLists is how many rows each list on the home page shows.
const homeLists = 5

func (c *Console) home(e *core.RequestEvent) error {
	app := e.App
	steps := Checklist(app)
	p := homePage{Checklist: steps, SetupDone: SetupDone(steps)}
	n, err := app.CountRecords(vocab.Supporters, dbx.HashExp{"status": vocab.StatusSubscribed})
	if err != nil {
		return err
	}
	p.Subscribed = int(n)
	if p.Growth, err = Growth(app, c.cfg.Now(), growthWeeks); err != nil {
		return err
	}
	if p.Series, err = series(p.Growth); err != nil {
		return err
	}
	if p.Recent, err = campaignRows(app, "status != 'draft' && status != 'scheduled'", "-updated", "finished_at"); err != nil {
		return err
	}
	if p.Scheduled, err = campaignRows(app, "status = 'scheduled'", "send_at", "send_at"); err != nil {
		return err
	}
	if p.Runs, err = scheduleRuns(app); err != nil {
		return err
	}
	if p.Alerts, err = alerts(app); err != nil {
		return err
	}
	return c.Render(e, "home", p)
}

func campaignRows(app core.App, filter, sort, when string) ([]campaignRow, error) {
	recs, err := app.FindRecordsByFilter(vocab.Campaigns, filter, sort, homeLists, 0)
	if err != nil {
		return nil, err
	}
	rows := make([]campaignRow, 0, len(recs))
	for _, r := range recs {
		rows = append(rows, campaignRow{ID: r.Id, Name: r.GetString("name"), Status: r.GetString("status"),
			When: London(r.GetDateTime(when).Time()), Total: r.GetInt("total"), Sent: r.GetInt("sent"), Failed: r.GetInt("failed"),
			Bounced: r.GetInt("bounced"), Skipped: r.GetInt("skipped"), Unsubs: r.GetInt("unsubscribed")})
	}
	return rows, nil
}

func scheduleRuns(app core.App) ([]runRow, error) {
	recs, err := app.FindRecordsByFilter(vocab.Schedules, "enabled = true && next_run_at != ''", "next_run_at", homeLists, 0)
	if err != nil {
		return nil, err
	}
	rows := make([]runRow, 0, len(recs))
	for _, r := range recs {
		rows = append(rows, runRow{Name: r.GetString("name"), Next: London(r.GetDateTime("next_run_at").Time()), AutoSend: r.GetBool("auto_send")})
	}
	return rows, nil
}

// alerts are the things someone must act on: paused campaigns and why, a
// Facebook token that no longer works (the latest sync's error, as
// internal/fbsync records it), and mail waiting while SMTP is off.
func alerts(app core.App) ([]string, error) {
	var out []string
	paused, err := app.FindRecordsByFilter(vocab.Campaigns, "status = 'paused'", "-updated", 20, 0)
	if err != nil {
		return nil, err
	}
	for _, r := range paused {
		why := r.GetString("last_error")
		if why == "" {
			why = "paused by staff"
		}
		out = append(out, fmt.Sprintf("The campaign %q is paused: %s", r.GetString("name"), why))
	}
	runs, err := app.FindRecordsByFilter(vocab.SyncRuns, "finished != ''", "-finished", 1, 0)
	if err != nil {
		return nil, err
	}
	if len(runs) == 1 && strings.Contains(runs[0].GetString("error"), "facebook graph: "+fbgraph.TokenInvalid.String()) {
		out = append(out, "The Facebook token has expired or was revoked (last sync "+London(runs[0].GetDateTime("finished").Time())+"): events stop updating until an admin sets a new token (FACEBOOK_TOKEN).")
	}
	if !app.Settings().SMTP.Enabled {
		n, err := app.CountRecords(vocab.Outbox, outbox.Waiting())
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s messages are waiting in the outbox because sending mail (SMTP) is off: switch it on in Settings > Mail settings.", thousands(int(n))))
		}
	}
	return out, nil
}

// growthWeeks is how many weeks the chart shows.
const growthWeeks = 12

// Week is one week of the growth chart, starting Monday 00:00 London.
type Week struct {
	Start                                time.Time
	Signups, Confirmations, Unsubscribes int
}

// Label is the week's start for people: "2 Mar".
func (w Week) Label() string { return w.Start.In(tz.London).Format("2 Jan") }

// Growth counts, for each of the last n weeks (this one included), the
// consent rows that record a signup (a grant), a confirmation (confirmed_at)
// and an unsubscribe (a withdrawal). Each count is a range of a covering
// index (idx_consents_growth, idx_consents_confirmed), so the chart reads
// only the weeks it shows, however many consents there are.
func Growth(app core.App, now time.Time, n int) ([]Week, error) {
	weeks := make([]Week, n)
	bounds := make([]string, n+1)
	start := mondayLondon(now).AddDate(0, 0, -7*(n-1))
	for i := 0; i <= n; i++ {
		b := start.AddDate(0, 0, 7*i) // AddDate keeps London midnight across clock changes
		bounds[i] = b.UTC().Format("2006-01-02 15:04:05.000Z")
		if i < n {
			weeks[i].Start = b
		}
	}
	count := func(column, where string, set func(w *Week, v int)) error {
		q := app.DB().NewQuery("SELECT COUNT(*) FROM " + vocab.Consents + " WHERE " + where + " AND " + column + " >= {:from} AND " + column + " < {:to}")
		for i := range weeks {
			var v int
			if err := q.Bind(dbx.Params{"from": bounds[i], "to": bounds[i+1]}).Row(&v); err != nil {
				return fmt.Errorf("failed to count the growth chart: %w", err)
			}
			set(&weeks[i], v)
		}
		return nil
	}
	if err := count("created", "action = 'grant'", func(w *Week, v int) { w.Signups = v }); err != nil {
		return nil, err
	}
	if err := count("confirmed_at", "confirmed_at != ''", func(w *Week, v int) { w.Confirmations = v }); err != nil {
		return nil, err
	}
	if err := count("created", "action = 'withdraw'", func(w *Week, v int) { w.Unsubscribes = v }); err != nil {
		return nil, err
	}
	return weeks, nil
}

// mondayLondon is 00:00 London on the Monday of t's week.
func mondayLondon(t time.Time) time.Time {
	l := t.In(tz.London)
	d := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, tz.London)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// series is the chart's data for console.js: week starts in Unix seconds
// and the three counts.
func series(weeks []Week) (string, error) {
	var s struct {
		Weeks         []int64 `json:"weeks"`
		Signups       []int   `json:"signups"`
		Confirmations []int   `json:"confirmations"`
		Unsubscribes  []int   `json:"unsubscribes"`
	}
	for _, w := range weeks {
		s.Weeks = append(s.Weeks, w.Start.Unix())
		s.Signups = append(s.Signups, w.Signups)
		s.Confirmations = append(s.Confirmations, w.Confirmations)
		s.Unsubscribes = append(s.Unsubscribes, w.Unsubscribes)
	}
	b, err := json.Marshal(s)
	return string(b), err
}
