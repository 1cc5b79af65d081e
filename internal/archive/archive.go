// Package archive is the public archive of newsletters: sent campaigns that
// staff mark public, listed at /archive (newest first), each at
// /archive/{slug}, and all of them in an Atom feed at /archive/feed.xml.
//
// These pages are reached by anyone, from links that travel anywhere, so a
// campaign is rendered as to nobody: the reader is "friend", every other
// personal field is empty, and the links that would manage a subscription
// go nowhere (no token of any kind is signed for them). Campaigns are
// private by default, and only a sent one can be made public.
package archive

import (
	"fmt"
	htmltpl "html/template"
	"net/http"
	"regexp"
	"strings"
	"testing/fstest"
	"time"
	"unicode"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/charity"
	"supportercrm/internal/tz"
	"supportercrm/internal/views"
	"supportercrm/internal/vocab"
)

// Archive serves the archive pages and keeps the public flag honest.
type Archive struct {
	App      core.App
	Views    *views.Set
	Identity func() (charity.Identity, error)
	// Funcs are the campaigns' template functions (the engine's).
	Funcs func() map[string]any
}

// layouts holds the one layout archive copies are compiled with: the
// campaign's content alone, which the page template puts in the site's
// layout (the email layout's footer holds the subscription links).
var layouts = fstest.MapFS{"campaigns/archive.html": {Data: []byte("{{.Content}}")}}

// templateAction is a template field in a subject, left out of slugs.
var templateAction = regexp.MustCompile(`(?s)\{\{.*?\}\}`)

// nobody is the reader of an archive copy. Links that would manage a
// subscription point at nothing; the view-in-browser link is the page.
func nobody(self string) campaigns.Recipient {
	return campaigns.Recipient{UnsubscribeURL: "#", PreferencesURL: "#", WebURL: self}
}

// BindHooks refuses the public flag on a campaign that has not been sent,
// whoever saves it, and gives a public campaign a slug.
func (a *Archive) BindHooks() {
	a.App.OnRecordValidate(vocab.Campaigns).BindFunc(func(e *core.RecordEvent) error {
		r := e.Record
		if !r.GetBool("public") {
			return e.Next()
		}
		if r.GetString("status") != vocab.CampaignSent {
			return validation.Errors{"public": validation.NewError("validation_not_sent", "Only a campaign that has been sent can be public.")}
		}
		if r.GetString("slug") == "" {
			slug, err := freeSlug(e.App, r)
			if err != nil {
				return err
			}
			r.Set("slug", slug)
		}
		return e.Next()
	})
}

// freeSlug makes a slug from the month it was sent and the subject's words
// (template fields left out), unused by any other campaign.
func freeSlug(app core.App, r *core.Record) (string, error) {
	subject := templateAction.ReplaceAllString(r.GetString("subject"), " ")
	var words []string
	for _, w := range strings.FieldsFunc(strings.ToLower(subject), func(c rune) bool { return !(c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c))) }) {
		words = append(words, w)
	}
	base := r.GetDateTime("finished_at").Time().Format("2006-01")
	if len(words) > 0 {
		base += "-" + strings.Join(words, "-")
	}
	base = strings.TrimRight(base[:min(len(base), 70)], "-")
	for n := 1; n < 100; n++ {
		slug := base
		if n > 1 {
			slug = fmt.Sprintf("%s-%d", base, n)
		}
		taken, err := app.CountRecords(vocab.Campaigns, dbx.HashExp{"slug": slug}, dbx.Not(dbx.HashExp{"id": r.Id}))
		if err != nil {
			return "", err
		}
		if taken == 0 {
			return slug, nil
		}
	}
	return r.Id, nil
}

// entry is one newsletter as the archive shows it.
type entry struct {
	Slug, Subject, Preheader string
	Sent                     time.Time
	Body                     htmltpl.HTML
}

func (e entry) ISO() string  { return e.Sent.UTC().Format(time.RFC3339) }
func (e entry) Date() string { return e.Sent.In(tz.London).Format("2 January 2006") }

// listLimit is the most newsletters the list and the feed carry.
const listLimit = 200

// public reads the public sent campaigns, newest first (one, when slug is
// given), rendered as to nobody.
func (a *Archive) public(slug string, withBody bool) ([]entry, error) {
	filter := "public = true && status = {:sent}"
	if slug != "" {
		filter += " && slug = {:slug}"
	}
	recs, err := a.App.FindRecordsByFilter(vocab.Campaigns, filter, "-finished_at", listLimit, 0,
		dbx.Params{"sent": vocab.CampaignSent, "slug": slug})
	if err != nil {
		return nil, err
	}
	id, err := a.Identity()
	if err != nil {
		return nil, err
	}
	var funcs map[string]any
	if a.Funcs != nil {
		funcs = a.Funcs()
	}
	out := make([]entry, 0, len(recs))
	for _, r := range recs {
		c := campaigns.ContentOf(r)
		c.Layout = "archive"
		if !withBody { // the subject alone
			c.Body, c.Format = "", vocab.FormatHTML
		}
		compiled, err := campaigns.Compile(c, layouts, id, funcs)
		if err != nil {
			a.App.Logger().Error("archive: a public campaign no longer renders", "campaign", r.Id, "error", err.Error())
			continue
		}
		m, err := compiled.Render(nobody(id.AppURL + "/archive/" + r.GetString("slug")))
		if err != nil {
			a.App.Logger().Error("archive: a public campaign no longer renders", "campaign", r.Id, "error", err.Error())
			continue
		}
		out = append(out, entry{Slug: r.GetString("slug"), Subject: m.Subject, Preheader: r.GetString("preheader"),
			Sent: r.GetDateTime("finished_at").Time(), Body: htmltpl.HTML(m.HTML)}) // compiled from sanitised HTML; the values escaped
	}
	return out, nil
}

// page is what the archive templates see.
type page struct {
	Charity charity.Identity
	Title   string
	Entries []entry
	Entry   entry
	Body    htmltpl.HTML
	// For the message page (not found).
	Heading, Message string
	Link             *struct{ URL, Label string }
}

// cache lets browsers and proxies keep a page a minute: nothing on it is
// anyone's, and a campaign made private again is gone within that.
const cache = "public, max-age=60"

func (a *Archive) respond(e *core.RequestEvent, status int, name string, p page) error {
	id, err := a.Identity()
	if err != nil {
		return err
	}
	p.Charity = id
	c := cache
	if status != http.StatusOK {
		c = "no-store"
	}
	return a.Views.Respond(e.Response, status, c, name, p)
}

// List serves GET /archive.
func (a *Archive) List(e *core.RequestEvent) error {
	entries, err := a.public("", false)
	if err != nil {
		return err
	}
	return a.respond(e, http.StatusOK, "archive", page{Title: "Newsletter archive", Entries: entries})
}

// Entry serves GET /archive/{slug}; a private or unknown one is not found.
func (a *Archive) Entry(e *core.RequestEvent) error {
	slug := e.Request.PathValue("slug")
	var entries []entry
	var err error
	if slug != "" {
		if entries, err = a.public(slug, true); err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		return a.respond(e, http.StatusNotFound, "message", page{Title: "Not found", Heading: "We can't find that newsletter",
			Message: "It may have been taken out of the archive.", Link: &struct{ URL, Label string }{"/archive", "See all newsletters"}})
	}
	return a.respond(e, http.StatusOK, "archive_entry", page{Title: entries[0].Subject, Entry: entries[0], Body: entries[0].Body})
}
