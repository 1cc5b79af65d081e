package campaignui

import (
	"strconv"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/console"
	"supportercrm/internal/vocab"
)

// PageSize is how many campaigns the list shows a page.
const PageSize = 25

// listRow is one campaign in the list.
type listRow struct {
	ID, Name, Status, Words string
	Total, Done, Percent    int
	When                    time.Time
}

type listPage struct {
	Rows        []listRow
	Archived    bool
	Page, Pages int
	Prev, Next  int
	Count       int
}

func (p *Pages) campaignRoutes() {
	c := p.Console
	c.Nav("Campaigns", "/campaigns", console.Comms)
	c.GET("/campaigns", console.Comms, p.list)
	c.GET("/campaigns/new", console.Comms, p.newCampaign)
	c.POST("/campaigns/new", console.Comms, p.create)
	c.POST("/campaigns/preview", console.Comms, p.previewPart)
	c.GET("/campaigns/preview/frame/{key}", console.Comms, p.previewFrame)
	c.GET("/campaigns/assets/campaigns.css", console.Comms, serveCSS)
	c.POST("/campaigns/count", console.Comms, p.countPart)
	c.GET("/campaigns/snippet", console.Comms, p.snippetPart)
	c.GET("/campaigns/{id}", console.Comms, p.show)
	c.POST("/campaigns/{id}", console.Comms, p.update)
	c.POST("/campaigns/{id}/test", console.Comms, p.testSend)
	c.POST("/campaigns/{id}/schedule", console.Comms, p.schedule)
	c.POST("/campaigns/{id}/unschedule", console.Comms, p.unschedule)
	c.GET("/campaigns/{id}/send", console.Comms, p.confirmSend)
	c.POST("/campaigns/{id}/send", console.Comms, p.sendNow)
	c.POST("/campaigns/{id}/pause", console.Comms, p.move(vocab.CampaignSending, vocab.CampaignPaused, "campaign.pause", "Paused. Messages already handed to the relay still arrive."))
	c.POST("/campaigns/{id}/resume", console.Comms, p.move(vocab.CampaignPaused, vocab.CampaignSending, "campaign.resume", "Sending again."))
	c.POST("/campaigns/{id}/cancel", console.Comms, p.cancel)
	c.POST("/campaigns/{id}/archive", console.Comms, p.archive(true))
	c.POST("/campaigns/{id}/unarchive", console.Comms, p.archive(false))
	c.POST("/campaigns/{id}/delete", console.Comms, p.deleteCampaign)
	c.GET("/campaigns/{id}/progress", console.Comms, p.progressStream)
	c.GET("/campaigns/{id}/recipients", console.Comms, p.recipients)
	c.GET("/campaigns/{id}/recipients.csv", console.Admin, p.recipientsCSV)
}

// list serves the campaign list, newest first, a page at a time (by the
// archived+created index), with each campaign's status and progress.
func (p *Pages) list(e *core.RequestEvent) error {
	q := e.Request.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	archived := q.Get("archived") == "1"
	var rows []struct {
		ID       string         `db:"id"`
		Name     string         `db:"name"`
		Status   string         `db:"status"`
		Total    int            `db:"total"`
		Sent     int            `db:"sent"`
		Failed   int            `db:"failed"`
		Bounced  int            `db:"bounced"`
		Skipped  int            `db:"skipped"`
		SendAt   types.DateTime `db:"send_at"`
		Finished types.DateTime `db:"finished_at"`
		Created  types.DateTime `db:"created"`
	}
	err := e.App.DB().Select("id", "name", "status", "total", "sent", "failed", "bounced", "skipped", "send_at", "finished_at", "created").
		From(vocab.Campaigns).Where(dbx.HashExp{"archived": archived}).
		OrderBy("created DESC", "id DESC").Limit(PageSize).Offset(int64((page - 1) * PageSize)).All(&rows)
	if err != nil {
		return err
	}
	var n int
	if err := e.App.DB().Select("count(*)").From(vocab.Campaigns).Where(dbx.HashExp{"archived": archived}).Row(&n); err != nil {
		return err
	}
	lp := listPage{Archived: archived, Page: page, Pages: max(1, (n+PageSize-1)/PageSize), Count: n}
	if page > 1 {
		lp.Prev = page - 1
	}
	if page < lp.Pages {
		lp.Next = page + 1
	}
	for _, r := range rows {
		row := listRow{ID: r.ID, Name: r.Name, Status: r.Status, Total: r.Total, Done: r.Sent + r.Failed + r.Bounced + r.Skipped}
		row.Percent = percent(row.Done, row.Total)
		row.Words, row.When = statusWords(r.Status), r.Created.Time()
		switch {
		case !r.Finished.IsZero():
			row.When = r.Finished.Time()
		case !r.SendAt.IsZero():
			row.When = r.SendAt.Time()
		}
		lp.Rows = append(lp.Rows, row)
	}
	return p.Console.Render(e, "campaigns/list", lp)
}

func percent(done, total int) int {
	if total <= 0 {
		return 0
	}
	return min(100, done*100/total)
}

// statusWords says a campaign's status to staff.
func statusWords(s string) string {
	switch s {
	case vocab.CampaignDraft:
		return "Draft"
	case vocab.CampaignScheduled:
		return "Scheduled"
	case vocab.CampaignPreparing:
		return "Preparing the audience"
	case vocab.CampaignSending:
		return "Sending"
	case vocab.CampaignPaused:
		return "Paused"
	case vocab.CampaignSent:
		return "Sent"
	case vocab.CampaignCancelled:
		return "Cancelled"
	case vocab.CampaignFailed:
		return "Failed"
	}
	return s
}
