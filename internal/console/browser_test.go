package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"supportercrm/internal/console"
	"supportercrm/internal/testkit"
)

// The console in a real browser against the real binary: each role signs
// in with the emailed code, every core page passes axe-core at desktop and
// phone width (screenshots in $CRM_TEST_OUTPUT/console/<test>/), comms staff
// get the 403 page on admin pages, and a signed-out browser gets only the
// sign-in page. The data dir keeps the shipped example identity, so the
// home page shows the first-run checklist and the log says once that
// campaigns can't be scheduled.
func TestBrowserConsoleCore(t *testing.T) {
	site := testkit.ConsoleBrowser(t, testkit.ConsoleOptions{SampleIdentity: true})
	if n := site.Logged(t, console.SampleIdentityMessage); n != 1 {
		t.Errorf("the log says %d times that the identity is the example, want once", n)
	}

	site.Visit(t, "/staff/", http.StatusOK, "login") // redirected to the sign-in page
	if !strings.Contains(site.Text(t), "Sign in") {
		t.Fatalf("anonymous visitor did not get the sign-in page:\n%s", site.Text(t))
	}
	if a, err := chromedp.RunResponse(site.Ctx, chromedp.Navigate(site.URL+"/staff/staff")); err != nil || a.Status != http.StatusOK {
		t.Fatalf("anonymous visit to the staff page: %v", err)
	}
	if text := site.Text(t); strings.Contains(text, site.Admin.Email) || !strings.Contains(text, "Sign in") {
		t.Fatalf("anonymous visitor saw the staff page:\n%s", text)
	}

	// The admin signs in by hand, to check the code page on the way.
	site.Do(t, "password step",
		chromedp.SendKeys(chromedp.CSS("#f-email"), site.Admin.Email),
		chromedp.SendKeys(chromedp.CSS("#f-password"), site.Admin.Password),
		chromedp.Submit(chromedp.CSS("#f-password")),
		chromedp.WaitVisible(chromedp.CSS("#f-code")))
	site.Check(t, "code")
	site.Do(t, "wrong code", chromedp.SendKeys(chromedp.CSS("#f-code"), "12345678"), chromedp.Submit(chromedp.CSS("#f-code")), chromedp.WaitVisible(chromedp.CSS(".error")))
	if !strings.Contains(site.Text(t), "isn't right") {
		t.Errorf("a wrong code gets no message:\n%s", site.Text(t))
	}
	code := site.Code(t, site.Admin.Email, 1)
	site.Do(t, "code step",
		chromedp.SendKeys(chromedp.CSS("#f-code"), code),
		chromedp.Submit(chromedp.CSS("#f-code")),
		chromedp.WaitVisible(chromedp.CSS(".signout")))
	// After sign-in the browser lands where it first asked to go.
	if loc, err := chromedp.Run(site.Ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/staff/staff") {
		t.Errorf("after sign-in the browser is at %q, want /staff/staff", loc)
	}

	site.Visit(t, "/staff/", http.StatusOK, "home-admin")
	if text := site.Text(t); !strings.Contains(text, "To do: Set the charity's identity") {
		t.Errorf("home lacks the first-run checklist:\n%s", text)
	}
	site.Do(t, "the chart is drawn", chromedp.WaitVisible(chromedp.CSS(".chart canvas")))
	site.Visit(t, "/staff/staff", http.StatusOK, "staff")
	if !strings.Contains(site.Text(t), site.Comms.Email) {
		t.Fatalf("the staff page does not list the comms account:\n%s", site.Text(t))
	}
	site.Do(t, "invite someone",
		chromedp.SendKeys(chromedp.CSS("#f-email"), "new.colleague@example.org"),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "New Colleague"),
		chromedp.Click(chromedp.CSS(`form[action="/staff/staff/invite"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	site.Visit(t, "/staff/topics", http.StatusOK, "topics")
	site.Visit(t, "/staff/audit", http.StatusOK, "audit")
	if text := site.Text(t); !strings.Contains(text, "staff.invite") || !strings.Contains(text, "staff.sign_in") {
		t.Errorf("the audit page lacks the invitation and the sign-in:\n%s", text)
	}
	site.Visit(t, "/staff/deliverability", http.StatusOK, "deliverability")
	site.Logout(t)

	// The invitation, opened in the same (now signed-out) browser.
	mail := site.SMTP.WaitFor(t, "new.colleague@example.org", 1, 20*time.Second)[0]
	i := strings.Index(mail.Text, site.URL+"/staff/invite?token=")
	if i < 0 {
		t.Fatalf("no invitation link in:\n%s", mail.Text)
	}
	link := strings.Fields(mail.Text[i:])[0]
	site.Visit(t, strings.TrimPrefix(link, site.URL), http.StatusOK, "invite")

	site.Login(t, site.Comms)
	site.Visit(t, "/staff/", http.StatusOK, "home-comms")
	site.Visit(t, "/staff/staff", http.StatusForbidden, "forbidden")
	if !strings.Contains(site.Text(t), "Not allowed") {
		t.Fatalf("comms did not get the 403 page:\n%s", site.Text(t))
	}
	site.Visit(t, "/staff/nowhere", http.StatusNotFound, "not-found")
}
