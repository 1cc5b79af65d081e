// Package campaigns is the campaign engine: it renders a campaign once and
// each recipient's copy from it, snapshots the audience, and sends through a
// pool of SMTP connections with rate limiting, retries, and results written
// back in batches so that a crash or restart resumes without losing anyone.
package campaigns

import (
	"bytes"
	"fmt"
	htmltpl "html/template"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"sync"
	texttpl "text/template"
	"text/template/parse"
	"unsafe"

	"github.com/inbucket/html2text"
	"github.com/microcosm-cc/bluemonday"
	"github.com/vanng822/go-premailer/premailer"
	"github.com/yuin/goldmark"
	gmhtml "github.com/yuin/goldmark/renderer/html"

	"supportercrm/internal/charity"
	"supportercrm/internal/vocab"
)

// Content is what staff wrote.
type Content struct {
	Subject   string
	Preheader string
	Body      string
	Format    string // vocab.FormatMarkdown or vocab.FormatHTML
	Layout    string // a file in templates/campaigns/, without .html
}

// Recipient is the per-supporter data a campaign may use. Everything here is
// escaped for its context when rendered.
type Recipient struct {
	FirstName      string
	LastName       string
	Email          string
	UnsubscribeURL string
	PreferencesURL string
	WebURL         string
}

// Message is one recipient's rendered copy.
type Message struct {
	Subject string
	HTML    string
	Text    string
}

// Compiled is a campaign parsed, sanitised, laid out and CSS-inlined once;
// Render only executes its templates.
type Compiled struct {
	subject *texttpl.Template
	html    *htmltpl.Template
	text    *texttpl.Template
}

var (
	actionRe = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	tokenRe  = regexp.MustCompile(`(?i)tplx(\d{4})x`)
	md       = goldmark.New(goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
)

// sanitizer keeps what newsletters use (tables, images, inline styles,
// links, including the relative placeholders of template fields) and drops
// scripts, event handlers, forms and frames.
var sanitizer = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowAttrs("style", "class", "align", "valign", "width", "height", "bgcolor", "border", "cellpadding", "cellspacing", "role").Globally()
	p.AllowUnsafe(true) // keeps the style attributes as written by staff
	p.AllowRelativeURLs(true)
	p.RequireNoFollowOnLinks(false)
	p.AllowElements("center", "font")
	return p
}()

// actions swaps template actions for plain tokens so that Markdown,
// sanitising, CSS inlining and HTML-to-text conversion leave them alone.
type actions struct{ list []string }

func (a *actions) protect(s string) string {
	return actionRe.ReplaceAllStringFunc(s, a.token)
}

func (a *actions) token(action string) string {
	a.list = append(a.list, action)
	return fmt.Sprintf("tplx%04dx", len(a.list)-1)
}

func (a *actions) restore(s string) (string, error) {
	var bad error
	out := tokenRe.ReplaceAllStringFunc(s, func(tok string) string {
		i, _ := strconv.Atoi(tok[4:8])
		if i >= len(a.list) {
			bad = fmt.Errorf("unknown template placeholder %s", tok)
			return tok
		}
		return a.list[i]
	})
	return out, bad
}

// layoutData is what a layout in templates/campaigns/ sees at compile time;
// the per-recipient fields are placeholders filled in by Render.
type layoutData struct {
	Subject        string
	Preheader      string
	Content        htmltpl.HTML
	Charity        charity.Identity
	UnsubscribeURL string
	PreferencesURL string
	WebURL         string
}

// Compile prepares a campaign for rendering. Errors name what staff must fix
// (an unknown field, a broken template), so a campaign that won't render
// can't be scheduled.
func Compile(c Content, layouts fs.FS, id charity.Identity, funcs map[string]any) (*Compiled, error) {
	var a actions
	body := a.protect(c.Body)
	if c.Format != vocab.FormatHTML {
		var out bytes.Buffer
		if err := md.Convert([]byte(body), &out); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		body = out.String()
	}
	body = sanitizer.Sanitize(body)

	name := c.Layout
	if name == "" {
		name = "default"
	}
	src, err := fs.ReadFile(layouts, "campaigns/"+name+".html")
	if err != nil {
		return nil, fmt.Errorf("layout %q: %w", name, err)
	}
	layout, err := htmltpl.New(name).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("layout %q: %w", name, err)
	}
	var page bytes.Buffer
	err = layout.Execute(&page, layoutData{
		Subject:        a.protect(c.Subject),
		Preheader:      a.protect(c.Preheader),
		Content:        htmltpl.HTML(body),
		Charity:        id,
		UnsubscribeURL: a.token("{{.UnsubscribeURL}}"),
		PreferencesURL: a.token("{{.PreferencesURL}}"),
		WebURL:         a.token("{{.WebURL}}"),
	})
	if err != nil {
		return nil, fmt.Errorf("layout %q: %w", name, err)
	}
	prem, err := premailer.NewPremailerFromString(page.String(), premailer.NewOptions())
	if err != nil {
		return nil, fmt.Errorf("inlining css: %w", err)
	}
	inlined, err := prem.Transform()
	if err != nil {
		return nil, fmt.Errorf("inlining css: %w", err)
	}
	text, err := html2text.FromString(withoutPreheader(inlined), html2text.Options{})
	if err != nil {
		return nil, fmt.Errorf("plain-text part: %w", err)
	}

	cc := &Compiled{}
	if cc.subject, err = texttpl.New("subject").Funcs(funcs).Funcs(budgeted).Option("missingkey=error").Parse(c.Subject); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	htmlSrc, err := a.restore(inlined)
	if err != nil {
		return nil, err
	}
	if cc.html, err = htmltpl.New("html").Funcs(funcs).Funcs(budgeted).Option("missingkey=error").Parse(htmlSrc); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	textSrc, err := a.restore(text)
	if err != nil {
		return nil, err
	}
	if cc.text, err = texttpl.New("text").Funcs(funcs).Funcs(budgeted).Option("missingkey=error").Parse(textSrc); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	for _, t := range []struct {
		what  string
		tree  *parse.Tree
		count int
	}{
		{"subject", cc.subject.Tree, len(cc.subject.Templates())},
		{"body", cc.html.Tree, len(cc.html.Templates())},
		{"body", cc.text.Tree, len(cc.text.Templates())},
	} {
		if t.count > 1 {
			return nil, fmt.Errorf("%s: %w", t.what, errRecurse)
		}
		if err := limit(t.tree.Root); err != nil {
			return nil, fmt.Errorf("%s: %w", t.what, err)
		}
	}
	// One trial render catches unknown fields before anyone is mailed.
	if _, err := cc.Render(Recipient{FirstName: "Alex", LastName: "Example", Email: "alex@example.org", UnsubscribeURL: "https://example.org/u", PreferencesURL: "https://example.org/p", WebURL: "https://example.org/w"}); err != nil {
		return nil, err
	}
	return cc, nil
}

// withoutPreheader drops the hidden preheader from the text part.
func withoutPreheader(s string) string {
	start := strings.Index(s, `<div class="preheader"`)
	if start < 0 {
		return s
	}
	end := strings.Index(s[start:], "</div>")
	if end < 0 {
		return s
	}
	return s[:start] + s[start+end+len("</div>"):]
}

// msgBufs hold one message's rendered parts while it waits to be sent, so
// that the engine reuses them for later messages instead of leaving ~15 KB
// of garbage a message.
type msgBufs struct{ subject, html, text bytes.Buffer }

var msgBufPool = sync.Pool{New: func() any { return new(msgBufs) }}

// renderInto is Render into pooled buffers: the Message's strings alias b
// and are valid only until b is released (put back in msgBufPool), which
// the caller does once nothing uses the message any more. The three parts
// share one budget (renderlimit.go).
func (c *Compiled) renderInto(r Recipient, b *msgBufs) (Message, error) {
	if strings.TrimSpace(r.FirstName) == "" {
		r.FirstName = "friend"
	}
	d := newRenderData(r)
	var m Message
	for _, step := range [...]struct {
		t    interface{ Execute(io.Writer, any) error }
		buf  *bytes.Buffer
		out  *string
		what string
	}{
		{c.subject, &b.subject, &m.Subject, "subject"},
		{c.html, &b.html, &m.HTML, "body"},
		{c.text, &b.text, &m.Text, "body (text)"},
	} {
		step.buf.Reset()
		d.out.buf = step.buf
		if err := step.t.Execute(&d.out, d); err != nil {
			return Message{}, fmt.Errorf("%s: %w", step.what, renderError(err))
		}
		*step.out = unsafe.String(unsafe.SliceData(step.buf.Bytes()), step.buf.Len())
	}
	return m, nil
}

// Render executes the compiled templates for one recipient. An empty first
// name reads "friend".
func (c *Compiled) Render(r Recipient) (Message, error) {
	return c.renderInto(r, new(msgBufs)) // buffers of its own: the strings stay valid
}
