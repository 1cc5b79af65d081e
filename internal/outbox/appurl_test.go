package outbox_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"supportercrm/internal/outbox"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

func TestAppURLProblem(t *testing.T) {
	for url, want := range map[string]string{
		"http://localhost:8090":        "is not set",
		"http://localhost:8090/":       "is not set",
		"http://crm.lanternhouse.uk":   "is not https",
		"http://127.0.0.1:8090":        "is not https",
		"crm.lanternhouse.uk":          "is not a web address",
		"https://crm.lanternhouse.uk":  "",
		"https://crm.lanternhouse.uk/": "",
	} {
		got := outbox.AppURLProblem(url)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("AppURLProblem(%q) = %q, want %q", url, got, want)
		}
	}
}

// charityRecord reads the charity record through the REST API, as the
// dashboard does, with the token given (empty for the public).
func charityRecord(t *testing.T, env *testkit.Env, token string) map[string]any {
	t.Helper()
	status, body := env.Call(t, token, http.MethodGet, "/api/collections/"+vocab.Charity+"/records", "")
	if status != http.StatusOK {
		t.Fatalf("list charity = %d %s", status, body)
	}
	var page struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Items) != 1 {
		t.Fatalf("charity list %s: %v", body, err)
	}
	return page.Items[0]
}

// While the Application URL is not https the charity record in the
// dashboard says so; the public never sees it, and nothing typed into the
// field is kept. (The start-up log: TestAppURLWarningAtStart, main package.)
func TestAppURLNotice(t *testing.T) {
	env := testkit.Start(t, testkit.Options{}) // its Application URL is the loopback http server
	super := testkit.Login(t, env, "superuser")

	rec := charityRecord(t, env, super)
	if note, _ := rec["email_links"].(string); !strings.HasPrefix(note, "Warning: ") || !strings.Contains(note, env.URL+" is not https") {
		t.Errorf("dashboard note with an http Application URL = %q", note)
	}
	if _, ok := charityRecord(t, env, "")["email_links"]; ok {
		t.Error("the public charity record shows the note")
	}
	if _, ok := charityRecord(t, env, testkit.Login(t, env, vocab.RoleAdmin))["email_links"]; ok {
		t.Error("a staff admin's charity record shows the note (the dashboard is for superusers)")
	}

	s := env.App.Settings()
	s.Meta.AppURL = "https://crm.lanternhouse.org.uk/"
	if err := env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	if note := charityRecord(t, env, super)["email_links"]; note != "Links in emails open https://crm.lanternhouse.org.uk." {
		t.Errorf("dashboard note with an https Application URL = %q", note)
	}
	id := rec["id"].(string)
	if status, body := env.Call(t, super, http.MethodPatch, "/api/collections/"+vocab.Charity+"/records/"+id, `{"email_links":"all fine, trust me"}`); status != http.StatusOK {
		t.Fatalf("save charity = %d %s", status, body)
	}
	var stored string
	if err := env.App.DB().Select("email_links").From(vocab.Charity).Where(dbx.HashExp{"id": id}).Row(&stored); err != nil || stored != "" {
		t.Errorf("stored email_links = %q, %v; want nothing stored", stored, err)
	}
}
