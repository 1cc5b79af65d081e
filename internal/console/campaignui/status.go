package campaignui

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/console"
	"supportercrm/internal/csvio"
	"supportercrm/internal/tracking"
	"supportercrm/internal/vocab"
)

// progress is a campaign's counters as the status page and its live
// stream show them.
type progress struct {
	ID, Status, Words, LastError string
	Total, Sent, Failed, Bounced int
	Skipped, Unsubscribed, Done  int
	Complaints                   int // "this is spam" reports, as they arrive after sending
	Percent                      int
	Live                         bool // still preparing or sending: the stream goes on
	Updated                      string
}

func readProgress(app core.App, id string) (progress, error) {
	var row struct {
		Status       string `db:"status"`
		LastError    string `db:"last_error"`
		Total        int    `db:"total"`
		Sent         int    `db:"sent"`
		Failed       int    `db:"failed"`
		Bounced      int    `db:"bounced"`
		Skipped      int    `db:"skipped"`
		Unsubscribed int    `db:"unsubscribed"`
		Complaints   int    `db:"complaints"`
		Updated      string `db:"updated"`
	}
	err := app.DB().Select("status", "last_error", "total", "sent", "failed", "bounced", "skipped", "unsubscribed", "complaints", "updated").
		From(vocab.Campaigns).Where(dbx.HashExp{"id": id}).One(&row)
	if err != nil {
		return progress{}, err
	}
	pr := progress{ID: id, Status: row.Status, Words: statusWords(row.Status), LastError: row.LastError,
		Total: row.Total, Sent: row.Sent, Failed: row.Failed, Bounced: row.Bounced, Skipped: row.Skipped,
		Unsubscribed: row.Unsubscribed, Complaints: row.Complaints, Updated: row.Updated}
	pr.Done = pr.Sent + pr.Failed + pr.Bounced + pr.Skipped
	pr.Percent = percent(pr.Done, pr.Total)
	pr.Live = row.Status == vocab.CampaignPreparing || row.Status == vocab.CampaignSending || row.Status == vocab.CampaignScheduled
	return pr, nil
}

// statusPage is the page of a campaign that can no longer be edited.
type statusPage struct {
	progress
	Name, Subject string
	SendAt        time.Time
	Started       time.Time
	Finished      time.Time
	Archived      bool
	Replies       []reply
	CanDelete     bool
	// Engagement is opens, clicks and top links, for a campaign sent with
	// tracking on (nil otherwise: nothing was counted).
	Engagement *tracking.Results
	// Counters is the progress fragment (parts/progress.html), which the
	// live stream then replaces.
	Counters template.HTML
}

// reply is one of the relay's answers, and how many deliveries got it.
type reply struct {
	Text  string
	Count int
}

func (p *Pages) renderStatus(e *core.RequestEvent, r *core.Record) error {
	pr, err := readProgress(e.App, r.Id)
	if err != nil {
		return err
	}
	page := statusPage{progress: pr, Name: r.GetString("name"), Subject: r.GetString("subject"),
		SendAt: r.GetDateTime("send_at").Time(), Started: r.GetDateTime("started_at").Time(),
		Finished: r.GetDateTime("finished_at").Time(), Archived: r.GetBool("archived")}
	var b strings.Builder
	if err := p.parts.ExecuteTemplate(&b, "progress", pr); err != nil {
		return err
	}
	page.Counters = template.HTML(b.String()) // rendered by html/template: escaped
	page.CanDelete = pr.Status == vocab.CampaignCancelled && pr.Sent+pr.Failed+pr.Bounced == 0
	err = e.App.DB().NewQuery(`SELECT last_error AS text, count(*) AS count FROM {{deliveries}}
		WHERE campaign = {:id} AND last_error != '' GROUP BY last_error ORDER BY count DESC LIMIT 5`).
		Bind(dbx.Params{"id": r.Id}).All(&page.Replies)
	if err != nil {
		return err
	}
	if r.GetBool("tracking") {
		res, err := tracking.ResultsOf(e.App, r)
		if err != nil {
			return err
		}
		page.Engagement = &res
	}
	return p.Console.Render(e, "campaigns/show", page)
}

// progressStream serves the campaign's progress as server-sent events: a
// "progress" event with the counters' fragment whenever they change, read
// every ProgressEvery, and a "status" event once the status differs from
// the one the page was shown in (?status=), when the page fetches itself
// again (htmx) for the results or the resume button.
func (p *Pages) progressStream(e *core.RequestEvent) error {
	id := e.Request.PathValue("id")
	if _, err := readProgress(e.App, id); err != nil {
		return p.notFound(e)
	}
	h := e.Response.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	e.Response.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(e.Response)
	ctx := e.Request.Context()
	tick := time.NewTicker(p.ProgressEvery)
	defer tick.Stop()
	last, began := "", e.Request.URL.Query().Get("status")
	for {
		pr, err := readProgress(e.App, id)
		if err != nil {
			return nil
		}
		if began != "" && pr.Status != began {
			// The page shows other things in another status (results,
			// resume): tell it to fetch itself again.
			_ = writeEvent(e.Response, "status", pr.Status)
			_ = rc.Flush()
			return nil
		}
		var b strings.Builder
		if err := p.parts.ExecuteTemplate(&b, "progress", pr); err != nil {
			return err
		}
		if frag := b.String(); frag != last {
			last = frag
			if err := writeEvent(e.Response, "progress", frag); err != nil {
				return nil
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// writeEvent writes one server-sent event, a data line for each line.
func writeEvent(w http.ResponseWriter, name, data string) error {
	var b strings.Builder
	b.WriteString("event: " + name + "\n")
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	_, err := w.Write([]byte(b.String()))
	return err
}

// recipientsPage is the per-recipient list, searched by address or status.
type recipientsPage struct {
	ID, Name, Query, Status string
	Statuses                []string
	Rows                    []recipientRow
	Page, Prev, Next        int
	CanExport               bool
}

type recipientRow struct {
	Email    string         `db:"email"`
	Status   string         `db:"status"`
	Attempts int            `db:"attempts"`
	Error    string         `db:"last_error"`
	SentAt   types.DateTime `db:"sent_at"`
}

// recipientsSize is how many recipients a page lists.
const recipientsSize = 50

func recipientsWhere(id, q, status string) dbx.Expression {
	where := dbx.And(dbx.HashExp{"campaign": id})
	if q != "" {
		where = dbx.And(where, dbx.Like("email", strings.ToLower(q)))
	}
	if status != "" {
		where = dbx.And(where, dbx.HashExp{"status": status})
	}
	return where
}

// recipients lists who got the campaign, who failed and why. Comms see it
// (they may read supporters); exporting it is admins' (see recipientsCSV).
func (p *Pages) recipients(e *core.RequestEvent) error {
	r, err := p.campaign(e)
	if err != nil {
		return p.notFound(e)
	}
	q := e.Request.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	rp := recipientsPage{ID: r.Id, Name: r.GetString("name"), Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status"),
		Statuses: vocab.DeliveryStatuses, Page: page, CanExport: console.Staff(e).Admin()}
	err = e.App.DB().Select("email", "status", "attempts", "last_error", "sent_at").From(vocab.Deliveries).
		Where(recipientsWhere(r.Id, rp.Query, rp.Status)).OrderBy("id").
		Limit(recipientsSize + 1).Offset(int64((page - 1) * recipientsSize)).All(&rp.Rows)
	if err != nil {
		return err
	}
	if len(rp.Rows) > recipientsSize {
		rp.Rows, rp.Next = rp.Rows[:recipientsSize], page+1
	}
	if page > 1 {
		rp.Prev = page - 1
	}
	return p.Console.Render(e, "campaigns/recipients", rp)
}

// recipientsCSV exports the per-recipient list (admins only: a file of
// addresses leaves the console's control once downloaded). Audited.
func (p *Pages) recipientsCSV(e *core.RequestEvent) error {
	r, err := p.campaign(e)
	if err != nil {
		return p.notFound(e)
	}
	q := e.Request.URL.Query()
	where := recipientsWhere(r.Id, strings.TrimSpace(q.Get("q")), q.Get("status"))
	if err := console.AuditRequest(e.App, e, "campaign.export", "campaigns/"+r.Id, "recipients CSV"); err != nil {
		return err
	}
	h := e.Response.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="campaign-%s-recipients.csv"`, r.Id))
	h.Set("Cache-Control", "no-store")
	w, err := csvio.NewWriter(e.Response, "email", "status", "attempts", "sent_at", "last_error")
	if err != nil {
		return err
	}
	rows, err := e.App.DB().Select("email", "status", "attempts", "last_error", "sent_at").From(vocab.Deliveries).
		Where(where).OrderBy("id").Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var row recipientRow
		if err := rows.ScanStruct(&row); err != nil {
			return err
		}
		sent := ""
		if !row.SentAt.IsZero() {
			sent = row.SentAt.Time().UTC().Format(time.RFC3339)
		}
		if err := w.Write(row.Email, row.Status, strconv.Itoa(row.Attempts), sent, row.Error); err != nil {
			return err
		}
	}
	return w.Flush()
}
