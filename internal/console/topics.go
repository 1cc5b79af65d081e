package console

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// The topics page (admins): the lists supporters choose on the signup and
// preferences pages. Topics are never deleted here (supporters and
// campaigns refer to them); untick "public" to stop offering one.

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

type topicRow struct {
	ID, Name, Slug, Description string
	Public                      bool
	Order                       int
}

type topicsPage struct {
	Rows []topicRow
	Form *Form
	Edit string // the id of the topic being edited, "" for a new one
}

func (c *Console) topicRoutes() {
	c.Nav("Topics", "/topics", Admin)
	c.GET("/topics", Admin, c.topicList)
	c.POST("/topics", Admin, c.saveTopic)
	c.GET("/topics/{id}", Admin, c.topicEdit)
	c.POST("/topics/{id}", Admin, c.saveTopic)
}

func (c *Console) topicList(e *core.RequestEvent) error {
	return c.renderTopics(e, http.StatusOK, NewForm(nil), "")
}

func (c *Console) renderTopics(e *core.RequestEvent, status int, f *Form, edit string) error {
	recs, err := e.App.FindRecordsByFilter(vocab.Topics, "", "sort_order,name", 0, 0)
	if err != nil {
		return err
	}
	page := topicsPage{Form: f, Edit: edit}
	for _, r := range recs {
		page.Rows = append(page.Rows, topicRow{ID: r.Id, Name: r.GetString("name"), Slug: r.GetString("slug"),
			Description: r.GetString("description"), Public: r.GetBool("public"), Order: r.GetInt("sort_order")})
	}
	return c.RenderStatus(e, status, "topics", page)
}

func (c *Console) topicEdit(e *core.RequestEvent) error {
	rec, err := e.App.FindRecordById(vocab.Topics, e.Request.PathValue("id"))
	if err != nil {
		return c.notFound(e)
	}
	f := NewForm(nil)
	f.Values.Set("name", rec.GetString("name"))
	f.Values.Set("slug", rec.GetString("slug"))
	f.Values.Set("description", rec.GetString("description"))
	f.Values.Set("sort_order", strconv.Itoa(rec.GetInt("sort_order")))
	if rec.GetBool("public") {
		f.Values.Set("public", "on")
	}
	return c.renderTopics(e, http.StatusOK, f, rec.Id)
}

// saveTopic creates a topic (POST /topics) or saves one (POST /topics/{id}).
func (c *Console) saveTopic(e *core.RequestEvent) error {
	f := NewForm(e)
	id := e.Request.PathValue("id")
	var rec *core.Record
	if id != "" {
		var err error
		if rec, err = e.App.FindRecordById(vocab.Topics, id); err != nil {
			return c.notFound(e)
		}
	} else {
		coll, err := e.App.FindCachedCollectionByNameOrId(vocab.Topics)
		if err != nil {
			return err
		}
		rec = core.NewRecord(coll)
	}
	f.Require("name", "a name", "slug", "a slug")
	if s := f.Get("slug"); s != "" && (!slugPattern.MatchString(s) || len(s) > 40) {
		f.Fail("slug", "Use up to 40 lowercase letters, digits and dashes, like monthly-news.")
	}
	if s := f.Get("slug"); s != "" {
		if other, err := e.App.FindFirstRecordByData(vocab.Topics, "slug", s); err == nil && other.Id != rec.Id {
			f.Fail("slug", "Another topic already has this slug.")
		}
	}
	order := 0
	if s := f.Get("sort_order"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1000 {
			f.Fail("sort_order", "Enter a whole number from 0 to 1000.")
		}
		order = n
	}
	if len([]rune(f.Get("name"))) > 80 {
		f.Fail("name", "Keep the name to 80 characters.")
	}
	if len([]rune(f.Get("description"))) > 300 {
		f.Fail("description", "Keep the description to 300 characters.")
	}
	if !f.OK() {
		return c.renderTopics(e, http.StatusBadRequest, f, id)
	}
	rec.Set("name", f.Get("name"))
	rec.Set("slug", f.Get("slug"))
	rec.Set("description", f.Get("description"))
	rec.Set("public", f.Get("public") == "on")
	rec.Set("sort_order", order)
	action := "topic.update"
	if rec.IsNew() {
		action = "topic.create"
	}
	err := e.App.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(rec); err != nil {
			return err
		}
		return AuditRequest(tx, e, action, "topics/"+rec.Id, rec.GetString("slug"))
	})
	if f.FailFrom(err) {
		return c.renderTopics(e, http.StatusBadRequest, f, id)
	}
	if err != nil {
		return err
	}
	return Redirect(e, "/topics", "Saved the topic "+rec.GetString("name")+".")
}
