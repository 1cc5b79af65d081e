package exporter_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"supportercrm/internal/exporter"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// importFile posts a CSV body to the import route as an admin.
func importFile(t *testing.T, env *testkit.Env, token, file string) {
	t.Helper()
	if a := env.Request(t, token, http.MethodPost, "/api/crm/import/supporters", "text/csv", strings.NewReader(file)); a.Status != http.StatusOK {
		t.Fatalf("import = %d %s", a.Status, a.Body)
	}
}

// records parses an export, checking the BOM and header.
func records(t *testing.T, body string, header []string) [][]string {
	t.Helper()
	if !strings.HasPrefix(body, "\ufeff") {
		t.Fatalf("no BOM: %q", body[:min(len(body), 20)])
	}
	recs, err := csv.NewReader(strings.NewReader(body[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], header) {
		t.Fatalf("header %v", recs[0])
	}
	return recs[1:]
}

const people = "email,first_name,last_name,topics,tags,postcode,address,status,consent_source,consent_date,notes\n" +
	"ann@example.org,Ann,Able,newsletter;events,volunteer;leeds,LS1 1AA,\"1 High St, Leeds\",,paper form,2025-06-01,\n" +
	"bob@example.org,Bob,,appeals,,,,,,,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\"\n" +
	"cat@example.org,=1+2,-Cole,newsletter,leeds,,,unsubscribed,,,@SUM(A1)\n" +
	"dee@example.org,Dee,,events,,,,,web form,31/12/2024,\n"

// Export, import into an empty app, export again: the same supporters.
func TestExportImportsBackUnchanged(t *testing.T) {
	first := testkit.Start(t, testkit.Options{})
	importFile(t, first, testkit.Login(t, first, "admin"), people)
	var out bytes.Buffer
	n, err := exporter.Supporters(first.App, &out, exporter.Filter{})
	if err != nil || n != 4 {
		t.Fatalf("export: %d, %v", n, err)
	}
	second := testkit.Start(t, testkit.Options{})
	importFile(t, second, testkit.Login(t, second, "admin"), out.String())
	var again bytes.Buffer
	if _, err := exporter.Supporters(second.App, &again, exporter.Filter{}); err != nil {
		t.Fatal(err)
	}
	a, b := records(t, out.String(), exporter.SupporterColumns), records(t, again.String(), exporter.SupporterColumns)
	// Rows written in one batch share a created time; compare by address.
	byEmail := func(x, y []string) int { return strings.Compare(x[0], y[0]) }
	slices.SortFunc(a, byEmail)
	slices.SortFunc(b, byEmail)
	// Compare everything but what each database assigns itself.
	keep := slices.Index(exporter.SupporterColumns, "id")
	for i := range a {
		if !slices.Equal(a[i][:keep], b[i][:keep]) {
			t.Errorf("row %d changed on the round trip:\n%q\n%q", i, a[i][:keep], b[i][:keep])
		}
	}
	if len(a) != len(b) {
		t.Fatalf("%d rows, then %d", len(a), len(b))
	}
	statuses := map[string]string{}
	for _, r := range b {
		statuses[r[0]] = r[3]
	}
	want := map[string]string{"ann@example.org": "subscribed", "bob@example.org": "pending", "cat@example.org": "unsubscribed", "dee@example.org": "subscribed"}
	for k, v := range want {
		if statuses[k] != v {
			t.Errorf("%s is %q after the round trip, want %q", k, statuses[k], v)
		}
	}
}

// Cells a spreadsheet would run as formulas are exported as text.
func TestExportNeutralisesFormulas(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	importFile(t, env, testkit.Login(t, env, "admin"), people)
	var out bytes.Buffer
	if _, err := exporter.Supporters(env.App, &out, exporter.Filter{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range records(t, out.String(), exporter.SupporterColumns) {
		for i, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("%s %s = %q would run as a formula", r[0], exporter.SupporterColumns[i], cell)
			}
		}
	}
	for _, want := range []string{`'=HYPERLINK(""http://evil.example""`, ",'=1+2,'-Cole,", "'@SUM(A1)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("export lacks %s:\n%s", want, out.String())
		}
	}
}

// Filters by status, topic and tag; erased supporters never appear; an
// unknown filter value is an error, not an empty file.
func TestExportFilters(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	admin := testkit.Login(t, env, "admin")
	importFile(t, env, admin, people)
	ann, _ := env.App.FindFirstRecordByData(vocab.Supporters, "email", "dee@example.org")
	if status, body := env.Call(t, admin, http.MethodPost, "/api/crm/supporters/"+ann.Id+"/erase", ""); status != http.StatusOK {
		t.Fatalf("erase = %d %s", status, body)
	}
	for _, c := range []struct {
		f    exporter.Filter
		want []string
	}{
		{exporter.Filter{}, []string{"ann@example.org", "bob@example.org", "cat@example.org"}},
		{exporter.Filter{Status: "subscribed"}, []string{"ann@example.org"}},
		{exporter.Filter{Topic: "newsletter"}, []string{"ann@example.org", "cat@example.org"}},
		{exporter.Filter{Tag: "leeds"}, []string{"ann@example.org", "cat@example.org"}},
		{exporter.Filter{Topic: "events", Tag: "volunteer"}, []string{"ann@example.org"}},
	} {
		var out bytes.Buffer
		if _, err := exporter.Supporters(env.App, &out, c.f); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range records(t, out.String(), exporter.SupporterColumns) {
			got = append(got, r[0])
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.f, got, c.want)
		}
	}
	for _, f := range []exporter.Filter{{Status: "gone"}, {Status: "erased"}, {Topic: "knitting"}} {
		if _, err := exporter.Supporters(env.App, &bytes.Buffer{}, f); err == nil {
			t.Errorf("%+v: no error", f)
		}
	}
	status, body := env.Call(t, admin, http.MethodGet, "/api/crm/export/supporters.csv?status=gone", "")
	if status != http.StatusBadRequest || !strings.Contains(strings.ToLower(body), "unknown status") {
		t.Errorf("bad filter over HTTP = %d %s", status, body)
	}
}

// The consent export has every row, the import's evidence included.
func TestConsentExport(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	admin := testkit.Login(t, env, "admin")
	importFile(t, env, admin, people)
	status, body := env.Call(t, admin, http.MethodGet, "/api/crm/export/consents.csv", "")
	if status != http.StatusOK {
		t.Fatalf("export = %d %s", status, body)
	}
	recs := records(t, body, exporter.ConsentColumns)
	if len(recs) != 3 { // ann and dee granted, cat withdrew
		t.Fatalf("%d consent rows: %v", len(recs), recs)
	}
	col := func(name string) int { return slices.Index(exporter.ConsentColumns, name) }
	i := slices.IndexFunc(recs, func(r []string) bool { return r[col("email")] == "ann@example.org" })
	if i < 0 {
		t.Fatalf("no consent row for ann: %v", recs)
	}
	ann := recs[i]
	if ann[col("email")] != "ann@example.org" || ann[col("topics")] != "newsletter;events" || ann[col("method")] != "import" ||
		ann[col("evidence")] != "paper form" || !strings.HasPrefix(ann[col("given_at")], "2025-05-31 23:00:00") {
		t.Errorf("ann's consent row: %q", ann)
	}
}

// Exports are for admins only, over HTTP and with the right headers.
func TestExportIsForAdmins(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	testkit.Subscribers(t, env.App, 2)
	for _, path := range []string{"/api/crm/export/supporters.csv", "/api/crm/export/consents.csv"} {
		for role, want := range map[string]int{"": http.StatusUnauthorized, "comms": http.StatusForbidden, "admin": http.StatusOK, "superuser": http.StatusOK} {
			token := ""
			if role != "" {
				token = testkit.Login(t, env, role)
			}
			a := env.Request(t, token, http.MethodGet, path, "", nil)
			if a.Status != want {
				t.Errorf("%s as %q: %d, want %d", path, role, a.Status, want)
				continue
			}
			if want == http.StatusOK {
				if !strings.HasPrefix(a.Header.Get("Content-Disposition"), "attachment;") || a.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("%s headers %v", path, a.Header)
				}
			} else if strings.Contains(a.Body, "@example.org") {
				t.Errorf("%s as %q leaks addresses", path, role)
			}
		}
	}
}

// The CLI imports a file and exports to a private file.
func TestImportExportCommands(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte(people), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, errs, err := testkit.RunCommand(t, env.App, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errs)
		}
		return out + errs
	}
	if out := run("import", "supporters", in); !strings.Contains(out, "Rows: 4. Created 4, updated 0, unchanged 0, errors 0.") {
		t.Errorf("import said:\n%s", out)
	}
	if out := run("import", "supporters", in); !strings.Contains(out, "Created 0, updated 0, unchanged 4") {
		t.Errorf("second import said:\n%s", out)
	}
	file := filepath.Join(dir, "out.csv")
	if out := run("export", "supporters", "--status", "subscribed", "-o", file); !strings.Contains(out, "Exported 2 rows.") {
		t.Errorf("export said:\n%s", out)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(file)
	if recs := records(t, string(b), exporter.SupporterColumns); len(recs) != 2 {
		t.Errorf("%d rows in the file", len(recs))
	}
	if n, _ := env.App.CountRecords(vocab.Supporters); n != 4 {
		t.Errorf("%d supporters", n)
	}
}
