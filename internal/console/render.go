package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/tz"
	"supportercrm/internal/views"
)

// pageSet holds each console page parsed with the layout, by name: the path
// under staff/ without ".html" ("home", "campaigns/list").
type pageSet map[string]*template.Template

// loadPages parses staff/layout.html with each other staff/*.html and
// staff/*/*.html. Names come from base (the embedded tree), contents from
// fsys (which may override them), as for the public pages.
func loadPages(fsys, base fs.FS) (pageSet, error) {
	set := pageSet{}
	for _, pattern := range []string{"staff/*.html", "staff/*/*.html"} {
		files, err := fs.Glob(base, pattern)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			name := strings.TrimSuffix(strings.TrimPrefix(f, "staff/"), ".html")
			if name == "layout" {
				continue
			}
			t := template.New(path.Base(f)).Funcs(funcs).Option("missingkey=error")
			for _, file := range []string{"staff/layout.html", f} {
				src, err := fs.ReadFile(fsys, file)
				if err != nil {
					return nil, fmt.Errorf("failed to read template %s: %w", file, err)
				}
				if _, err := t.New(file).Parse(string(src)); err != nil {
					return nil, fmt.Errorf("failed to parse template %s: %w", file, err)
				}
			}
			set[name] = t
		}
	}
	return set, nil
}

// funcs are the helpers every console template may use.
var funcs = template.FuncMap{
	// london formats a time in London for people: "Mon 2 Mar 2026, 09:30".
	"london": London,
	// field gathers what the "field" partial needs for one input. kind is
	// an input type, or "new-password" or "code".
	"field": newField,
	"count": thousands,
}

// London formats t in London time for staff; a zero time is "—".
func London(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(tz.London).Format("Mon 2 Jan 2006, 15:04")
}

type fieldView struct{ Name, Label, Type, Value, Error, Autocomplete, InputMode string }

func newField(f *Form, name, label, kind string) fieldView {
	v := fieldView{Name: name, Label: label, Type: kind, Value: f.Get(name), Error: f.Error(name)}
	switch kind {
	case "email":
		v.Autocomplete = "username"
	case "address": // someone else's address
		v.Type, v.Autocomplete = "email", "off"
	case "password":
		v.Value, v.Autocomplete = "", "current-password" // never echoed
	case "new-password":
		v.Type, v.Value, v.Autocomplete = "password", "", "new-password"
	case "code":
		v.Type, v.Value, v.Autocomplete, v.InputMode = "text", "", "one-time-code", "numeric"
	}
	return v
}

// layoutData is what staff/layout.html renders around a page.
type layoutData struct {
	Staff   *core.Record
	Admin   bool
	CSRF    string
	Flash   string
	Nav     []NavItem
	Current string
	Charity string
	Data    any
}

type errorPage struct{ Heading, Message string }

// Render answers 200 with the named page (its path under templates/staff/
// without ".html") in the layout. In the template, .Data is data; .Staff,
// .Admin, .CSRF and .Flash are the layout's.
func (c *Console) Render(e *core.RequestEvent, name string, data any) error {
	return c.RenderStatus(e, http.StatusOK, name, data)
}

// RenderStatus is Render with another status, e.g. 400 for a form with
// errors.
func (c *Console) RenderStatus(e *core.RequestEvent, status int, name string, data any) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("console: no page template %q", name)
	}
	s := Staff(e)
	d := layoutData{Data: data, CSRF: c.csrfToken(e), Flash: takeFlash(e), Current: e.Request.URL.Path}
	if id, err := c.cfg.Identity(); err == nil {
		d.Charity = id.Name
	}
	if s != nil {
		d.Staff, d.Admin = s.Record, s.Admin()
		for _, n := range c.nav {
			if n.Role == Comms || d.Admin {
				d.Nav = append(d.Nav, n)
			}
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	views.SetPageHeaders(e.Response, views.ConsoleCSP, "no-store")
	e.Response.WriteHeader(status)
	_, err := e.Response.Write(buf.Bytes())
	return err
}

// Redirect answers a form post with 303 to path (under /staff), after an
// optional flash message that the next page shows once.
func Redirect(e *core.RequestEvent, path, flash string) error {
	if flash != "" {
		setFlash(e, flash)
	}
	return e.Redirect(http.StatusSeeOther, Prefix+path)
}

// thousands writes n with commas: 100000 → "100,000".
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
