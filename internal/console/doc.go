// Package console is the staff console at /staff/: sign-in (password, then
// a one-time code by email: PocketBase's MFA on the staff collection),
// sessions, CSRF, role checks, the layout, the home page, the staff, topics
// and audit pages, and the helpers other console packages build their pages
// with. Pages are server-rendered html/template with htmx for the small
// live parts; every asset is embedded and the strict CSP holds (no inline
// script or style).
//
// # Adding pages
//
// A console package (e.g. internal/console/campaignui) exports
//
//	func Register(c *console.Console)
//
// and pb_hooks/console.go calls it, after c.Mount, with one line. In it:
//
//	c.Nav("Campaigns", "/campaigns", console.Comms) // menu link for that role
//	c.GET("/campaigns", console.Comms, list)         // page for any staff member
//	c.POST("/campaigns/{id}/send", console.Comms, send)
//	c.POST("/supporters/{id}/erase", console.Admin, erase) // admins only
//
// Paths are relative to /staff. Every route is checked on the server before
// its handler runs: no session sends the browser to the sign-in page (htmx
// requests get HX-Redirect), a role below the route's gets the 403 page, and
// any method but GET and HEAD needs the CSRF token or gets 403 with nothing
// changed. Finer checks inside a handler answer with c.Forbidden(e).
// Handlers are plain PocketBase handlers; Staff(e) is the signed-in member
// (Staff(e).Record, Staff(e).Admin()). POST routes carry a 256 KB body
// limit; bind a larger apis.BodyLimit on the returned route for uploads.
//
// # Templates
//
// A page is templates/staff/<name>.html or templates/staff/<dir>/<name>.html
// (rendered as "<name>" or "<dir>/<name>"), overridable like every template.
// It defines "title" and "content"; it may define "head" for extra
// <script src> or <link> tags. In it, .Data is what the handler passed and
// .CSRF, .Staff, .Admin, .Flash belong to the layout. The layout offers
//
//	{{template "csrf" $.CSRF}}                       the hidden token, in every form
//	{{template "field" (field .Data.Form "email" "Email address" "email")}}
//
// "field" draws a labelled input with its error message (kinds: any input
// type, "password" and "new-password" never echoed, "code", "address").
// Funcs: london (a time in London, "Mon 2 Jan 2006, 15:04"), count
// (100,000). htmx is loaded on every page with the token sent as
// X-CSRF-Token on its requests, eval and inline styles off, and no history
// cache (pages hold personal data); its SSE extension is loaded too
// (hx-ext="sse").
//
// # Answering
//
//	return c.Render(e, "campaigns/list", data)            // 200
//	return c.RenderStatus(e, 400, "campaigns/edit", data) // a form with errors
//	return console.Redirect(e, "/campaigns", "Scheduled.")  // 303 plus a flash
//
// Forms: f := console.NewForm(e); f.Require("name", "a name"); f.Fail(field,
// message); f.OK(). Show the form again with the values typed and one
// message per field, and change nothing, while !f.OK().
//
// # Audit
//
// console.AuditRequest(tx, e, "campaign.send", "campaigns/"+id, detail)
// records who did what, from where; console.Audit(app, staffRecord, ...)
// does it outside a request. Pass the transaction's app so the row commits
// with the action. Rows are append-only; name records by collection/id,
// never by a supporter's address.
//
// # Browser tests
//
// testkit.ConsoleBrowser(t, testkit.ConsoleOptions{Setup: ...}) runs the real
// binary with a comms and an admin account; site.Login(t, site.Comms) signs
// in with the emailed code; site.Visit(t, path, status, name) opens a page,
// runs axe-core (no serious or critical violations) and saves screenshots at
// 1280 and 390 px to $CRM_TEST_OUTPUT (default testdata/out)/console/<test>/.
package console
