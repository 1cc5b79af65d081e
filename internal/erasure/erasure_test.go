package erasure_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/erasure"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// subscribe signs email up and confirms it, as a supporter would.
func subscribe(t *testing.T, env *testkit.Env, email string) *core.Record {
	t.Helper()
	status, body := env.PostJSON(t, "/api/subscribe", `{"email":"`+email+`","first_name":"Ada","last_name":"Lovelace","topics":["newsletter"],"consent":true}`)
	if status != http.StatusAccepted {
		t.Fatalf("signup = %d %s", status, body)
	}
	link := env.Link(t, env.SMTP.WaitFor(t, email, 1, 10*time.Second)[0].Text, "/confirm")
	if status, _ := env.Do(t, http.MethodGet, strings.TrimPrefix(link, env.URL), "", ""); status != http.StatusOK {
		t.Fatalf("confirm = %d", status)
	}
	env.SMTP.WaitFor(t, email, 2, 10*time.Second) // the welcome
	sup, err := env.App.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err != nil {
		t.Fatal(err)
	}
	return sup
}

func reload(t *testing.T, env *testkit.Env, r *core.Record) *core.Record {
	t.Helper()
	fresh, err := env.App.FindRecordById(r.Collection(), r.Id)
	if err != nil {
		t.Fatal(err)
	}
	return fresh
}

// Erasure through the admin route: personal data gone from the supporter
// and every row about them, evidence kept, the address suppressed. A second
// call changes nothing. Signing up again afterwards answers exactly as for
// a new address and mails nothing.
func TestEraseThenSignUpAgain(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	const email = "ada@example.org"
	sup := subscribe(t, env, email)
	sup.Set("address", "12 Mill Lane, Leeds")
	sup.Set("postcode", "LS1 1AA")
	sup.Set("notes", "Met at the sleep-out; prefers phone")
	sup.Set("tags", []string{"volunteer"})
	if err := env.App.Save(sup); err != nil {
		t.Fatal(err)
	}
	// Her confirmation (the welcome is a journey send, which holds no
	// address), a campaign she received, a donation (with its thank-you), a Gift Aid
	// declaration never claimed on, and a message still waiting to go.
	testkit.DueCampaign(t, env.App, "Spring news", "Hello {{.FirstName}}")
	env.SMTP.WaitFor(t, email, 3, 10*time.Second)
	// The engine records results in batches, just after the mail arrives.
	testkit.Eventually(t, 10*time.Second, func() bool {
		return env.Count(t, vocab.Deliveries, "supporter = '"+sup.Id+"' && status = 'sent'") == 1
	})
	donation := core.NewRecord(testkit.Collection(t, env.App, vocab.Donations))
	donation.Load(map[string]any{"supporter": sup.Id, "amount_pence": 2000, "currency": "GBP", "method": "card", "donated_on": time.Now(), "gift_aid_eligible": true, "notes": "Gave in memory of her aunt"})
	if err := env.App.Save(donation); err != nil {
		t.Fatal(err)
	}
	env.SMTP.WaitFor(t, email, 4, 10*time.Second)
	decl := core.NewRecord(testkit.Collection(t, env.App, vocab.Declarations))
	decl.Load(map[string]any{"supporter": sup.Id, "first_name": "Ada", "last_name": "Lovelace", "house": "12", "address": "Mill Lane, Leeds",
		"postcode": "LS1 1AA", "declared_on": time.Now(), "scope": vocab.ScopePastAndFuture, "method": vocab.DeclaredOnline})
	if err := env.App.Save(decl); err != nil {
		t.Fatal(err)
	}
	waiting := core.NewRecord(testkit.Collection(t, env.App, vocab.Outbox))
	waiting.Load(map[string]any{"to": email, "to_name": "Ada Lovelace", "supporter": sup.Id, "kind": vocab.KindWelcome, "subject": "Welcome, Ada",
		"html": "<p>Hello Ada</p>", "text": "Hello Ada", "status": vocab.OutboxQueued, "next_attempt_at": time.Now().Add(time.Hour)})
	if err := env.App.Save(waiting); err != nil {
		t.Fatal(err)
	}
	mailsBefore := len(env.SMTP.To(email))

	status, body := env.Call(t, testkit.Login(t, env, vocab.RoleAdmin), http.MethodPost, "/api/crm/supporters/"+sup.Id+"/erase", "")
	if status != http.StatusOK {
		t.Fatalf("erase = %d %s", status, body)
	}
	var res erasure.Result
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if res.AlreadyErased || res.ConsentsAnonymised != 1 || res.DeliveriesAnonymised != 1 || res.EmailsAnonymised != 3 || res.EmailsCancelled != 1 || res.DeclarationsDeleted != 1 {
		t.Fatalf("result %+v", res)
	}

	sup = reload(t, env, sup)
	for _, f := range []string{"first_name", "last_name", "address", "postcode"} {
		if v := sup.GetString(f); v != "" {
			t.Errorf("supporter %s = %q after erasure", f, v)
		}
	}
	if sup.GetString("email") != erasure.Placeholder(sup.Id) || sup.GetString("status") != vocab.StatusErased ||
		len(sup.GetStringSlice("topics")) != 0 || strings.Contains(sup.GetString("notes"), "sleep-out") || strings.Contains(string(sup.GetString("tags")), "volunteer") {
		t.Errorf("supporter after erasure: %v", sup.FieldsData())
	}
	everything := testkit.Dump(t, env.App, vocab.Consents, vocab.Deliveries, vocab.Outbox, vocab.Donations, vocab.Declarations, vocab.Supporters)
	for _, personal := range []string{email, "Ada", "Lovelace", "Mill Lane", "LS1 1AA", "aunt", "127.0.0.1", "Go-http-client"} {
		if strings.Contains(everything, personal) {
			t.Errorf("%q is still stored after erasure", personal)
		}
	}
	consents, _ := env.App.FindAllRecords(vocab.Consents)
	if len(consents) != 1 || consents[0].GetString("supporter") != sup.Id || consents[0].GetString("action") != vocab.ActionGrant ||
		consents[0].GetString("wording") == "" || consents[0].GetDateTime("confirmed_at").IsZero() {
		t.Errorf("consent evidence not kept: %v", consents)
	}
	if n := env.Count(t, vocab.Deliveries, "supporter = '"+sup.Id+"' && status = 'sent'"); n != 1 {
		t.Errorf("%d sent deliveries kept, want 1", n)
	}
	if w := reload(t, env, waiting); w.GetString("status") != vocab.OutboxCancelled || w.GetString("to") != erasure.Placeholder(sup.Id) {
		t.Errorf("queued mail after erasure: %s to %s", w.GetString("status"), w.GetString("to"))
	}
	if d := reload(t, env, donation); d.GetInt("amount_pence") != 2000 || d.GetBool("gift_aid_eligible") {
		t.Errorf("donation after erasure: %d pence, eligible %v", d.GetInt("amount_pence"), d.GetBool("gift_aid_eligible"))
	}
	if n := env.Count(t, vocab.Suppressions, "email_hash = '"+signup.HashEmail(email)+"' && reason = 'erased'"); n != 1 {
		t.Fatalf("%d suppressions for the erased address", n)
	}

	// Idempotent: a second call succeeds and changes nothing.
	before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Consents, vocab.Outbox, vocab.Suppressions)
	status, body = env.Call(t, testkit.Login(t, env, "superuser"), http.MethodPost, "/api/crm/supporters/"+sup.Id+"/erase", "")
	if status != http.StatusOK || !strings.Contains(body, `"already_erased":true`) {
		t.Fatalf("second erase = %d %s", status, body)
	}
	if after := testkit.Dump(t, env.App, vocab.Supporters, vocab.Consents, vocab.Outbox, vocab.Suppressions); after != before {
		t.Fatal("a second erasure changed the data")
	}

	// Signing up again: the same answer as a new address gets, no mail.
	signupBody := func(addr string) string {
		return `{"email":"` + addr + `","first_name":"Ada","topics":["newsletter"],"consent":true}`
	}
	_, fresh := env.PostJSON(t, "/api/subscribe", signupBody("someone.new@example.org"))
	status, again := env.PostJSON(t, "/api/subscribe", signupBody("  ADA@example.org "))
	if status != http.StatusAccepted || again != fresh {
		t.Fatalf("signup after erasure = %d %s; a new address got %s", status, again, fresh)
	}
	env.SMTP.WaitFor(t, "someone.new@example.org", 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := len(env.SMTP.To(email)); n != mailsBefore {
		t.Errorf("%d mails to the erased address after erasure", n-mailsBefore)
	}
	if n := env.Count(t, vocab.Outbox, "to = '"+email+"'"); n != 0 {
		t.Errorf("%d outbox rows to the erased address", n)
	}
	if n := env.Count(t, vocab.Supporters, "email = '"+email+"'"); n != 0 {
		t.Errorf("the erased address was stored again")
	}
}

// Only admins (staff role admin, superusers) may erase; the others change nothing.
func TestEraseAccess(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := testkit.Subscribers(t, env.App, 1)[0]
	before := testkit.Dump(t, env.App, vocab.Supporters)
	for _, c := range []struct {
		who  string
		auth string
		want int
	}{
		{"anonymous", "", http.StatusUnauthorized},
		{"comms", testkit.Login(t, env, vocab.RoleComms), http.StatusForbidden},
		{"bad token", "Bearer nonsense", http.StatusUnauthorized},
	} {
		if status, body := env.Call(t, c.auth, http.MethodPost, "/api/crm/supporters/"+sup.Id+"/erase", ""); status != c.want {
			t.Errorf("%s: %d %s, want %d", c.who, status, body, c.want)
		}
	}
	if testkit.Dump(t, env.App, vocab.Supporters) != before || env.Count(t, vocab.Suppressions, "") != 0 {
		t.Fatal("a refused erasure changed data")
	}
	if status, _ := env.Call(t, testkit.Login(t, env, vocab.RoleAdmin), http.MethodPost, "/api/crm/supporters/"+"nosuchsupporter"+"/erase", ""); status != http.StatusNotFound {
		t.Errorf("unknown id = %d, want 404", status)
	}
	if status, _ := env.Call(t, testkit.Login(t, env, vocab.RoleAdmin), http.MethodPost, "/api/crm/supporters/"+sup.Id+"/erase", ""); status != http.StatusOK {
		t.Errorf("admin = %d, want 200", status)
	}
}

// Declarations behind a donation claimed in the last 6 years are kept whole
// (HMRC), with the date they may go; older claims don't keep them.
func TestEraseKeepsDeclarationsHMRCNeeds(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	subs := testkit.Subscribers(t, env.App, 2)
	claimed := time.Date(2025, 4, 10, 12, 0, 0, 0, time.UTC)
	for i, donatedOn := range []time.Time{claimed, claimed.AddDate(-7, 0, 0)} {
		sup := subs[i]
		decl := core.NewRecord(testkit.Collection(t, env.App, vocab.Declarations))
		decl.Load(map[string]any{"supporter": sup.Id, "first_name": "Reader", "last_name": "One", "house": "3", "address": "Low St",
			"postcode": "YO1 7HH", "declared_on": donatedOn.AddDate(0, 0, -1), "scope": vocab.ScopePastAndFuture, "method": vocab.DeclaredWritten})
		if err := env.App.Save(decl); err != nil {
			t.Fatal(err)
		}
		d := core.NewRecord(testkit.Collection(t, env.App, vocab.Donations))
		d.Load(map[string]any{"supporter": sup.Id, "amount_pence": 1000, "currency": "GBP", "method": "cheque", "donated_on": donatedOn,
			"gift_aid_eligible": true, "gift_aid_declaration": decl.Id, "gift_aid_claim": "claim-1"})
		if err := env.App.Save(d); err != nil {
			t.Fatal(err)
		}
	}
	x := &erasure.Eraser{App: env.App, Hash: signup.HashEmail, Now: func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }}
	res, err := x.Erase(subs[0].Id)
	if err != nil {
		t.Fatal(err)
	}
	if res.DeclarationsKept != 1 || res.KeptUntil != "2031-04-10" {
		t.Fatalf("recent claim: %+v", res)
	}
	if n := env.Count(t, vocab.Declarations, "supporter = '"+subs[0].Id+"' && postcode = 'YO1 7HH'"); n != 1 {
		t.Fatal("the declaration HMRC needs was not kept whole")
	}
	if note := reload(t, env, subs[0]).GetString("notes"); !strings.Contains(note, "until 2031-04-10") {
		t.Fatalf("supporter note %q doesn't say until when", note)
	}
	res, err = x.Erase(subs[1].Id)
	if err != nil {
		t.Fatal(err)
	}
	if res.DeclarationsDeleted != 1 || res.KeptUntil != "" {
		t.Fatalf("claim over 6 years old: %+v", res)
	}
}

// The CLI erases by address or id, says what it did, and is idempotent.
func TestEraseCommand(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	subs := testkit.Subscribers(t, env.App, 2)
	run := func(arg string) (string, error) {
		cmd := pb_hooks.PrivacyCommand(env.App)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs([]string{"supporter", arg})
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run(" Reader00000@Example.org ")
	if err != nil || !strings.Contains(out, "Erased supporter "+subs[0].Id) {
		t.Fatalf("erase by address: %v\n%s", err, out)
	}
	if s := reload(t, env, subs[0]).GetString("status"); s != vocab.StatusErased {
		t.Fatalf("status %q", s)
	}
	if out, err = run("reader00000@example.org"); err != nil || !strings.Contains(out, "Already erased") {
		t.Fatalf("again by address: %v\n%s", err, out)
	}
	if out, err = run(subs[1].Id); err != nil || !strings.Contains(out, "Erased supporter") {
		t.Fatalf("erase by id: %v\n%s", err, out)
	}
	if out, err = run(subs[1].Id); err != nil || !strings.Contains(out, "Already erased") {
		t.Fatalf("again by id: %v\n%s", err, out)
	}
	if _, err = run("nobody@example.org"); err == nil || !strings.Contains(err.Error(), "no supporter") {
		t.Fatalf("unknown address: %v", err)
	}
}
