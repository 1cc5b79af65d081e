package importer_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/importer"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// upload posts a CSV file to the import route as a multipart form, as the
// dashboard or curl -F would, and decodes the report.
func upload(t *testing.T, env *testkit.Env, token, query string, file []byte) (int, importer.Report, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "supporters.csv")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	a := env.Request(t, token, http.MethodPost, "/api/crm/import/supporters"+query, mw.FormDataContentType(), &body)
	var rep importer.Report
	if a.Status == http.StatusOK {
		if err := json.Unmarshal([]byte(a.Body), &rep); err != nil {
			t.Fatalf("report: %v\n%s", err, a.Body)
		}
	}
	return a.Status, rep, a.Body
}

func supporter(t *testing.T, app core.App, email string) *core.Record {
	t.Helper()
	r, err := app.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err != nil {
		t.Fatalf("%s: %v", email, err)
	}
	return r
}

func topicID(t *testing.T, app core.App, slug string) string {
	t.Helper()
	r, err := app.FindFirstRecordByData(vocab.Topics, "slug", slug)
	if err != nil {
		t.Fatal(err)
	}
	return r.Id
}

// seed makes what the messy file meets: a subscribed supporter, one who
// unsubscribed yesterday, and a suppressed (erased) address.
func seed(t *testing.T, env *testkit.Env) {
	t.Helper()
	col := testkit.Collection(t, env.App, vocab.Supporters)
	for _, s := range []struct{ email, name, status string }{
		{"sub@example.org", "Sam", vocab.StatusSubscribed},
		{"gone@example.org", "Gus", vocab.StatusUnsubscribed},
	} {
		r := core.NewRecord(col)
		r.Set("email", s.email)
		r.Set("first_name", s.name)
		r.Set("status", s.status)
		r.Set("topics", []string{topicID(t, env.App, "newsletter")})
		if s.status == vocab.StatusUnsubscribed {
			r.Set("unsubscribed_at", time.Now().Add(-24*time.Hour))
		}
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	sup := core.NewRecord(testkit.Collection(t, env.App, vocab.Suppressions))
	sup.Set("email_hash", signup.HashEmail("erased@example.org"))
	sup.Set("reason", vocab.SuppressErased)
	if err := env.App.Save(sup); err != nil {
		t.Fatal(err)
	}
}

func TestMessyFileImportsExactlyTheGoodRows(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	seed(t, env)
	file, err := os.ReadFile("testdata/messy.csv")
	if err != nil {
		t.Fatal(err)
	}
	admin := testkit.Login(t, env, "admin")
	status, rep, body := upload(t, env, admin, "", file)
	if status != http.StatusOK {
		t.Fatalf("import = %d %s", status, body)
	}
	if rep.Rows != 15 || rep.Created != 6 || rep.Updated != 1 || rep.Unchanged != 0 || rep.ErrorCount != 5 {
		t.Errorf("rows %d created %d updated %d unchanged %d errors %d; want 15, 6, 1, 0, 5\n%s", rep.Rows, rep.Created, rep.Updated, rep.Unchanged, rep.ErrorCount, body)
	}
	wantSkipped := map[string]int{importer.SkipDuplicate: 1, importer.SkipSuppressed: 1, importer.SkipUnsubscribed: 1}
	for k, v := range wantSkipped {
		if rep.Skipped[k] != v {
			t.Errorf("skipped[%s] = %d, want %d (%v)", k, rep.Skipped[k], v, rep.Skipped)
		}
	}
	var lines []int
	var reasons strings.Builder
	for _, p := range rep.Errors {
		lines = append(lines, p.Line)
		reasons.WriteString(p.Reason + "\n")
	}
	if want := []int{7, 8, 12, 16, 18}; !slices.Equal(lines, want) {
		t.Errorf("error lines = %v, want %v: %v", lines, want, rep.Errors)
	}
	for _, want := range []string{"not-an-email", `unknown topic "knitting"`, "go together", "4 fields", "status subscribed needs"} {
		if !strings.Contains(reasons.String(), want) {
			t.Errorf("the report doesn't explain %q:\n%s", want, reasons.String())
		}
	}
	if len(rep.Ignored) != 1 || rep.Ignored[0] != "Shoe size" {
		t.Errorf("ignored columns = %v", rep.Ignored)
	}
	if len(rep.Warnings) != 2 || rep.Warnings[0].Line != 6 || rep.Warnings[1].Line != 10 {
		t.Errorf("warnings = %v, want lines 6 (duplicate) and 10 (topics without consent)", rep.Warnings)
	}

	// What was stored.
	ann := supporter(t, env.App, "ann@example.org")
	if ann.GetString("status") != vocab.StatusSubscribed || ann.GetString("first_name") != "Ann" || ann.GetString("postcode") != "LS1 1AA" ||
		ann.GetString("address") != "1 High St, Leeds" || len(ann.GetStringSlice("topics")) != 2 || !slices.Equal(ann.GetStringSlice("tags"), []string{"volunteer"}) {
		t.Errorf("ann = %v", ann.PublicExport())
	}
	consent, err := env.App.FindFirstRecordByData(vocab.Consents, "supporter", ann.Id)
	if err != nil {
		t.Fatal(err)
	}
	if consent.GetString("method") != vocab.MethodImport || consent.GetString("evidence") != "paper form at Leeds fair" ||
		consent.GetDateTime("given_at").Time().Format(time.RFC3339) != "2025-05-31T23:00:00Z" || consent.GetString("action") != vocab.ActionGrant {
		t.Errorf("ann's consent = %v", consent.PublicExport())
	}
	if got := supporter(t, env.App, "ivy@example.org").GetDateTime("confirmed_at").Time().Format("2006-01-02"); got != "2019-03-31" {
		t.Errorf("ivy confirmed_at %s, want the consent date 2019-03-31", got)
	}
	for email, want := range map[string]string{"bob@example.org": vocab.StatusPending, "cat@example.org": vocab.StatusPending, "gil@example.org": vocab.StatusPending, "hal@example.org": vocab.StatusUnsubscribed, "gone@example.org": vocab.StatusUnsubscribed} {
		if got := supporter(t, env.App, email).GetString("status"); got != want {
			t.Errorf("%s is %s, want %s", email, got, want)
		}
	}
	if a := supporter(t, env.App, "cat@example.org").GetString("address"); a != "Flat 2\n3 Low Rd" && a != "Flat 2\r\n3 Low Rd" {
		t.Errorf("cat's address %q", a)
	}
	sub := supporter(t, env.App, "sub@example.org")
	if sub.GetString("first_name") != "Sue" || len(sub.GetStringSlice("topics")) != 1 {
		t.Errorf("sub = %v: name updated, topics unchanged without consent evidence", sub.PublicExport())
	}
	if n := env.Count(t, vocab.Supporters, "email = 'erased@example.org' || email = 'dan@example.org' || email = 'kim@example.org'"); n != 0 {
		t.Errorf("%d supporters stored from bad or suppressed rows", n)
	}
	if n := env.Count(t, vocab.Consents, ""); n != 3 { // ann and ivy granted, hal withdrew
		t.Errorf("%d consent rows, want 3", n)
	}
	if n := env.Count(t, vocab.Outbox, ""); n != 0 {
		t.Errorf("%d emails queued without being asked to confirm", n)
	}

	// The same file again changes nothing.
	before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Consents, vocab.Outbox)
	_, again, body := upload(t, env, admin, "", file)
	if again.Created != 0 || again.Updated != 0 || again.Unchanged != 7 || again.ErrorCount != 5 {
		t.Errorf("second run: created %d updated %d unchanged %d errors %d; want 0, 0, 7, 5\n%s", again.Created, again.Updated, again.Unchanged, again.ErrorCount, body)
	}
	if after := testkit.Dump(t, env.App, vocab.Supporters, vocab.Consents, vocab.Outbox); after != before {
		t.Errorf("the second run changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

// Asked to, the import emails pending rows a confirmation link that works,
// once per address however often the file is imported.
func TestConfirmationsOnRequest(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	admin := testkit.Login(t, env, "admin")
	file := []byte("email,first_name,topics\nnew@example.org,Nia,newsletter\nold@example.org,Olu,events;newsletter\n")
	status, rep, body := upload(t, env, admin, "?confirm=true", file)
	if status != http.StatusOK || rep.Created != 2 || rep.Confirmations != 2 {
		t.Fatalf("import = %d %s", status, body)
	}
	mail := env.SMTP.WaitFor(t, "new@example.org", 1, 10*time.Second)[0]
	link := env.Link(t, mail.Text, "/confirm")
	if status, _ := env.Do(t, http.MethodGet, strings.TrimPrefix(link, env.URL), "", ""); status != http.StatusOK {
		t.Fatalf("confirm = %d", status)
	}
	if s := supporter(t, env.App, "new@example.org").GetString("status"); s != vocab.StatusSubscribed {
		t.Fatalf("after confirming, status %s", s)
	}
	_, again, _ := upload(t, env, admin, "?confirm=true", file)
	if again.Confirmations != 0 {
		t.Errorf("the second import sent %d more confirmations", again.Confirmations)
	}
	if n := env.Count(t, vocab.Outbox, "to = 'old@example.org' && kind = 'confirm'"); n != 1 {
		t.Errorf("old@example.org has %d confirmations queued, want 1", n)
	}
}

// An erased address never comes back through an import, and is not mailed.
func TestErasedAddressIsNotReimported(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	admin := testkit.Login(t, env, "admin")
	file := []byte("email,first_name,topics,consent_source,consent_date\nzoe@example.org,Zoe,newsletter,paper form,2025-01-01\n")
	if _, rep, body := upload(t, env, admin, "", file); rep.Created != 1 {
		t.Fatalf("first import: %s", body)
	}
	zoe := supporter(t, env.App, "zoe@example.org")
	if status, body := env.Call(t, admin, http.MethodPost, "/api/crm/supporters/"+zoe.Id+"/erase", ""); status != http.StatusOK {
		t.Fatalf("erase = %d %s", status, body)
	}
	_, rep, body := upload(t, env, admin, "?confirm=true", file)
	if rep.Created != 0 || rep.Skipped[importer.SkipSuppressed] != 1 {
		t.Fatalf("re-import after erasure: %s", body)
	}
	if n := env.Count(t, vocab.Supporters, "email = 'zoe@example.org'"); n != 0 {
		t.Errorf("the erased address is stored again")
	}
	if n := env.Count(t, vocab.Outbox, ""); n != 0 {
		t.Errorf("%d emails queued", n)
	}
}

// A file in Windows-1252 is refused whole, naming the line: nothing stored.
func TestNonUTF8FileChangesNothing(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	admin := testkit.Login(t, env, "admin")
	file := []byte("email,first_name\r\nann@example.org,Ann\r\nren@example.org,Ren\xe9e\r\n")
	status, _, body := upload(t, env, admin, "", file)
	if status != http.StatusBadRequest || !strings.Contains(strings.ToLower(body), "line 3") || !strings.Contains(body, "UTF-8") {
		t.Fatalf("import = %d %s", status, body)
	}
	if n := env.Count(t, vocab.Supporters, ""); n != 0 {
		t.Errorf("%d supporters stored from a refused file", n)
	}
	status, _, body = upload(t, env, admin, "", []byte("name,postcode\nAnn,LS1 1AA\n"))
	if status != http.StatusBadRequest || !strings.Contains(body, "no email column") {
		t.Errorf("file without an email column = %d %s", status, body)
	}
}

// Only admins import: anonymous callers get 401, comms staff 403.
func TestImportIsForAdmins(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	file := []byte("email\nann@example.org\n")
	for role, want := range map[string]int{"": http.StatusUnauthorized, "comms": http.StatusForbidden, "admin": http.StatusOK, "superuser": http.StatusOK} {
		token := ""
		if role != "" {
			token = testkit.Login(t, env, role)
		}
		if status, _, body := upload(t, env, token, "", file); status != want {
			t.Errorf("%q: %d %s, want %d", role, status, body, want)
		}
	}
	if n := env.Count(t, vocab.Supporters, ""); n != 1 {
		t.Errorf("%d supporters", n)
	}
}
