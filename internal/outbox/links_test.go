package outbox_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/charity"
	"supportercrm/internal/outbox"
	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

const staleOrigin = "http://localhost:8090" // PocketBase's Application URL until an admin sets one

func (h *harness) setAppURL(t *testing.T, url string) {
	t.Helper()
	s := h.env.App.Settings()
	s.Meta.AppURL = url
	if err := h.env.App.Save(s); err != nil {
		t.Fatal(err)
	}
}

// path cuts the app's URL off a link from a message, for the test's client.
func (h *harness) path(t *testing.T, link string) string {
	t.Helper()
	p, ok := strings.CutPrefix(link, h.env.URL)
	if !ok {
		t.Fatalf("link %q is not on the app's URL %s", link, h.env.URL)
	}
	return p
}

// Mail queued before the Application URL is set goes out with links to the
// Application URL as it is when the mail is sent, and mail that belongs to a
// subscription carries a one-click unsubscribe (headers built at send time
// too) that works.
func TestLinksAreBuiltWhenSent(t *testing.T) {
	h := newHarness(t)
	const mailto = "unsubscribe@lanternhouse.test"
	w := h.worker(outbox.Config{UnsubscribeMailto: mailto})
	const email = "grace@example.org"

	// A signup on a fresh install, before anyone has set the Application URL.
	h.setAppURL(t, staleOrigin)
	if status, body := h.env.PostJSON(t, "/api/subscribe", `{"email":"`+email+`","first_name":"Grace","topics":["newsletter"],"consent":true}`); status != http.StatusAccepted {
		t.Fatalf("signup = %d %s", status, body)
	}
	if dump := testkit.Dump(t, h.env.App, vocab.Outbox); !strings.Contains(dump, "/confirm?token=") || strings.Contains(dump, staleOrigin) {
		t.Errorf("the queued confirmation has no link, or one to the origin of the moment (%s)", staleOrigin)
	}

	// The admin sets it; the confirmation, still queued, goes out after that.
	h.setAppURL(t, h.env.URL)
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("RunOnce sent %d, want the confirmation", n)
	}
	confirm := h.sink.To(email)[0]
	checkLinks(t, h.env.URL, confirm)
	if confirm.Header.Get("List-Unsubscribe") != "" || confirm.Header.Get("List-Unsubscribe-Post") != "" {
		t.Errorf("the confirmation carries List-Unsubscribe %q, -Post %q; an address that agreed to nothing has no list to leave",
			confirm.Header.Get("List-Unsubscribe"), confirm.Header.Get("List-Unsubscribe-Post"))
	}
	if status, body := h.env.Do(t, http.MethodGet, h.path(t, h.env.Link(t, confirm.Text, "/confirm")), "", ""); status != http.StatusOK {
		t.Fatalf("confirm link = %d %s", status, body)
	}

	// Such mail (the welcome was, before it became a journey step sent by
	// the campaign engine: internal/journeys) queued while the Application
	// URL is stale again.
	sup, err := h.env.App.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err != nil {
		t.Fatal(err)
	}
	h.setAppURL(t, staleOrigin)
	link := outbox.LinkOrigin + "/unsubscribe?token=" + url.QueryEscape(testkit.Signer(t).Sign(tokens.Unsubscribe, sup.Id, tokens.UnsubscribeTTL))
	h.enqueue(t, outbox.Mail{To: email, SupporterID: sup.Id, Kind: vocab.KindWelcome, Subject: "News you asked for", Unsubscribe: link,
		Text: "Unsubscribe: " + link + "\n", HTML: `<img src="` + outbox.LinkOrigin + charity.EmailLogoPath + `" alt=""><a href="` + link + `">Unsubscribe</a>`})
	h.setAppURL(t, h.env.URL)
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("RunOnce sent %d, want the subscription's mail", n)
	}
	mails := h.sink.To(email)
	if len(mails) != 2 {
		t.Fatalf("%d mails to %s, want the confirmation and the subscription's mail", len(mails), email)
	}
	welcome := mails[1]
	checkLinks(t, h.env.URL, welcome)
	unsub := h.env.Link(t, welcome.Text, "/unsubscribe")
	if got, want := welcome.Header.Get("List-Unsubscribe"), "<"+unsub+">, <mailto:"+mailto+"?subject=unsubscribe>"; got != want {
		t.Errorf("welcome List-Unsubscribe = %q, want %q", got, want)
	}
	if got := welcome.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("welcome List-Unsubscribe-Post = %q", got)
	}

	// A mailbox provider's one-click unsubscribe (RFC 8058) from the header.
	header := strings.TrimPrefix(strings.SplitN(welcome.Header.Get("List-Unsubscribe"), ">", 2)[0], "<")
	if status, body := h.env.Do(t, http.MethodPost, h.path(t, header), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); status != http.StatusOK {
		t.Fatalf("one-click POST = %d %s", status, body)
	}
	if sup, err = h.env.App.FindFirstRecordByData(vocab.Supporters, "email", email); err != nil {
		t.Fatal(err)
	}
	if sup.GetString("status") != vocab.StatusUnsubscribed {
		t.Errorf("after one-click unsubscribe the supporter is %q", sup.GetString("status"))
	}
	if n := h.env.Count(t, vocab.Consents, "supporter = '"+sup.Id+"' && action = 'withdraw' && method = '"+vocab.MethodOneClick+"'"); n != 1 {
		t.Errorf("%d one-click withdrawals recorded, want 1", n)
	}
}

// checkLinks fails unless every link in m (text, HTML, logo, headers) is on
// origin: none on the origin of when it was queued, none left unresolved.
func checkLinks(t *testing.T, origin string, m testkit.Mail) {
	t.Helper()
	raw := string(m.Raw) + m.Text + m.HTML
	for _, bad := range []string{staleOrigin, outbox.LinkOrigin, "application-url.invalid"} {
		if strings.Contains(raw, bad) {
			t.Errorf("%q: a link still points at %s", m.Header.Get("Subject"), bad)
		}
	}
	if !strings.Contains(m.HTML, `src="`+origin+charity.EmailLogoPath+`"`) {
		t.Errorf("%q: the logo is not on %s", m.Header.Get("Subject"), origin)
	}
	if !strings.Contains(m.Text, origin+"/") || !strings.Contains(m.HTML, `href="`+origin+"/") {
		t.Errorf("%q: no link to %s in the text or HTML part", m.Header.Get("Subject"), origin)
	}
}

// The welcome email the running app sends (the campaign engine's sending
// path, through the Welcome journey, wired as in production) carries both
// List-Unsubscribe forms, the mailto from CRM_UNSUBSCRIBE_MAILTO; the
// confirmation (the outbox's) neither.
func TestWelcomeListUnsubscribeWiring(t *testing.T) {
	const mailto = "unsubscribe@lanternhouse.test"
	env := testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) { c.Campaigns.UnsubscribeMailto = mailto }})
	const email = "ivy@example.org"
	if status, body := env.PostJSON(t, "/api/subscribe", `{"email":"`+email+`","first_name":"Ivy","topics":["newsletter"],"consent":true}`); status != http.StatusAccepted {
		t.Fatalf("signup = %d %s", status, body)
	}
	confirm := env.SMTP.WaitFor(t, email, 1, 10*time.Second)[0]
	if confirm.Header.Get("List-Unsubscribe") != "" {
		t.Errorf("confirmation List-Unsubscribe = %q", confirm.Header.Get("List-Unsubscribe"))
	}
	link := strings.TrimPrefix(env.Link(t, confirm.Text, "/confirm"), env.URL)
	if status, body := env.Do(t, http.MethodGet, link, "", ""); status != http.StatusOK {
		t.Fatalf("confirm = %d %s", status, body)
	}
	welcome := env.SMTP.WaitFor(t, email, 2, 10*time.Second)[1]
	want := "<" + env.Link(t, welcome.Text, "/unsubscribe") + ">, <mailto:" + mailto + "?subject=unsubscribe>"
	if got := welcome.Header.Get("List-Unsubscribe"); got != want {
		t.Errorf("welcome List-Unsubscribe = %q, want %q", got, want)
	}
	if got := welcome.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("welcome List-Unsubscribe-Post = %q", got)
	}
}
