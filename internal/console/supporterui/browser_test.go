package supporterui_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
)

// adminPages are every page of this package that only admins may open.
var adminPages = []string{
	"/staff/import", "/staff/exports", "/staff/giving/donations", "/staff/giving/pledges",
	"/staff/giving/declarations", "/staff/giving/claims",
}

// adminActions are every form action of this package that only admins may
// take, with a body that would succeed for an admin.
func adminActions(supporterID, email string) [][2]string {
	return [][2]string{
		{"/staff/supporters/" + supporterID + "/edit", "email=" + email + "&first_name=Changed&last_name=Line"},
		{"/staff/supporters/" + supporterID + "/erase", "confirm=" + email},
		{"/staff/import", ""},
		{"/staff/exports/supporters", ""},
		{"/staff/exports/consents", ""},
		{"/staff/giving/claims", "claim=2026-11"},
		{"/staff/giving/claims/download", ""},
	}
}

// status opens path in the browser and returns the HTTP status, without
// the accessibility check (for pages that must be refused).
func status(t *testing.T, site *testkit.ConsoleSite, path string) int {
	t.Helper()
	res, err := chromedp.RunResponse(site.Ctx, chromedp.Navigate(site.URL+path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return int(res.Status)
}

// post sends a form post from the open page, with its CSRF token, as the
// page's own forms would, and returns the status and the start of the body.
func post(t *testing.T, site *testkit.ConsoleSite, path, body string) (int, string) {
	t.Helper()
	js := fmt.Sprintf(`(async () => {
		const tok = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
		const body = new URLSearchParams(%q);
		body.set("_csrf", tok);
		const r = await fetch(%q, {method: "POST", body, redirect: "manual"});
		return r.status + " " + (await r.text()).slice(0, 300);
	})()`, body, path)
	var out string
	v, err := chromedp.Run(site.Ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("post %s: %v", path, err)
	}
	out = v
	var code int
	fmt.Sscanf(out, "%d", &code)
	return code, out
}

func waitText(t *testing.T, site *testkit.ConsoleSite, what, want string) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if strings.Contains(site.Text(t), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q never showed:\n%s", what, want, site.Text(t))
		}
	}
}

// supportersSite is the real binary with 1,000 supporters and Tess, who has
// one of everything a timeline shows (giving too).
func supportersSite(t *testing.T) (*testkit.ConsoleSite, *core.Record) {
	t.Helper()
	var tess *core.Record
	site := testkit.ConsoleBrowser(t, testkit.ConsoleOptions{Setup: func(app core.App) {
		testkit.People(t, app, 1000)
		tess = history(t, app)
	}})
	return site, tess
}

// Comms staff in a real browser against the real binary: they search 1,000
// supporters as they type, open one and read a timeline with no giving
// data (nor the home address), and get 403 on every admin page and on
// every admin action, sent with a valid CSRF token (which change nothing:
// the admin test below finds Tess whole). Pages pass axe-core at desktop
// and phone width, with screenshots.
func TestBrowserSupportersForComms(t *testing.T) {
	site, tess := supportersSite(t)
	site.Login(t, site.Comms)
	site.Visit(t, "/staff/supporters", http.StatusOK, "supporters-comms")
	// Results follow the typing without a submit (htmx).
	site.Do(t, "type a name", chromedp.SendKeys(chromedp.CSS("#f-q"), "tess li"))
	waitText(t, site, "live search", "1 supporter matches")
	if text := site.Text(t); strings.Contains(text, "person0") || strings.Contains(text, "Otto") {
		t.Fatalf("live search for tess li:\n%s", text)
	}
	site.Do(t, "open the supporter", chromedp.Click(chromedp.CSS(`a[href="/staff/supporters/`+tess.Id+`"]`)), chromedp.WaitVisible(chromedp.CSS("#timeline-h")))
	site.Check(t, "supporter-comms")
	text := site.Text(t)
	for _, want := range []string{"tess@example.org", "Timeline", "Unsubscribed", "Welcome"} {
		if !strings.Contains(text, want) {
			t.Errorf("comms supporter page lacks %q:\n%s", want, text)
		}
	}
	for _, never := range []string{"£", "Donation", "Pledge", "Gift Aid", "Kirkgate", "LS2 7DJ", "Thank you for your gift", "Edit these details", "Erase"} {
		if strings.Contains(text, never) {
			t.Errorf("comms supporter page shows %q:\n%s", never, text)
		}
	}
	for _, path := range append(adminPages, "/staff/supporters/"+tess.Id+"/edit", "/staff/supporters/"+tess.Id+"/erase") {
		if got := status(t, site, path); got != http.StatusForbidden {
			t.Errorf("comms GET %s = %d, want 403", path, got)
		}
	}
	site.Visit(t, "/staff/supporters/"+tess.Id, http.StatusOK, "supporter-comms-again")
	for _, a := range adminActions(tess.Id, "tess@example.org") {
		if got, body := post(t, site, a[0], a[1]); got != http.StatusForbidden {
			t.Errorf("comms POST %s = %s, want 403", a[0], body)
		}
	}
	// Nothing those posts asked for happened.
	site.Visit(t, "/staff/supporters/"+tess.Id, http.StatusOK, "supporter-comms-after")
	if text := site.Text(t); !strings.Contains(text, "tess@example.org") || strings.Contains(text, "Changed") {
		t.Errorf("a comms post changed the supporter:\n%s", text)
	}
}

// An admin in a real browser: the supporter's page shows the giving and
// the home address; a bad edit gets a message per field and saves
// nothing; erasure needs the address typed, refuses another, and leaves
// no personal data on the page; the audit trail names the erasure.
func TestBrowserSupporterEditAndErase(t *testing.T) {
	site, tess := supportersSite(t)
	site.Login(t, site.Admin)
	site.Visit(t, "/staff/supporters/"+tess.Id, http.StatusOK, "supporter-admin")
	text := site.Text(t)
	for _, want := range []string{"Tess Line", "£25.00", "£2.50 a week", "Gift Aid declaration", "Kirkgate", "LS2 7DJ"} {
		if !strings.Contains(text, want) {
			t.Errorf("admin supporter page lacks %q:\n%s", want, text)
		}
	}

	site.Visit(t, "/staff/supporters/"+tess.Id+"/edit", http.StatusOK, "supporter-edit")
	site.Do(t, "type a bad address and name",
		chromedp.SetValue(chromedp.CSS("#f-email"), "not an address"),
		chromedp.SetValue(chromedp.CSS("#f-first_name"), "http://spam.example"),
		chromedp.Submit(chromedp.CSS("#f-email")),
		chromedp.WaitVisible(chromedp.CSS("#f-email-error")),
		chromedp.WaitVisible(chromedp.CSS("#f-first_name-error")))
	site.Check(t, "supporter-edit-errors")
	if text := site.Text(t); !strings.Contains(text, "Nothing was saved") {
		t.Errorf("edit errors:\n%s", text)
	}

	site.Visit(t, "/staff/supporters/"+tess.Id+"/erase", http.StatusOK, "supporter-erase")
	site.Do(t, "type the wrong address",
		chromedp.SendKeys(chromedp.CSS("#f-confirm"), "someone@example.org"),
		chromedp.Submit(chromedp.CSS("#f-confirm")),
		chromedp.WaitVisible(chromedp.CSS("#f-confirm-error")))
	site.Check(t, "supporter-erase-refused")
	site.Do(t, "type the address",
		chromedp.SetValue(chromedp.CSS("#f-confirm"), "tess@example.org"),
		chromedp.Submit(chromedp.CSS("#f-confirm")),
		chromedp.WaitVisible(chromedp.CSS("#timeline-h")))
	site.Check(t, "supporter-erased")
	text = site.Text(t)
	if !strings.Contains(text, "Erased supporter") || strings.Contains(text, "tess@example.org") || strings.Contains(text, "Kirkgate") || strings.Contains(text, "Tess") {
		t.Errorf("after erasure:\n%s", text)
	}
	// The audit page is console-core's, checked by its own tests.
	if got := status(t, site, "/staff/audit"); got != http.StatusOK {
		t.Fatalf("audit page: %d", got)
	}
	if text := site.Text(t); !strings.Contains(text, "supporter.erase") || strings.Contains(text, "tess@example.org") {
		t.Errorf("audit trail after erasure:\n%s", text)
	}
}

// An admin imports in a real browser: a file that isn't UTF-8 is refused
// whole with a message saying how to fix it; a good file's progress shows,
// then turns into its report without a reload; then the export and giving
// pages, and the audit rows of the import and an export.
func TestBrowserImportExportGiving(t *testing.T) {
	site, _ := supportersSite(t)
	site.Login(t, site.Admin)
	// Import: refused whole when not UTF-8; otherwise progress, then the report.
	dir := t.TempDir()
	latin1 := filepath.Join(dir, "excel.csv")
	good := filepath.Join(dir, "supporters.csv")
	if err := os.WriteFile(latin1, []byte("email,first_name\nrene@example.org,Ren\xe9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(rowsFile(8000)+"not-an-address,Bad,newsletter,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	site.Visit(t, "/staff/import", http.StatusOK, "import")
	site.Do(t, "upload a Windows-1252 file",
		chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{latin1}),
		chromedp.Submit(chromedp.CSS("#f-file")),
		chromedp.WaitVisible(chromedp.CSS("#f-file-error")))
	site.Check(t, "import-refused")
	if text := site.Text(t); !strings.Contains(text, "isn't UTF-8") || !strings.Contains(text, "nothing was changed") {
		t.Errorf("non-UTF-8 import:\n%s", text)
	}
	site.Do(t, "upload a supporter file",
		chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{good}),
		chromedp.Submit(chromedp.CSS("#f-file")),
		chromedp.WaitVisible(chromedp.CSS("#job")))
	if seen, err := chromedp.Run(site.Ctx, chromedp.Evaluate[bool](`!!document.getElementById("job-progress")`)); err != nil || !seen {
		t.Errorf("no progress shown while importing (%v):\n%s", err, site.Text(t))
	} else {
		site.Check(t, "import-progress")
	}
	waitText(t, site, "import report", "Import finished") // htmx swaps it in, no reload
	site.Check(t, "import-report")
	text := site.Text(t)
	for _, want := range []string{"8,001 rows read", "8,000 created", "1 with errors", "8002"} {
		if !strings.Contains(text, want) {
			t.Errorf("import report lacks %q:\n%s", want, text)
		}
	}

	site.Visit(t, "/staff/exports", http.StatusOK, "exports")
	if got, body := post(t, site, "/staff/exports/supporters", "status=subscribed&topic=events"); got != http.StatusOK || !strings.Contains(body, "email,first_name") {
		t.Errorf("export: %s", body)
	}
	for _, p := range []string{"donations", "pledges", "declarations", "claims"} {
		site.Visit(t, "/staff/giving/"+p, http.StatusOK, "giving-"+p)
	}
	if got := status(t, site, "/staff/audit"); got != http.StatusOK {
		t.Fatalf("audit page: %d", got)
	}
	text = site.Text(t)
	for _, want := range []string{"supporters.import", "supporters.export"} {
		if !strings.Contains(text, want) {
			t.Errorf("audit trail lacks %s:\n%s", want, text)
		}
	}
}
