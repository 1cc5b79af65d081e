package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"supportercrm/internal/testkit"
)

// The console in a real browser against the real binary: each role signs
// in with the emailed code, every core page passes axe-core at desktop and
// phone width (screenshots in testdata/out/console/), comms staff get the
// 403 page on admin pages, and a signed-out browser gets only the sign-in page.
func TestBrowserConsoleCore(t *testing.T) {
	site := testkit.ConsoleBrowser(t, testkit.ConsoleOptions{})

	site.Visit(t, "/staff/", http.StatusOK, "login") // redirected to the sign-in page
	if !strings.Contains(site.Text(t), "Sign in") {
		t.Fatalf("anonymous visitor did not get the sign-in page:\n%s", site.Text(t))
	}
	site.Visit(t, "/staff/staff", http.StatusOK, "login-next")
	if text := site.Text(t); strings.Contains(text, site.Admin.Email) || !strings.Contains(text, "Sign in") {
		t.Fatalf("anonymous visitor saw the staff page:\n%s", text)
	}

	site.Login(t, site.Admin)
	site.Visit(t, "/staff/", http.StatusOK, "home-admin")
	site.Visit(t, "/staff/staff", http.StatusOK, "staff")
	if !strings.Contains(site.Text(t), site.Comms.Email) {
		t.Fatalf("the staff page does not list the comms account:\n%s", site.Text(t))
	}
	site.Logout(t)

	site.Login(t, site.Comms)
	site.Visit(t, "/staff/", http.StatusOK, "home-comms")
	if strings.Contains(site.Text(t), "Staff\n") {
		t.Errorf("comms menu offers the admin pages:\n%s", site.Text(t))
	}
	site.Visit(t, "/staff/staff", http.StatusForbidden, "forbidden")
	site.Do(t, "read the 403 page", chromedp.WaitVisible(chromedp.CSS("h1")))
	if !strings.Contains(site.Text(t), "Not allowed") {
		t.Fatalf("comms did not get the 403 page:\n%s", site.Text(t))
	}
}
