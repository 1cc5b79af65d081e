package supporterui_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// audited is the audit rows of action, oldest first.
func audited(t *testing.T, app core.App, action string) []*core.Record {
	t.Helper()
	rows, err := app.FindRecordsByFilter(vocab.Audit, "action = {:a}", "created", 0, 0, map[string]any{"a": action})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestAdminEditChecksEachFieldAndSavesNothingWhenOneIsBad(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	tess := history(t, env.App)
	addSupporter(t, env.App, "taken@example.org", "Tak", "En", vocab.StatusSubscribed)
	admin := signIn(t, env, vocab.RoleAdmin)
	path := "/staff/supporters/" + tess.Id + "/edit"
	before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Audit)
	for _, c := range []struct {
		form  url.Values
		field string // the field whose message shows
		says  string
	}{
		{url.Values{"email": {"not an address"}, "first_name": {"Tess"}}, "email", ""},
		{url.Values{"email": {"taken@example.org"}, "first_name": {"Tess"}}, "email", "Another supporter has this address"},
		{url.Values{"email": {"tess@example.org"}, "first_name": {"http://spam.example"}}, "first_name", ""},
		{url.Values{"email": {"tess@example.org"}, "postcode": {"far too long a postcode"}}, "postcode", "at most 10 characters"},
		{url.Values{"email": {"tess@example.org"}, "tags": {strings.Repeat("x", 41)}}, "tags", "at most 40 characters"},
		{url.Values{"email": {"tess@example.org"}, "notes": {"bell\x07"}}, "notes", "control character"},
	} {
		got, page := admin.post(t, path, c.form.Encode())
		if got != http.StatusBadRequest || !strings.Contains(page, `id="f-`+c.field+`-error"`) || !strings.Contains(page, c.says) || !strings.Contains(page, "Nothing was saved") {
			t.Errorf("edit %v = %d, want 400 with a message on %s (%q)", c.form, got, c.field, c.says)
		}
	}
	if testkit.Dump(t, env.App, vocab.Supporters, vocab.Audit) != before {
		t.Fatal("a refused edit changed something")
	}

	good := url.Values{"email": {" Tess.Line@Example.org "}, "first_name": {"Tessa"}, "last_name": {"Line"}, "address": {"4 Kirkgate, Leeds"}, "postcode": {"ls27dj"}, "tags": {"volunteer, leeds, volunteer"}, "notes": {"Met at the fair."}}
	if got, _ := admin.post(t, path, good.Encode()); got != http.StatusSeeOther {
		t.Fatalf("good edit = %d", got)
	}
	s, err := env.App.FindRecordById(vocab.Supporters, tess.Id)
	if err != nil {
		t.Fatal(err)
	}
	if s.GetString("email") != "tess.line@example.org" || s.GetString("first_name") != "Tessa" || s.GetString("postcode") != "LS2 7DJ" ||
		strings.Join(s.GetStringSlice("tags"), ",") != "volunteer,leeds" || s.GetString("status") != vocab.StatusSubscribed {
		t.Errorf("saved: %v", s.PublicExport())
	}
	rows := audited(t, env.App, "supporter.edit")
	if len(rows) != 1 || !strings.Contains(rows[0].GetString("detail"), "email") || strings.Contains(rows[0].GetString("detail"), "tess") {
		t.Errorf("audit of the edit: %v", rows)
	}
}

func TestAdminEraseNeedsTheAddressTyped(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	tess := history(t, env.App)
	admin := signIn(t, env, vocab.RoleAdmin)
	path := "/staff/supporters/" + tess.Id + "/erase"
	watched := []string{vocab.Supporters, vocab.Consents, vocab.Suppressions, vocab.Audit}
	before := testkit.Dump(t, env.App, watched...)
	for _, typed := range []string{"", "someone@example.org", "tess@example"} {
		got, page := admin.post(t, path, url.Values{"confirm": {typed}}.Encode())
		if got != http.StatusBadRequest || !strings.Contains(page, `id="f-confirm-error"`) || !strings.Contains(page, "Nothing was erased") {
			t.Errorf("erase with %q typed = %d", typed, got)
		}
	}
	if testkit.Dump(t, env.App, watched...) != before {
		t.Fatal("a refused erasure changed something")
	}
	if got, _ := admin.post(t, path, url.Values{"confirm": {" TESS@example.org "}}.Encode()); got != http.StatusSeeOther {
		t.Fatalf("erase = %d", got)
	}
	s, _ := env.App.FindRecordById(vocab.Supporters, tess.Id)
	if s.GetString("status") != vocab.StatusErased || s.GetString("first_name") != "" || s.GetString("address") != "" {
		t.Errorf("after erasure: %v", s.PublicExport())
	}
	rows := audited(t, env.App, "supporter.erase")
	if len(rows) != 1 || rows[0].GetString("target") != "supporters/"+tess.Id || strings.Contains(rows[0].GetString("detail"), "tess") {
		t.Errorf("audit of the erasure: %v", rows)
	}
	// A second erasure changes nothing and says so.
	if got, _ := admin.get(t, path); got != http.StatusSeeOther {
		t.Errorf("erase page of an erased supporter = %d", got)
	}
}

// upload posts a file to the import form as the browser does.
func (c *staffClient) upload(t *testing.T, content string) (int, string, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("_csrf", c.csrf)
	fw, _ := mw.CreateFormFile("file", "supporters.csv")
	fw.Write([]byte(content))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.env.URL+"/staff/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, res.Header.Get("Location"), b.String()
}

func TestAdminImportFromTheConsole(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	admin := signIn(t, env, vocab.RoleAdmin)
	watched := []string{vocab.Supporters, vocab.Consents, vocab.Audit}
	before := testkit.Dump(t, env.App, watched...)
	got, _, page := admin.upload(t, "email,first_name\nrene@example.org,Ren\xe9\n")
	if got != http.StatusBadRequest || !strings.Contains(page, "isn&#39;t UTF-8") || !strings.Contains(page, "nothing was changed") {
		t.Errorf("non-UTF-8 upload = %d:\n%s", got, page)
	}
	if got, _, page := admin.upload(t, "name\nRene\n"); got != http.StatusBadRequest || !strings.Contains(page, "no email column") {
		t.Errorf("upload without an email column = %d:\n%s", got, page)
	}
	if testkit.Dump(t, env.App, watched...) != before {
		t.Fatal("a refused file changed something")
	}

	got, loc, _ := admin.upload(t, rowsFile(2000)+"bad,Bad,newsletter,,\n")
	if got != http.StatusSeeOther || !regexp.MustCompile(`^/staff/import/[a-z0-9]+$`).MatchString(loc) {
		t.Fatalf("upload = %d to %q", got, loc)
	}
	var page2 string
	testkit.Eventually(t, 60*time.Second, func() bool {
		_, page2 = admin.get(t, loc)
		return strings.Contains(page2, "Import finished")
	})
	for _, want := range []string{"2,001 rows read: 2,000 created", "1 with errors", "<td>2002</td>"} {
		if !strings.Contains(page2, want) {
			t.Errorf("report lacks %q:\n%s", want, page2)
		}
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return len(audited(t, env.App, "supporters.import")) == 2 })
	rows := audited(t, env.App, "supporters.import")
	if !strings.Contains(rows[0].GetString("detail"), "started") || !strings.Contains(rows[1].GetString("detail"), "2000 created") {
		t.Errorf("import audit: %q, %q", rows[0].GetString("detail"), rows[1].GetString("detail"))
	}
	if _, page := admin.get(t, "/staff/import"); !strings.Contains(page, "2,000 created") {
		t.Errorf("recent imports:\n%s", page)
	}
}

func TestAdminExportsAndClaim(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	tess := history(t, env.App)
	save(t, env.App, vocab.Donations, map[string]any{"supporter": tess.Id, "amount_pence": 1000, "currency": "GBP", "method": "card", "donated_on": time.Now(), "gift_aid_eligible": true})
	admin := signIn(t, env, vocab.RoleAdmin)

	got, csv := admin.post(t, "/staff/exports/supporters", "status=subscribed")
	if got != http.StatusOK || !strings.HasPrefix(csv, "\ufeffemail,first_name") || !strings.Contains(csv, "other@example.org") {
		t.Errorf("supporter export = %d:\n%.300s", got, csv)
	}
	if got, page := admin.post(t, "/staff/exports/supporters", "status=erased&topic=nope"); got != http.StatusBadRequest ||
		!strings.Contains(page, `id="f-status-error"`) || !strings.Contains(page, `id="f-topic-error"`) {
		t.Errorf("export with bad filters = %d", got)
	}
	if got, csv := admin.post(t, "/staff/exports/consents", ""); got != http.StatusOK || !strings.Contains(csv, "wording_version") {
		t.Errorf("consent export = %d", got)
	}
	if rows := audited(t, env.App, "supporters.export"); len(rows) != 1 || !strings.Contains(rows[0].GetString("detail"), "status subscribed") {
		t.Errorf("export audit: %v", rows)
	}

	if got, page := admin.post(t, "/staff/giving/claims", "claim=../bad"); got != http.StatusBadRequest || !strings.Contains(page, `id="f-claim-error"`) {
		t.Errorf("bad claim reference = %d", got)
	}
	if got, _ := admin.post(t, "/staff/giving/claims", "claim=2026-11"); got != http.StatusSeeOther {
		t.Fatalf("claim = %d", got)
	}
	_, page := admin.get(t, "/staff/giving/claims")
	if !strings.Contains(page, "2026-11") || !strings.Contains(page, "£10.00") {
		t.Errorf("claims page:\n%s", page)
	}
	got, claim := admin.post(t, "/staff/giving/claims/download", "claim=2026-11")
	if got != http.StatusOK || !strings.Contains(claim, "Tess,Line,4,LS2 7DJ") || !strings.Contains(claim, "10.00") {
		t.Errorf("claim file = %d:\n%s", got, claim)
	}
	if len(audited(t, env.App, "giftaid.claim")) != 1 || len(audited(t, env.App, "giftaid.export")) != 1 {
		t.Error("the claim or its download was not audited")
	}
}
