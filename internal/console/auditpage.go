package console

import (
	"strconv"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// The audit page (admins): the trail, newest first, 50 rows a page,
// optionally only one kind of action.

const auditPageSize = 50

type auditRow struct {
	When, Who, Action, Target, Detail, IP string
}

type auditPage struct {
	Rows          []auditRow
	Action        string
	Actions       []string
	Page          int
	Prev, Next    int
	HasPrev, More bool
}

func (c *Console) auditRoutes() {
	c.Nav("Audit trail", "/audit", Admin)
	c.GET("/audit", Admin, c.auditList)
}

func (c *Console) auditList(e *core.RequestEvent) error {
	q := e.Request.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	action := q.Get("action")
	filter, params := "", dbx.Params{}
	if action != "" {
		filter, params = "action = {:action}", dbx.Params{"action": action}
	}
	recs, err := e.App.FindRecordsByFilter(vocab.Audit, filter, "-created,-id", auditPageSize+1, (page-1)*auditPageSize, params)
	if err != nil {
		return err
	}
	p := auditPage{Action: action, Page: page, Prev: page - 1, Next: page + 1, HasPrev: page > 1, More: len(recs) > auditPageSize}
	if p.More {
		recs = recs[:auditPageSize]
	}
	for _, r := range recs {
		p.Rows = append(p.Rows, auditRow{When: London(r.GetDateTime("created").Time()), Who: r.GetString("staff_email"),
			Action: r.GetString("action"), Target: r.GetString("target"), Detail: r.GetString("detail"), IP: r.GetString("ip")})
	}
	var actions []struct {
		Action string `db:"action"`
	}
	if err := e.App.DB().NewQuery("SELECT DISTINCT action FROM " + vocab.Audit + " ORDER BY action").All(&actions); err != nil {
		return err
	}
	for _, a := range actions {
		p.Actions = append(p.Actions, a.Action)
	}
	return c.Render(e, "audit", p)
}
