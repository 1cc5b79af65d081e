package pb_hooks_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/giving"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// donor makes a supporter with a Gift Aid declaration for past and future gifts.
func donor(t *testing.T, app core.App, email string) *core.Record {
	t.Helper()
	sup := core.NewRecord(testkit.Collection(t, app, vocab.Supporters))
	sup.Set("email", email)
	sup.Set("first_name", "Ann")
	sup.Set("status", vocab.StatusSubscribed)
	if err := app.Save(sup); err != nil {
		t.Fatal(err)
	}
	d := core.NewRecord(testkit.Collection(t, app, vocab.Declarations))
	d.Load(map[string]any{
		"supporter": sup.Id, "first_name": "Ann", "last_name": "Lee", "house": "7", "address": "7 Mill Lane, Leeds",
		"postcode": "LS1 1AA", "declared_on": "2026-01-01 00:00:00.000Z", "scope": vocab.ScopePastAndFuture, "method": vocab.DeclaredWritten,
	})
	if err := app.Save(d); err != nil {
		t.Fatal(err)
	}
	return sup
}

const donationsCSV = "Transaction ID,Date,Amount,Email Address,Gift Aid\r\n" +
	"tx-1,02/03/2026,£12.50,ann@example.org,yes\r\n" +
	"tx-2,2026-03-03,5.00,nobody@example.org,yes\r\n"

func summary(t *testing.T, body string) giving.Summary {
	t.Helper()
	var s giving.Summary
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return s
}

// Only admins import donations and export claims: anonymous callers get
// 401, comms staff 403 (and mark nothing), admin staff and superusers in.
func TestGivingRoutesAccess(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	donor(t, env.App, "ann@example.org")
	for _, c := range []struct {
		role string
		want int
	}{{"", 401}, {vocab.RoleComms, 403}, {vocab.RoleAdmin, 200}, {"superuser", 200}} {
		token := ""
		if c.role != "" {
			token = testkit.Login(t, env, c.role)
		}
		a := env.Request(t, token, http.MethodPost, "/api/crm/import/donations?provider=stripe", "text/csv", strings.NewReader(donationsCSV))
		if a.Status != c.want {
			t.Errorf("%q import = %d %s", c.role, a.Status, a.Body)
		}
		a = env.Request(t, token, http.MethodPost, "/api/crm/gift-aid/claims", "application/json", strings.NewReader(`{"claim":"C-`+c.role+`"}`))
		if a.Status != c.want {
			t.Errorf("%q export = %d %s", c.role, a.Status, a.Body)
		}
		if c.want == 200 && (!strings.HasPrefix(a.Header.Get("Content-Disposition"), `attachment; filename="gift-aid-claim-C-`) ||
			!strings.HasPrefix(a.Header.Get("Content-Type"), "text/csv")) {
			t.Errorf("%q export headers %v", c.role, a.Header)
		}
		if c.want != 200 && strings.Contains(a.Body, "Postcode") {
			t.Errorf("%q got the claim file", c.role)
		}
	}
	// The admin's import created the donation and the admin's claim took
	// it; the superuser's import skipped it and their claim was empty.
	if n := env.Count(t, vocab.Donations, "gift_aid_claim = 'C-admin'"); n != 1 {
		t.Fatalf("%d donations in the admin's claim", n)
	}
	if n := env.Count(t, vocab.Donations, "gift_aid_claim != 'C-admin'"); n != 0 {
		t.Fatalf("%d donations in other claims or none", n)
	}
}

// The import route takes a multipart upload (provider as a field) or a raw
// CSV body, answers the summary, and refuses a file that isn't UTF-8
// without writing anything. The claim route marks, repeats the same claim
// for the same reference, and refuses a bad reference.
func TestGivingRoutes(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	donor(t, env.App, "ann@example.org")
	admin := testkit.Login(t, env, vocab.RoleAdmin)

	a := env.Request(t, admin, http.MethodPost, "/api/crm/import/donations", "text/csv",
		strings.NewReader("email,amount,date,reference\r\nann@example.org,5.00,2026-01-02,r1\r\nann@example.org,6.00,2026-01-03,caf\xe9\r\n"))
	if a.Status != http.StatusBadRequest || !strings.Contains(a.Body, "UTF-8") || !strings.Contains(strings.ToLower(a.Body), "line 3") {
		t.Fatalf("latin-1 file = %d %s", a.Status, a.Body)
	}
	a = env.Request(t, admin, http.MethodPost, "/api/crm/import/donations", "text/csv", strings.NewReader(donationsCSV))
	if a.Status != http.StatusBadRequest || !strings.Contains(a.Body, "provider") {
		t.Fatalf("no provider = %d %s", a.Status, a.Body)
	}
	if n := env.Count(t, vocab.Donations, ""); n != 0 {
		t.Fatalf("%d donations after refused files", n)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "stripe.csv")
	io.WriteString(fw, "\ufeff"+donationsCSV)
	mw.WriteField("provider", "Stripe")
	mw.Close()
	a = env.Request(t, admin, http.MethodPost, "/api/crm/import/donations", mw.FormDataContentType(), &body)
	if a.Status != http.StatusOK {
		t.Fatalf("multipart import = %d %s", a.Status, a.Body)
	}
	s := summary(t, a.Body)
	if s.Created != 1 || s.Skipped != 0 || s.Failed != 1 || s.Errors[0].Line != 3 || !strings.Contains(s.Errors[0].Reason, "import supporters first") {
		t.Fatalf("summary %+v", s)
	}
	a = env.Request(t, admin, http.MethodPost, "/api/crm/import/donations?provider=stripe", "text/csv", strings.NewReader(donationsCSV))
	if s := summary(t, a.Body); a.Status != http.StatusOK || s.Created != 0 || s.Skipped != 1 || s.Failed != 1 {
		t.Fatalf("again = %d %s", a.Status, a.Body)
	}

	for _, body := range []string{`{"claim":"no spaces"}`, `{}`, `{"claim":7}`, `not json`} {
		a = env.Request(t, admin, http.MethodPost, "/api/crm/gift-aid/claims", "application/json", strings.NewReader(body))
		if a.Status != http.StatusBadRequest || !strings.Contains(a.Body, "claim") {
			t.Fatalf("claim %s = %d %s", body, a.Status, a.Body)
		}
	}
	if a = env.Request(t, admin, http.MethodGet, "/api/crm/export/gift-aid.csv?claim=no%20spaces", "", nil); a.Status != http.StatusBadRequest {
		t.Fatalf("bad claim reference = %d %s", a.Status, a.Body)
	}
	preview := env.Request(t, admin, http.MethodGet, "/api/crm/export/gift-aid.csv", "", nil)
	if preview.Status != 200 || !strings.Contains(preview.Body, "\r\n,Ann,Lee,7,LS1 1AA,,,02/03/26,12.50,") {
		t.Fatalf("preview = %d %q", preview.Status, preview.Body)
	}
	first := claim(t, env, admin, "2026-11")
	if first.Status != 200 || first.Header.Get("X-Claim-Marked") != "1" || first.Header.Get("X-Claim-Existing") != "false" || first.Body != preview.Body ||
		!strings.HasPrefix(first.Header.Get("Content-Disposition"), `attachment; filename="gift-aid-claim-2026-11-`) {
		t.Fatalf("claim = %d %v %q", first.Status, first.Header, first.Body)
	}
	if rest := env.Request(t, admin, http.MethodGet, "/api/crm/export/gift-aid.csv", "", nil); strings.Count(rest.Body, "\r\n") != 1 {
		t.Fatalf("after the claim the preview still lists: %q", rest.Body)
	}
	if again := env.Request(t, admin, http.MethodGet, "/api/crm/export/gift-aid.csv?claim=2026-11", "", nil); again.Status != 200 || again.Body != first.Body {
		t.Fatalf("the claim exported again = %d %q", again.Status, again.Body)
	}
}

// claim makes (or repeats) the Gift Aid claim ref through the API.
func claim(t *testing.T, env *testkit.Env, token, ref string) testkit.Answer {
	t.Helper()
	return env.Request(t, token, http.MethodPost, "/api/crm/gift-aid/claims", "application/json", strings.NewReader(`{"claim":"`+ref+`"}`))
}

// Only a POST marks a claim. A GET, with any claim reference, changes
// nothing: one never made is 404. The POST is idempotent: made again, the
// claim adds nothing and gives the same file. It takes the admin's token
// from the Authorization header only, so a cross-site form, or a request
// carrying the token in a cookie, is refused and changes nothing.
func TestGiftAidClaimOnlyByPost(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := donor(t, env.App, "ann@example.org")
	admin := testkit.Login(t, env, vocab.RoleAdmin)
	if a := env.Request(t, admin, http.MethodPost, "/api/crm/import/donations?provider=stripe", "text/csv", strings.NewReader(donationsCSV)); a.Status != 200 {
		t.Fatalf("import = %d %s", a.Status, a.Body)
	}
	dump := func() string { return testkit.Dump(t, env.App, vocab.Donations, vocab.Declarations) }

	before := dump()
	a := env.Request(t, admin, http.MethodGet, "/api/crm/export/gift-aid.csv?claim=2026-11", "", nil)
	if a.Status != http.StatusNotFound || !strings.Contains(a.Body, "POST /api/crm/gift-aid/claims") {
		t.Errorf("GET of a claim never made = %d %s", a.Status, a.Body)
	}
	if after := dump(); after != before {
		t.Fatalf("a GET with claim= changed the data:\nbefore %s\nafter  %s", before, after)
	}

	for _, r := range []func() testkit.Answer{
		func() testkit.Answer {
			return env.Request(t, "", http.MethodPost, "/api/crm/gift-aid/claims", "application/x-www-form-urlencoded", strings.NewReader("claim=2026-11"))
		},
		func() testkit.Answer {
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/api/crm/gift-aid/claims", strings.NewReader(`{"claim":"2026-11"}`))
			req.Header.Set("Content-Type", "application/json")
			req.AddCookie(&http.Cookie{Name: "pb_auth", Value: admin})
			res, err := testkit.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return testkit.Answer{Status: res.StatusCode}
		},
		func() testkit.Answer {
			return env.Request(t, admin, http.MethodPost, "/api/crm/gift-aid/claims", "application/x-www-form-urlencoded", strings.NewReader("claim=2026-11"))
		},
	} {
		if a := r(); a.Status != http.StatusUnauthorized && a.Status != http.StatusBadRequest {
			t.Errorf("forged or form claim = %d %s", a.Status, a.Body)
		}
	}
	if after := dump(); after != before {
		t.Fatalf("a refused claim changed the data")
	}

	first := claim(t, env, admin, "2026-11")
	if first.Status != 200 || first.Header.Get("X-Claim-Marked") != "1" {
		t.Fatalf("claim = %d %v %s", first.Status, first.Header, first.Body)
	}
	if n := env.Count(t, vocab.Donations, "gift_aid_claim = '2026-11' && supporter = '"+sup.Id+"'"); n != 1 {
		t.Fatalf("%d donations marked", n)
	}
	marked := dump()
	again := claim(t, env, admin, "2026-11")
	if again.Status != 200 || again.Header.Get("X-Claim-Marked") != "0" || again.Header.Get("X-Claim-Existing") != "true" || again.Body != first.Body {
		t.Fatalf("the same claim again = %d %v %q", again.Status, again.Header, again.Body)
	}
	if get := env.Request(t, admin, http.MethodGet, "/api/crm/export/gift-aid.csv?claim=2026-11", "", nil); get.Status != 200 || get.Body != first.Body {
		t.Fatalf("GET of the claim = %d %q", get.Status, get.Body)
	}
	if after := dump(); after != marked {
		t.Fatalf("repeating the claim, or exporting it, changed the data")
	}
}

// `import donations` and `export gift-aid` on the app's binary.
func TestGivingCommands(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	donor(t, env.App, "ann@example.org")
	dir := t.TempDir()
	in := filepath.Join(dir, "donations.csv")
	if err := os.WriteFile(in, []byte(donationsCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, error) { return testkit.RunCommand(t, env.App, args...) }
	out, _, err := run("import", "donations", in, "--provider", "stripe")
	if err != nil || !strings.Contains(out, "created 1, skipped 0 (imported before), errors 1") || !strings.Contains(out, "line 3: no supporter has the address nobody@example.org") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if out, _, err = run("import", "donations", in, "--provider", "stripe"); err != nil || !strings.Contains(out, "created 0, skipped 1") {
		t.Fatalf("import again: %v\n%s", err, out)
	}
	if _, _, err = run("import", "donations", in); err == nil || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("import without a provider: %v", err)
	}

	if _, _, err = run("export", "gift-aid", "--claim", "2026-11"); err == nil || !strings.Contains(err.Error(), "claim gift-aid 2026-11") {
		t.Fatalf("export of a claim never made: %v", err)
	}
	if n := env.Count(t, vocab.Donations, "gift_aid_claim != ''"); n != 0 {
		t.Fatalf("export marked %d donations", n)
	}
	file := filepath.Join(dir, "claim.csv")
	_, msg, err := run("claim", "gift-aid", "2026-11", "-o", file)
	if err != nil || !strings.Contains(msg, "Claim 2026-11: 1 donations marked") || !strings.Contains(msg, "Total £12.50 in 1 donations") {
		t.Fatalf("claim: %v\n%s", err, msg)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("claim file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), ",Ann,Lee,7,LS1 1AA,,,02/03/26,12.50,") {
		t.Fatalf("claim file:\n%s", b)
	}
	out, msg, err = run("export", "gift-aid")
	if err != nil || !strings.Contains(msg, "Preview") || strings.Count(out, "\r\n") != 1 {
		t.Fatalf("preview after the claim: %v\n%s\n%q", err, msg, out)
	}
	out, msg, err = run("claim", "gift-aid", "2026-11")
	if err != nil || !strings.Contains(msg, "made before") || out != string(b) {
		t.Fatalf("the claim again: %v\n%s\n%q", err, msg, out)
	}
	if out, _, err = run("export", "gift-aid", "--claim", "2026-11"); err != nil || out != string(b) {
		t.Fatalf("export of the claim: %v\n%q", err, out)
	}
	if _, _, err = run("claim", "gift-aid", "a b"); err == nil {
		t.Fatal("a bad claim reference was taken")
	}
}
