// Package campaignui is the staff console's campaign, schedule and event
// pages: compose with a live preview and audience count, test sends,
// scheduling and sending, live progress, results; recurring schedules; and
// the events that newsletters list. Comms and admins both use them; the
// CSV of a campaign's recipients is admins' only (it is a bulk export of
// addresses). Every rule is checked on the server, by the console's route
// roles and again in each action.
package campaignui

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/console"
	"supportercrm/internal/fbsync"
	"supportercrm/internal/tz"
)

// Pages holds what the pages need from the wiring.
type Pages struct {
	Console *console.Console
	App     core.App
	Engine  *campaigns.Engine
	// Templates is the template tree (with overrides), for the fragments
	// that htmx swaps in (staff/campaigns/parts/).
	Templates fs.FS
	// Sync runs a Facebook sync now; nil when Facebook is not configured.
	Sync func(ctx context.Context) (fbsync.Result, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// ProgressEvery is how often a live progress stream reads the
	// campaign's counters (250ms when zero).
	ProgressEvery time.Duration

	parts   *template.Template
	tests   *testLimiter
	preview *previewStore
}

// Mount parses the fragments and adds the routes and menu links. Call it
// after the console's own Mount.
func (p *Pages) Mount() error {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.ProgressEvery <= 0 {
		p.ProgressEvery = 250 * time.Millisecond
	}
	parts, err := parseParts(p.Templates)
	if err != nil {
		return err
	}
	p.parts = parts
	p.tests = newTestLimiter(p.Now)
	p.preview = newPreviewStore(p.Now)
	p.campaignRoutes()
	p.scheduleRoutes()
	p.eventRoutes()
	return nil
}

// parseParts parses the fragments htmx swaps in (staff/campaigns/parts/).
func parseParts(fsys fs.FS) (*template.Template, error) {
	parts, err := template.New("parts").Funcs(template.FuncMap{"london": console.London, "count": thousands, "field": field}).
		Option("missingkey=error").ParseFS(fsys, "staff/campaigns/parts/*.html")
	if err != nil {
		return nil, fmt.Errorf("campaignui: %w", err)
	}
	return parts, nil
}

// fieldView is what the "input" part shows for one field.
type fieldView struct{ Name, Label, Type, Value, Error string }

func field(f *console.Form, name, label, kind string) fieldView {
	return fieldView{Name: name, Label: label, Type: kind, Value: f.Get(name), Error: f.Error(name)}
}

// part answers an htmx request with a fragment.
func (p *Pages) part(e *core.RequestEvent, status int, name string, data any) error {
	var b strings.Builder
	if err := p.parts.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	h := e.Response.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	e.Response.WriteHeader(status)
	_, err := e.Response.Write([]byte(b.String()))
	return err
}

// londonInput reads a date (2026-12-03) and a time (09:30) typed as London
// time.
func londonInput(date, clock string) (time.Time, error) {
	return time.ParseInLocation("2006-01-02 15:04", strings.TrimSpace(date)+" "+strings.TrimSpace(clock), tz.London)
}

// thousands writes n with commas: 100000 → "100,000".
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// badRequest is an htmx fragment's plain refusal.
func badRequest(e *core.RequestEvent, msg string) error {
	return e.String(http.StatusBadRequest, msg)
}

//go:embed assets/campaigns.css
var css []byte

// serveCSS serves the pages' stylesheet (embedded: it changes only with
// the binary).
func serveCSS(e *core.RequestEvent) error {
	h := e.Response.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	return e.Blob(http.StatusOK, "text/css; charset=utf-8", css)
}
