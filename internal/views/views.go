// Package views parses the page and email templates once at start, from the
// embedded tree with an optional override directory on top, so a broken
// template stops start-up instead of a signup.
package views

import (
	"bytes"
	"errors"
	"fmt"
	htmltpl "html/template"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
	texttpl "text/template"
)

// Email is a rendered message: subject, HTML part and plain-text part.
type Email struct {
	Subject string
	HTML    string
	Text    string
}

// Set holds the parsed templates.
type Set struct {
	pages    map[string]*htmltpl.Template
	mailHTML map[string]*htmltpl.Template
	mailText map[string]*texttpl.Template
	static   fs.FS
}

// Overlay returns a file system that serves files from dir when present there
// and from base otherwise. An empty dir means base alone.
func Overlay(dir string, base fs.FS) fs.FS {
	if dir == "" {
		return base
	}
	return overlay{top: os.DirFS(dir), base: base}
}

type overlay struct{ top, base fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	f, err := o.top.Open(name)
	if err == nil {
		if st, serr := f.Stat(); serr == nil && !st.IsDir() {
			return f, nil
		}
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return o.base.Open(name)
}

// Load parses every page (pages/*.html around pages/layout.html, with the
// shared parts of pages/partials.html) and every
// email (emails/NAME.html around emails/layout.html, emails/NAME.txt with
// emails/text_footer.txt). The names come from base, the embedded tree; the
// contents come from fsys, which may override them.
func Load(fsys, base fs.FS) (*Set, error) {
	s := &Set{
		pages:    map[string]*htmltpl.Template{},
		mailHTML: map[string]*htmltpl.Template{},
		mailText: map[string]*texttpl.Template{},
	}
	pages, err := fs.Glob(base, "pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := parseHTML(fsys, "pages/layout.html", "pages/partials.html", p)
		if err != nil {
			return nil, err
		}
		s.pages[name] = t
	}
	mails, err := fs.Glob(base, "emails/*.txt")
	if err != nil {
		return nil, err
	}
	for _, p := range mails {
		name := strings.TrimSuffix(path.Base(p), ".txt")
		if name == "text_footer" {
			continue
		}
		tt, err := parseText(fsys, p, "emails/text_footer.txt")
		if err != nil {
			return nil, err
		}
		s.mailText[name] = tt
		ht, err := parseHTML(fsys, "emails/layout.html", "emails/"+name+".html")
		if err != nil {
			return nil, err
		}
		s.mailHTML[name] = ht
	}
	s.static, err = fs.Sub(fsys, "static")
	if err != nil {
		return nil, err
	}
	return s, nil
}

func parseHTML(fsys fs.FS, files ...string) (*htmltpl.Template, error) {
	t := htmltpl.New(path.Base(files[len(files)-1])).Option("missingkey=error")
	for _, f := range files {
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("failed to read template %s: %w", f, err)
		}
		if _, err := t.New(f).Parse(string(src)); err != nil {
			return nil, fmt.Errorf("failed to parse template %s: %w", f, err)
		}
	}
	return t, nil
}

func parseText(fsys fs.FS, files ...string) (*texttpl.Template, error) {
	t := texttpl.New("mail").Option("missingkey=error")
	if _, err := t.Parse(`{{template "body" .}}{{template "footer" .}}`); err != nil {
		return nil, err
	}
	for _, f := range files {
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("failed to read template %s: %w", f, err)
		}
		if _, err := t.New(f).Parse(string(src)); err != nil {
			return nil, fmt.Errorf("failed to parse template %s: %w", f, err)
		}
	}
	return t, nil
}

// Page renders the named page (e.g. "signup") into w.
func (s *Set) Page(w io.Writer, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	return t.ExecuteTemplate(w, "layout", data)
}

// Someone at risk may read these pages on a watched device, and their
// links carry tokens: nothing is loaded from another site (which would
// learn who reads them), scripts and styles come only from this origin as
// files (no inline script or style), no referrer is sent, and no one frames
// them. PageCSP is the public pages' policy; ConsoleCSP, the staff
// console's, also lets its scripts fetch from this origin (htmx and
// server-sent events).
const (
	PageCSP    = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	ConsoleCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// SetPageHeaders sets the security headers every HTML page is sent with:
// csp, no referrer, no sniffing; cache is the Cache-Control value
// ("no-store" for pages with tokens or personal data).
func SetPageHeaders(w http.ResponseWriter, csp, cache string) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", cache)
}

// Respond renders the named page and writes it with the security headers.
// cache is the Cache-Control value ("no-store" for pages with tokens).
func (s *Set) Respond(w http.ResponseWriter, status int, cache, name string, data any) error {
	return s.respond(w, status, cache, name, data, "")
}

// RespondFormsTo is Respond for a page whose form is answered with a
// redirect to another site (the giving forms, to Stripe Checkout): browsers
// check form-action at every redirect, so the policy also allows those
// origins there, and nowhere else.
func (s *Set) RespondFormsTo(w http.ResponseWriter, status int, cache, name string, data any, origins ...string) error {
	return s.respond(w, status, cache, name, data, strings.Replace(PageCSP,
		"form-action 'self'", "form-action 'self' "+strings.Join(origins, " "), 1))
}

func (s *Set) respond(w http.ResponseWriter, status int, cache, name string, data any, csp string) error {
	var buf bytes.Buffer
	if err := s.Page(&buf, name, data); err != nil {
		return err
	}
	if csp == "" {
		csp = PageCSP
	}
	SetPageHeaders(w, csp, cache)
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// Email renders the named email (e.g. "confirm").
func (s *Set) Email(name string, data any) (Email, error) {
	tt, ok := s.mailText[name]
	if !ok {
		return Email{}, fmt.Errorf("no email template %q", name)
	}
	var subject, text, html bytes.Buffer
	if err := tt.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Email{}, fmt.Errorf("failed to render %s subject: %w", name, err)
	}
	if err := tt.Execute(&text, data); err != nil {
		return Email{}, fmt.Errorf("failed to render %s text: %w", name, err)
	}
	if err := s.mailHTML[name].ExecuteTemplate(&html, "layout", data); err != nil {
		return Email{}, fmt.Errorf("failed to render %s html: %w", name, err)
	}
	return Email{Subject: strings.TrimSpace(subject.String()), HTML: html.String(), Text: strings.TrimSpace(text.String()) + "\n"}, nil
}

// Static is the static/ subtree (stylesheet, default logo).
func (s *Set) Static() fs.FS { return s.static }
