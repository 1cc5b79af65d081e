package console

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"supportercrm/internal/charity"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
	"supportercrm/internal/vocab"
)

// Role is who may use a route: Comms is any staff member (comms and admins),
// Admin is admins only.
type Role string

// The roles a route may require. public is the sign-in pages' own.
const (
	Comms  Role = vocab.RoleComms
	Admin  Role = vocab.RoleAdmin
	public Role = ""
)

// Prefix is where the console lives.
const Prefix = "/staff"

// bodyLimit caps the console's own forms; a page that takes uploads binds a
// larger apis.BodyLimit on the route it registers.
const bodyLimit = 256 << 10

//go:embed assets/console.js assets/console.css assets/vendor
var assets embed.FS

// Config is what the console needs from the wiring.
type Config struct {
	App core.App
	// Templates is the template tree with the overrides on top
	// (views.Overlay); Base is the embedded tree, which names the pages.
	Templates, Base fs.FS
	// Mail renders the staff emails (sign-in code, invitation).
	Mail     *views.Set
	Signer   *tokens.Signer
	Identity func() (charity.Identity, error)
	// Wake tells the outbox worker that mail is queued.
	Wake func()
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Console is the staff console: its routes, pages, sessions and guards.
type Console struct {
	cfg    Config
	app    core.App
	pages  pageSet
	router *router.Router[*core.RequestEvent]
	nav    []NavItem
	fails  *failures
}

// NavItem is one link in the console's menu, shown to staff whose role
// may open it.
type NavItem struct {
	Label, Path string
	Role        Role
}

// New parses every console page (a broken template stops start-up) and binds
// the record guards (the append-only audit, the sample identity on campaigns).
func New(cfg Config) (*Console, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.App == nil || cfg.Signer == nil || cfg.Mail == nil || cfg.Identity == nil {
		return nil, errors.New("console: App, Signer, Mail and Identity are required")
	}
	pages, err := loadPages(cfg.Templates, cfg.Base)
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, app: cfg.App, pages: pages, fails: newFailures(cfg.Now)}
	bindAuditGuard(cfg.App)
	bindSampleGuard(cfg.App)
	bindStaffMail(c)
	return c, nil
}

// Mount adds the console's own routes (sign-in, home, staff, topics, audit,
// assets) to the server's router. Pages of other packages are added after
// it, with GET and POST.
func (c *Console) Mount(se *core.ServeEvent) {
	c.router = se.Router
	sub, _ := fs.Sub(assets, "assets")
	se.Router.GET(Prefix+"/assets/{path...}", apis.Static(sub, false)).BindFunc(cacheAssets)
	se.Router.GET(Prefix, func(e *core.RequestEvent) error { return e.Redirect(http.StatusSeeOther, Prefix+"/") })
	c.GET("/{path...}", Comms, c.notFound)
	c.authRoutes()
	c.GET("/{$}", Comms, c.home)
	c.Nav("Home", "/", Comms)
	c.staffRoutes()
	c.topicRoutes()
	c.auditRoutes()
}

// Nav adds a menu link to path (relative to /staff) for staff with role.
func (c *Console) Nav(label, path string, role Role) {
	c.nav = append(c.nav, NavItem{Label: label, Path: Prefix + path, Role: role})
}

// GET adds a page at Prefix+path for staff with role. The handler finds the
// signed-in member with Staff(e) and answers with c.Render.
func (c *Console) GET(path string, role Role, h func(*core.RequestEvent) error) *router.Route[*core.RequestEvent] {
	return c.handle(http.MethodGet, path, role, h)
}

// POST adds a form action at Prefix+path for staff with role. Its CSRF token
// is checked before h runs.
func (c *Console) POST(path string, role Role, h func(*core.RequestEvent) error) *router.Route[*core.RequestEvent] {
	return c.handle(http.MethodPost, path, role, h).Bind(apis.BodyLimit(bodyLimit))
}

// handle binds h behind the console's checks, in this order: a valid
// session (else the sign-in page), the role (else 403), and for anything
// but GET and HEAD the CSRF token (else 403, nothing changed).
func (c *Console) handle(method, path string, role Role, h func(*core.RequestEvent) error) *router.Route[*core.RequestEvent] {
	if c.router == nil {
		panic("console: add pages after Mount")
	}
	return c.router.Route(method, Prefix+path, func(e *core.RequestEvent) error {
		s := c.session(e)
		if s != nil {
			e.Set(staffKey, s)
		}
		if role != public && s == nil {
			return c.toLogin(e)
		}
		if role == Admin && !s.Admin() {
			return c.Forbidden(e)
		}
		if !slices.Contains([]string{http.MethodGet, http.MethodHead}, e.Request.Method) && !c.csrfOK(e) {
			return c.RenderStatus(e, http.StatusForbidden, "error", errorPage{
				Heading: "This form has expired",
				Message: "Nothing was changed. Go back, reload the page and try again.",
			})
		}
		err := h(e)
		if err == nil || e.Written() {
			return err
		}
		return c.failed(e, err)
	})
}

// failed answers a handler's error with the console's error page rather
// than PocketBase's JSON: an API error's status and public message, or 500
// with the fault logged and not shown.
func (c *Console) failed(e *core.RequestEvent, err error) error {
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) && apiErr.Status < 500 {
		return c.RenderStatus(e, apiErr.Status, "error", errorPage{Heading: "That didn't work", Message: apiErr.Message})
	}
	e.App.Logger().Error("console: "+e.Request.Method+" "+e.Request.URL.Path, "error", err.Error())
	return c.RenderStatus(e, http.StatusInternalServerError, "error", errorPage{
		Heading: "Something went wrong", Message: "Try again; if it happens again, tell an admin when it happened."})
}

// cacheAssets lets browsers keep the console's scripts and styles for an
// hour; they change only with the binary.
func cacheAssets(e *core.RequestEvent) error {
	e.Response.Header().Set("Cache-Control", "private, max-age=3600")
	e.Response.Header().Set("X-Content-Type-Options", "nosniff")
	return e.Next()
}

// toLogin sends an anonymous visitor to the sign-in page (htmx requests
// are told to load it whole), remembering a page they asked for.
func (c *Console) toLogin(e *core.RequestEvent) error {
	to := Prefix + "/login"
	if e.Request.Method == http.MethodGet && e.Request.URL.Path != Prefix+"/" {
		to += "?next=" + url.QueryEscape(e.Request.URL.RequestURI())
	}
	if e.Request.Header.Get("HX-Request") == "true" {
		e.Response.Header().Set("HX-Redirect", to)
		return e.NoContent(http.StatusUnauthorized)
	}
	return e.Redirect(http.StatusSeeOther, to)
}

// safeNext keeps a post-login destination on the console: a path, never
// another origin.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/"
	}
	return next
}

func (c *Console) notFound(e *core.RequestEvent) error {
	return c.RenderStatus(e, http.StatusNotFound, "error", errorPage{Heading: "Page not found", Message: "There is no console page at this address."})
}

// Forbidden answers 403 with a page that says the member's role can't do
// this. Handlers call it for checks finer than a route's role.
func (c *Console) Forbidden(e *core.RequestEvent) error {
	return c.RenderStatus(e, http.StatusForbidden, "error", errorPage{
		Heading: "Not allowed",
		Message: "Your role can't open this page or do this. Ask an admin if you need it.",
	})
}
