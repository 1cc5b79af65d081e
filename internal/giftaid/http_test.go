package giftaid_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/giftaid"
	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

func supporter(t *testing.T, env *testkit.Env, email, status string) *core.Record {
	t.Helper()
	r := core.NewRecord(testkit.Collection(t, env.App, vocab.Supporters))
	r.Set("email", email)
	r.Set("first_name", "Grace")
	r.Set("last_name", "Hopper")
	r.Set("status", status)
	if err := env.App.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func donate(t *testing.T, env *testkit.Env, sup *core.Record, pence int, method string, on time.Time) *core.Record {
	t.Helper()
	d := core.NewRecord(testkit.Collection(t, env.App, vocab.Donations))
	d.Set("supporter", sup.Id)
	d.Set("amount_pence", pence)
	d.Set("currency", "GBP")
	d.Set("method", method)
	d.Set("donated_on", on)
	if err := env.App.Save(d); err != nil {
		t.Fatal(err)
	}
	return d
}

var hidden = regexp.MustCompile(`name="(token|wording_version)" value="([^"]*)"`)

// formFields fetches the Gift Aid page behind link and returns its hidden fields.
func formFields(t *testing.T, env *testkit.Env, link string) (url.Values, string) {
	t.Helper()
	status, body := env.Do(t, http.MethodGet, strings.TrimPrefix(link, env.URL), "", "")
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", link, status, body)
	}
	v := url.Values{}
	for _, m := range hidden.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("token") == "" || v.Get("wording_version") == "" {
		t.Fatalf("no token or wording version in the form:\n%s", body)
	}
	return v, body
}

func declarations(t *testing.T, env *testkit.Env, sup *core.Record) []*core.Record {
	t.Helper()
	rows, err := env.App.FindRecordsByFilter(vocab.Declarations, "supporter = {:s}", "created", 0, 0, map[string]any{"s": sup.Id})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// A donation from a donor without a declaration sends a thank-you with a
// signed link; the form there rejects bad input without writing anything,
// records a valid declaration with everything HMRC asks for, and cancels it.
func TestThankYouDeclareCancel(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := supporter(t, env, "grace@example.org", vocab.StatusSubscribed)
	donate(t, env, sup, 2500, "card", time.Now())

	mails := env.SMTP.WaitFor(t, "grace@example.org", 1, 10*time.Second)
	m := mails[0]
	if s := m.Header.Get("Subject"); !strings.Contains(s, "Thank you for your donation") {
		t.Fatalf("subject %q", s)
	}
	if !strings.Contains(m.Text, "£25.00") {
		t.Fatalf("thank-you doesn't name the amount:\n%s", m.Text)
	}
	link := env.Link(t, m.Text, "/gift-aid")
	form, page := formFields(t, env, link)
	id, err := charity.Load(env.App)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.UnescapeString(page), giftaid.Wording(id.Name)) {
		t.Fatal("the page doesn't show the declaration wording")
	}

	post := func(v url.Values) (int, string) {
		t.Helper()
		return env.PostForm(t, "/gift-aid", v)
	}
	valid := func() url.Values {
		v := url.Values{"action": {"declare"}, "title": {"Dr"}, "first_name": {"Grace"}, "last_name": {"Hopper"},
			"house": {"7"}, "address": {"Mill Lane\r\nLeeds"}, "postcode": {"ls1 1aa"}, "confirm": {"yes"}}
		v.Set("token", form.Get("token"))
		v.Set("wording_version", form.Get("wording_version"))
		return v
	}

	// Bad input: the form again with messages, the input escaped, nothing stored.
	for name, edit := range map[string]func(url.Values){
		"missing postcode": func(v url.Values) { v.Del("postcode") },
		"bad postcode":     func(v url.Values) { v.Set("postcode", "NOT A CODE") },
		"not confirmed":    func(v url.Values) { v.Del("confirm") },
		"stale wording":    func(v url.Values) { v.Set("wording_version", "000000000000") },
	} {
		v := valid()
		v.Set("last_name", `<script>alert(1)</script>`)
		edit(v)
		status, body := post(v)
		if status != http.StatusBadRequest {
			t.Fatalf("%s: status %d", name, status)
		}
		if strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;alert(1)") {
			t.Fatalf("%s: the name isn't escaped in the form:\n%s", name, body)
		}
		if !strings.Contains(body, `class="field-error"`) {
			t.Fatalf("%s: no error message:\n%s", name, body)
		}
		if n := len(declarations(t, env, sup)); n != 0 {
			t.Fatalf("%s: %d declarations stored", name, n)
		}
	}
	status, body := post(url.Values{"action": {"declare"}, "token": {"tampered." + form.Get("token")}})
	if status != http.StatusBadRequest || !strings.Contains(body, "doesn") {
		t.Fatalf("tampered token = %d", status)
	}
	prefs := url.Values{"action": {"cancel"}, "token": {testkit.Signer(t).Sign(tokens.Preferences, sup.Id, time.Hour)}}
	if status, _ := post(prefs); status != http.StatusBadRequest {
		t.Fatalf("a preferences token on the Gift Aid form = %d", status)
	}

	if status, body := post(valid()); status != http.StatusOK || !strings.Contains(body, "Gift Aid declared") {
		t.Fatalf("valid declaration = %d\n%s", status, body)
	}
	decls := declarations(t, env, sup)
	if len(decls) != 1 {
		t.Fatalf("%d declarations, want 1", len(decls))
	}
	d := decls[0]
	for field, want := range map[string]string{
		"title": "Dr", "first_name": "Grace", "last_name": "Hopper", "house": "7", "address": "Mill Lane\nLeeds",
		"postcode": "LS1 1AA", "method": vocab.DeclaredOnline, "scope": vocab.ScopePastAndFuture,
		"wording": giftaid.Wording(id.Name), "wording_version": charity.WordingVersion(giftaid.Wording(id.Name)), "ip": "127.0.0.1",
	} {
		if got := d.GetString(field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if d.GetString("user_agent") == "" || time.Since(d.GetDateTime("declared_on").Time()) > time.Minute || !d.GetDateTime("cancelled_on").IsZero() {
		t.Errorf("user agent %q, declared %v, cancelled %v", d.GetString("user_agent"), d.GetDateTime("declared_on"), d.GetDateTime("cancelled_on"))
	}

	// Covered now, and thanked this month: the next donation sends no mail.
	donate(t, env, sup, 1000, "direct_debit", time.Now())
	time.Sleep(300 * time.Millisecond)
	if n := len(env.SMTP.To("grace@example.org")); n != 1 {
		t.Fatalf("%d mails after a second donation, want still 1", n)
	}

	// The same page shows the declaration by its postcode's outward part
	// only, and cancels it; the record stays.
	_, page = formFields(t, env, link)
	if !strings.Contains(page, "Cancel my Gift Aid declaration") || !strings.Contains(page, "LS1") {
		t.Fatalf("page doesn't offer cancellation:\n%s", page)
	}
	if strings.Contains(page, "LS1 1AA") || strings.Contains(page, "Mill Lane") {
		t.Fatalf("page shows the stored home address:\n%s", page)
	}
	if status, body := post(url.Values{"action": {"cancel"}, "token": {form.Get("token")}}); status != http.StatusOK || !strings.Contains(body, "Gift Aid cancelled") {
		t.Fatalf("cancel = %d\n%s", status, body)
	}
	decls = declarations(t, env, sup)
	if len(decls) != 1 || decls[0].GetDateTime("cancelled_on").IsZero() {
		t.Fatalf("after cancelling: %d declarations, cancelled_on %v", len(decls), decls[0].GetDateTime("cancelled_on"))
	}
	if status, body := post(url.Values{"action": {"cancel"}, "token": {form.Get("token")}}); status != http.StatusOK || !strings.Contains(body, "Nothing to cancel") {
		t.Fatalf("second cancel = %d\n%s", status, body)
	}
}

// Only recent gifts of a Gift Aid-able kind, from donors we can reach,
// invite a declaration, and a donor is invited at most once a month.
func TestWhenThankYouIsSent(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	cases := []struct {
		email, status, method string
		ago                   time.Duration
		want                  int
	}{
		{"recent@example.org", vocab.StatusSubscribed, "card", 0, 1},
		{"pending@example.org", vocab.StatusPending, "cheque", 48 * time.Hour, 1},
		{"unsubscribed@example.org", vocab.StatusUnsubscribed, "bank_transfer", 0, 1},
		{"other@example.org", vocab.StatusSubscribed, "other", 0, 0},
		{"old@example.org", vocab.StatusSubscribed, "card", 60 * 24 * time.Hour, 0},
		{"complained@example.org", vocab.StatusComplained, "card", 0, 0},
		{"bounced@example.org", vocab.StatusBounced, "card", 0, 0},
	}
	for _, c := range cases {
		donate(t, env, supporter(t, env, c.email, c.status), 500, c.method, time.Now().Add(-c.ago))
	}
	// A donor with a declaration in force is thanked without being asked
	// again (checked below); one whose declaration was cancelled, or covers
	// one gift only, is asked.
	for email, decl := range map[string]struct {
		scope     string
		cancelled bool
		want      int
	}{
		"declared@example.org":  {vocab.ScopePastAndFuture, false, 1},
		"cancelled@example.org": {vocab.ScopePastAndFuture, true, 1},
		"onegift@example.org":   {vocab.ScopeThisDonation, false, 1},
	} {
		sup := supporter(t, env, email, vocab.StatusSubscribed)
		d := core.NewRecord(testkit.Collection(t, env.App, vocab.Declarations))
		d.Load(map[string]any{"supporter": sup.Id, "first_name": "Ann", "last_name": "Other", "house": "1", "address": "High St",
			"postcode": "LS1 1AA", "declared_on": time.Now().AddDate(-1, 0, 0), "scope": decl.scope, "method": vocab.DeclaredWritten})
		if decl.cancelled {
			d.Set("cancelled_on", time.Now().AddDate(0, -1, 0))
		}
		if err := env.App.Save(d); err != nil {
			t.Fatal(err)
		}
		donate(t, env, sup, 500, "card", time.Now())
		cases = append(cases, struct {
			email, status, method string
			ago                   time.Duration
			want                  int
		}{email: email, want: decl.want})
	}
	weekly := supporter(t, env, "weekly@example.org", vocab.StatusSubscribed)
	for range 3 {
		donate(t, env, weekly, 250, "standing_order", time.Now())
	}
	cases = append(cases, struct {
		email, status, method string
		ago                   time.Duration
		want                  int
	}{email: "weekly@example.org", want: 1})
	env.SMTP.WaitFor(t, "weekly@example.org", 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	for _, m := range env.SMTP.To("declared@example.org") {
		if strings.Contains(m.Text, "/gift-aid") || !strings.Contains(m.Text, "Thank you too for your Gift Aid declaration") {
			t.Errorf("the thank-you to a declared donor asks for Gift Aid again:\n%s", m.Text)
		}
	}
	for _, m := range env.SMTP.To("cancelled@example.org") {
		if !strings.Contains(m.Text, "/gift-aid?token=") {
			t.Errorf("the thank-you to a donor without a declaration has no Gift Aid link:\n%s", m.Text)
		}
	}
	for _, c := range cases {
		if got := env.Count(t, vocab.Outbox, "to = '"+c.email+"' && kind = 'thank_you'"); got != c.want {
			t.Errorf("%s: %d thank-you emails queued, want %d", c.email, got, c.want)
		}
		if got := len(env.SMTP.To(c.email)); got != c.want {
			t.Errorf("%s: %d mails received, want %d", c.email, got, c.want)
		}
	}
}

// Admins enter written and oral declarations in the dashboard: an oral one
// needs the date its written confirmation was sent; postcodes are checked
// and stored in HMRC's form; the wording is recorded with its fingerprint.
func TestAdminDeclarations(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := supporter(t, env, "phone@example.org", vocab.StatusSubscribed)
	token := testkit.Login(t, env, vocab.RoleAdmin)
	create := func(body string) (int, string) {
		t.Helper()
		return env.Call(t, token, http.MethodPost, "/api/collections/"+vocab.Declarations+"/records", body)
	}
	base := `"supporter":"` + sup.Id + `","first_name":"Alan","last_name":"Turing","house":"2","address":"Wilmslow","declared_on":"2026-03-01 10:00:00.000Z","scope":"past_and_future"`
	if status, body := create(`{` + base + `,"postcode":"sk9 5aq","method":"oral"}`); status != http.StatusBadRequest || !strings.Contains(body, "confirmation_sent_on") {
		t.Fatalf("oral without confirmation = %d %s", status, body)
	}
	if status, body := create(`{` + base + `,"postcode":"nowhere","method":"written"}`); status != http.StatusBadRequest || !strings.Contains(body, "postcode") {
		t.Fatalf("bad postcode = %d %s", status, body)
	}
	if n := len(declarations(t, env, sup)); n != 0 {
		t.Fatalf("refused declarations stored: %d", n)
	}
	if status, body := create(`{` + base + `,"postcode":"sk9 5aq","method":"oral","confirmation_sent_on":"2026-03-02 09:00:00.000Z"}`); status != http.StatusOK {
		t.Fatalf("oral with confirmation = %d %s", status, body)
	}
	if status, body := create(`{` + base + `,"postcode":"SK95AQ","method":"written","wording":"Paper form v3: I want to Gift Aid…"}`); status != http.StatusOK {
		t.Fatalf("written = %d %s", status, body)
	}
	decls := declarations(t, env, sup)
	if len(decls) != 2 {
		t.Fatalf("%d declarations", len(decls))
	}
	id, _ := charity.Load(env.App)
	if d := decls[0]; d.GetString("postcode") != "SK9 5AQ" || d.GetString("wording") != giftaid.Wording(id.Name) || d.GetString("wording_version") != charity.WordingVersion(giftaid.Wording(id.Name)) {
		t.Errorf("oral: postcode %q wording %q version %q", d.GetString("postcode"), d.GetString("wording"), d.GetString("wording_version"))
	}
	if d := decls[1]; d.GetString("wording_version") != charity.WordingVersion("Paper form v3: I want to Gift Aid…") {
		t.Errorf("written: version %q", d.GetString("wording_version"))
	}

	// A cancellation is kept: it can't be undone.
	d := decls[0]
	d.Set("cancelled_on", time.Now())
	if err := env.App.Save(d); err != nil {
		t.Fatal(err)
	}
	d, _ = env.App.FindRecordById(vocab.Declarations, d.Id)
	d.Set("cancelled_on", "")
	if err := env.App.Save(d); err == nil {
		t.Fatal("a cancellation was undone")
	}
}
