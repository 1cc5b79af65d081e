package archive

import (
	"encoding/xml"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// The feed is Atom (RFC 4287), written with encoding/xml: a handful of
// elements, with the ids kept stable (an entry's is its page's address).

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomPerson  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID        string    `xml:"id"`
	Title     string    `xml:"title"`
	Updated   string    `xml:"updated"`
	Published string    `xml:"published"`
	Link      atomLink  `xml:"link"`
	Summary   *atomText `xml:"summary,omitempty"`
	Content   atomText  `xml:"content"`
}

// Feed serves GET /archive/feed.xml.
func (a *Archive) Feed(e *core.RequestEvent) error {
	entries, err := a.public("", true)
	if err != nil {
		return err
	}
	id, err := a.Identity()
	if err != nil {
		return err
	}
	home := id.AppURL + "/archive"
	f := atomFeed{
		ID: home, Title: id.Name + ": newsletter archive", Author: atomPerson{Name: id.Name, URI: id.Website},
		Links: []atomLink{{Rel: "self", Type: "application/atom+xml", Href: home + "/feed.xml"}, {Rel: "alternate", Type: "text/html", Href: home}},
		// An empty feed was last changed no later than now.
		Updated: time.Now().UTC().Format(time.RFC3339),
	}
	for i, en := range entries {
		at := en.Sent.UTC().Format(time.RFC3339)
		if i == 0 {
			f.Updated = at
		}
		ae := atomEntry{ID: home + "/" + en.Slug, Title: en.Subject, Updated: at, Published: at,
			Link:    atomLink{Rel: "alternate", Type: "text/html", Href: home + "/" + en.Slug},
			Content: atomText{Type: "html", Body: string(en.Body)}}
		if en.Preheader != "" {
			ae.Summary = &atomText{Type: "text", Body: en.Preheader}
		}
		f.Entries = append(f.Entries, ae)
	}
	out, err := xml.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	h := e.Response.Header()
	h.Set("Content-Type", "application/atom+xml; charset=utf-8")
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	return e.Blob(http.StatusOK, "application/atom+xml; charset=utf-8", append([]byte(xml.Header), out...))
}
