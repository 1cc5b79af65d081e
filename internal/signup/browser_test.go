package signup_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// load runs a step that navigates (a Navigate, or a click on a submit
// button), waits for the new page, and checks its HTTP status.
func load(t *testing.T, ctx context.Context, what string, want int, step chromedp.Action[chromedp.Void]) {
	t.Helper()
	res, err := chromedp.RunResponse(ctx, step)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if int(res.Status) != want {
		t.Fatalf("%s: HTTP %d, want %d", what, res.Status, want)
	}
}

// pageText is what a reader sees on the page (innerText, so entities are decoded).
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, "read page text", chromedp.Evaluate[string](`document.body.innerText`))
}

func heading(t *testing.T, ctx context.Context) string {
	t.Helper()
	return strings.TrimSpace(run(t, ctx, "read h1", chromedp.Text(chromedp.CSS("h1"))))
}

// seenJS reports whether the element with the given id occupies any visible
// area of the rendered document: not display:none or visibility:hidden, and
// its box, clipped by the boxes of its ancestors that hide overflow,
// intersects the document's area.
const seenJS = `((id) => {
	const el = document.getElementById(id);
	if (!el) throw new Error("no element #" + id);
	const cs = getComputedStyle(el);
	if (cs.display === "none" || cs.visibility === "hidden" || el.getClientRects().length === 0) return false;
	const r = el.getBoundingClientRect();
	let x0 = r.left + scrollX, y0 = r.top + scrollY, x1 = r.right + scrollX, y1 = r.bottom + scrollY;
	for (let p = el.parentElement; p; p = p.parentElement) {
		const ps = getComputedStyle(p);
		if (ps.overflow === "visible") continue;
		const pr = p.getBoundingClientRect();
		x0 = Math.max(x0, pr.left + scrollX); y0 = Math.max(y0, pr.top + scrollY);
		x1 = Math.min(x1, pr.right + scrollX); y1 = Math.min(y1, pr.bottom + scrollY);
	}
	const de = document.documentElement;
	x0 = Math.max(x0, 0); y0 = Math.max(y0, 0);
	x1 = Math.min(x1, de.scrollWidth); y1 = Math.min(y1, de.scrollHeight);
	return Math.max(0, x1 - x0) * Math.max(0, y1 - y0) > 1;
})`

func seen(t *testing.T, ctx context.Context, id string) bool {
	t.Helper()
	return run(t, ctx, "visibility of #"+id, chromedp.Evaluate[bool](seenJS+`("`+id+`")`))
}

func checked(t *testing.T, ctx context.Context, selector string) bool {
	t.Helper()
	return run(t, ctx, "checked "+selector, chromedp.Evaluate[bool](`document.querySelector('`+selector+`').checked`))
}

func browserEnv(t *testing.T) *testkit.Env {
	return testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) { c.MinSubmit = 0 }})
}

func topicIDs(t *testing.T, env *testkit.Env, slugs ...string) []string {
	t.Helper()
	ids := make([]string, len(slugs))
	for i, s := range slugs {
		r, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", s)
		if err != nil {
			t.Fatalf("topic %s: %v", s, err)
		}
		ids[i] = r.Id
	}
	return ids
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestBrowserSignupConfirmPreferences(t *testing.T) {
	env := browserEnv(t)

	// Change the identity record and add a topic, so the page can only show
	// them by reading the database.
	ch, err := env.App.FindFirstRecordByFilter(vocab.Charity, "")
	if err != nil {
		t.Fatal(err)
	}
	wording := ch.GetString("consent_wording") + " (Browser test wording.)"
	ch.Set("consent_wording", wording)
	if err := env.App.Save(ch); err != nil {
		t.Fatal(err)
	}
	tc, err := env.App.FindCollectionByNameOrId(vocab.Topics)
	if err != nil {
		t.Fatal(err)
	}
	extra := core.NewRecord(tc)
	extra.Set("slug", "volunteering")
	extra.Set("name", "Volunteering days")
	extra.Set("public", true)
	extra.Set("sort_order", 9)
	if err := env.App.Save(extra); err != nil {
		t.Fatal(err)
	}
	hidden := core.NewRecord(tc)
	hidden.Set("slug", "trustees")
	hidden.Set("name", "Trustee briefings")
	hidden.Set("public", false)
	if err := env.App.Save(hidden); err != nil {
		t.Fatal(err)
	}
	public, err := env.App.FindRecordsByFilter(vocab.Topics, "public = true", "sort_order", 0, 0)
	if err != nil || len(public) != 4 {
		t.Fatalf("public topics = %d, %v", len(public), err)
	}

	ctx := testkit.Browser(t, 20*time.Second)
	load(t, ctx, "open signup page", http.StatusOK, chromedp.Navigate(env.URL+"/"))
	text := pageText(t, ctx)
	for _, tp := range public {
		if !strings.Contains(text, tp.GetString("name")) {
			t.Errorf("signup page lacks topic %q", tp.GetString("name"))
		}
	}
	if strings.Contains(text, "Trustee briefings") {
		t.Error("signup page shows a private topic")
	}
	if !strings.Contains(text, wording) {
		t.Errorf("signup page lacks the charity's consent wording %q in:\n%s", wording, text)
	}
	// Images (the logo) load from this app's own origin, whatever the
	// dashboard's application URL says.
	if broken := run(t, ctx, "broken images", chromedp.Evaluate[int](`[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length`)); broken != 0 {
		t.Errorf("%d images on the signup page did not load", broken)
	}
	// The honeypot is in the DOM but nobody sees it; the real fields are seen.
	if !seen(t, ctx, "email") || !seen(t, ctx, "first_name") {
		t.Fatal("the email and first name fields are not visible (is the stylesheet served?)")
	}
	if seen(t, ctx, "website") {
		t.Error("the honeypot input is visible to the user")
	}
	attrs := run(t, ctx, "honeypot attributes", chromedp.Evaluate[[]string](`(() => { const i = document.getElementById("website"); return [i.closest("[aria-hidden]")?.getAttribute("aria-hidden") ?? "", i.getAttribute("tabindex") ?? ""]; })()`))
	if !slices.Equal(attrs, []string{"true", "-1"}) {
		t.Errorf("honeypot aria-hidden, tabindex = %q, want true, -1", attrs)
	}

	const email = "ada.browser@example.org"
	do(t, ctx, "fill the form",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("first_name"), "Ada"),
		chromedp.Click(chromedp.CSS(`input[name="topics"][value="newsletter"]`)),
		chromedp.Click(chromedp.CSS(`input[name="topics"][value="events"]`)),
		chromedp.Click(chromedp.CSS(`input[name="consent"]`)),
	)
	if !checked(t, ctx, `input[name="consent"]`) || !checked(t, ctx, `input[name="topics"][value="newsletter"]`) {
		t.Fatal("clicks did not tick the boxes")
	}
	load(t, ctx, "submit signup", http.StatusAccepted, chromedp.Click(chromedp.Search(`//button[normalize-space()="Sign me up"]`)))
	if h := heading(t, ctx); h != "Check your inbox" {
		t.Fatalf("after signup the page says %q:\n%s", h, pageText(t, ctx))
	}

	sup := supporter(t, env, email)
	if sup.GetString("status") != vocab.StatusPending || sup.GetString("first_name") != "Ada" {
		t.Fatalf("after signup: status %q first name %q", sup.GetString("status"), sup.GetString("first_name"))
	}
	rows := consents(t, env, sup)
	if len(rows) != 1 || rows[0].GetString("action") != vocab.ActionGrant || rows[0].GetString("method") != vocab.MethodWebForm || rows[0].GetString("wording") != wording {
		t.Fatalf("after signup: %d consent rows, first %v", len(rows), rows)
	}
	if ua := rows[0].GetString("user_agent"); !strings.Contains(ua, "Chrome") {
		t.Errorf("grant user agent %q is not the browser's", ua)
	}

	// Confirm from the email, in the browser.
	mails := env.SMTP.WaitFor(t, email, 1, 10*time.Second)
	load(t, ctx, "open confirm link", http.StatusOK, chromedp.Navigate(env.Link(t, mails[0].Text, "/confirm")))
	if h := heading(t, ctx); h != "You're subscribed" {
		t.Fatalf("confirm page says %q:\n%s", h, pageText(t, ctx))
	}
	sup = supporter(t, env, email)
	if sup.GetString("status") != vocab.StatusSubscribed || !sameSet(sup.GetStringSlice("topics"), topicIDs(t, env, "newsletter", "events")) {
		t.Fatalf("after confirm: status %q topics %v", sup.GetString("status"), sup.GetStringSlice("topics"))
	}

	// The welcome email's preferences link: untick the newsletter and save.
	mails = env.SMTP.WaitFor(t, email, 2, 10*time.Second)
	if !strings.HasPrefix(mails[1].Header.Get("Subject"), "Welcome") {
		t.Fatalf("second mail is not the welcome: %q", mails[1].Header.Get("Subject"))
	}
	load(t, ctx, "open preferences link", http.StatusOK, chromedp.Navigate(env.Link(t, mails[1].Text, "/preferences")))
	newsletter, events := `input[name="topics"][value="newsletter"]`, `input[name="topics"][value="events"]`
	if !checked(t, ctx, newsletter) || !checked(t, ctx, events) || checked(t, ctx, `input[name="topics"][value="appeals"]`) {
		t.Fatal("preferences page doesn't show the chosen topics ticked")
	}
	if v := run(t, ctx, "first name", chromedp.Value(chromedp.ID("first_name"))); v != "Ada" {
		t.Errorf("preferences first name = %q", v)
	}
	do(t, ctx, "untick newsletter", chromedp.Click(chromedp.CSS(newsletter)))
	load(t, ctx, "save preferences", http.StatusOK, chromedp.Click(chromedp.Search(`//button[normalize-space()="Save my preferences"]`)))
	if h := heading(t, ctx); h != "Preferences saved" {
		t.Fatalf("after saving the page says %q:\n%s", h, pageText(t, ctx))
	}

	sup = supporter(t, env, email)
	if sup.GetString("status") != vocab.StatusSubscribed || !sameSet(sup.GetStringSlice("topics"), topicIDs(t, env, "events")) {
		t.Fatalf("after saving: status %q topics %v", sup.GetString("status"), sup.GetStringSlice("topics"))
	}
	rows = consents(t, env, sup)
	if len(rows) != 2 {
		t.Fatalf("consent rows after saving = %d, want 2 (grant, withdraw)", len(rows))
	}
	w := rows[1]
	if w.GetString("action") != vocab.ActionWithdraw || w.GetString("method") != vocab.MethodPreferences ||
		!slices.Equal(w.GetStringSlice("topics"), topicIDs(t, env, "newsletter")) || w.GetString("topic_slugs") != `["newsletter"]` || w.GetDateTime("confirmed_at").IsZero() {
		t.Errorf("withdraw row = action %q method %q topics %v slugs %s", w.GetString("action"), w.GetString("method"), w.GetStringSlice("topics"), w.GetString("topic_slugs"))
	}
}

func TestBrowserSignupInvalidInput(t *testing.T) {
	env := browserEnv(t)
	ctx := testkit.Browser(t, 20*time.Second)
	load(t, ctx, "open signup page", http.StatusOK, chromedp.Navigate(env.URL+"/"))
	do(t, ctx, "fill the form",
		chromedp.SendKeys(chromedp.ID("email"), "not-an-email"),
		chromedp.SendKeys(chromedp.ID("first_name"), "Grace"),
		chromedp.Click(chromedp.CSS(`input[name="topics"][value="events"]`)),
	)
	load(t, ctx, "submit signup", http.StatusBadRequest, chromedp.Click(chromedp.Search(`//button[normalize-space()="Sign me up"]`)))

	if h := heading(t, ctx); h != "Stay in touch" {
		t.Fatalf("invalid signup shows %q, want the form again:\n%s", h, pageText(t, ctx))
	}
	if msg := run(t, ctx, "email error", chromedp.Text(chromedp.ID("email-error"))); !strings.Contains(msg, "Enter a valid email address") {
		t.Errorf("email field message = %q", msg)
	}
	if inv := run(t, ctx, "aria-invalid", chromedp.Evaluate[string](`document.getElementById("email").getAttribute("aria-invalid") ?? ""`)); inv != "true" {
		t.Errorf("email aria-invalid = %q", inv)
	}
	fieldErrs := run(t, ctx, "field messages", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".field-error")].map(e => e.innerText.trim())`))
	if !slices.Contains(fieldErrs, "Please tick the box to say you'd like to hear from us.") {
		t.Errorf("no consent field message in %q", fieldErrs)
	}
	if alert := run(t, ctx, "error summary", chromedp.Text(chromedp.CSS(`.errors[role="alert"]`))); !strings.Contains(alert, "Please check the form") {
		t.Errorf("error summary = %q", alert)
	}
	if v := run(t, ctx, "first name", chromedp.Value(chromedp.ID("first_name"))); v != "Grace" {
		t.Errorf("first name after re-render = %q, want Grace", v)
	}
	if v := run(t, ctx, "email", chromedp.Value(chromedp.ID("email"))); v != "not-an-email" {
		t.Errorf("email after re-render = %q", v)
	}
	if !checked(t, ctx, `input[name="topics"][value="events"]`) || checked(t, ctx, `input[name="consent"]`) {
		t.Error("re-rendered form lost the ticked topic or ticked consent")
	}
	for _, c := range []string{vocab.Supporters, vocab.Consents, vocab.Outbox} {
		if n := env.Count(t, c, ""); n != 0 {
			t.Errorf("%s rows after invalid signup = %d, want 0", c, n)
		}
	}
}
