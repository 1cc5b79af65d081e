package signup_test

import (
	"errors"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// Go code may anonymise a consent row (clear its personal data, and then
// unlink it from a deleted supporter) and change nothing else.
func TestConsentGuardAllowsOnlyAnonymising(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := testkit.Subscribers(t, env.App, 1)[0]
	fresh := func() *core.Record {
		t.Helper()
		r := core.NewRecord(testkit.Collection(t, env.App, vocab.Consents))
		r.Load(map[string]any{"supporter": sup.Id, "email": "reader00000@example.org", "action": vocab.ActionGrant, "basis": vocab.BasisConsent,
			"method": vocab.MethodWebForm, "wording": "I agree", "details": map[string]string{"first_name": "Reader"}, "ip": "192.0.2.1", "user_agent": "Firefox"})
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
		r, err := env.App.FindRecordById(vocab.Consents, r.Id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	refused := map[string]func(*core.Record){
		"wording":                  func(r *core.Record) { r.Set("wording", "I agree to everything") },
		"another address":          func(r *core.Record) { r.Set("email", "someone@example.org") },
		"another action":           func(r *core.Record) { r.Set("action", vocab.ActionWithdraw) },
		"unlink, not anonymised":   func(r *core.Record) { r.Set("supporter", "") },
		"unlink, partly cleared":   func(r *core.Record) { r.Set("email", ""); r.Set("supporter", "") },
		"anonymise, change method": func(r *core.Record) { r.Set("email", ""); r.Set("ip", ""); r.Set("method", vocab.MethodStaff) },
	}
	for name, edit := range refused {
		r := fresh()
		edit(r)
		if err := env.App.Save(r); !errors.Is(err, signup.ErrAppendOnly) {
			t.Errorf("%s: saved (err %v)", name, err)
		}
	}
	r := fresh()
	r.Set("email", "")
	r.Set("details", nil)
	r.Set("ip", "")
	r.Set("user_agent", "")
	if err := env.App.Save(r); err != nil {
		t.Fatalf("anonymising refused: %v", err)
	}
	r, _ = env.App.FindRecordById(vocab.Consents, r.Id)
	r.Set("supporter", "")
	if err := env.App.Save(r); err != nil {
		t.Fatalf("unlinking an anonymised row refused: %v", err)
	}
	r, _ = env.App.FindRecordById(vocab.Consents, r.Id)
	if r.GetString("wording") != "I agree" || r.GetString("action") != vocab.ActionGrant || r.GetString("supporter") != "" {
		t.Fatalf("anonymised row: %v", r.FieldsData())
	}

	// Deleting a supporter whose consent rows still name them is refused:
	// erasure is the way, and it keeps the evidence.
	other := core.NewRecord(testkit.Collection(t, env.App, vocab.Supporters))
	other.Load(map[string]any{"email": "other@example.org", "status": vocab.StatusSubscribed})
	if err := env.App.Save(other); err != nil {
		t.Fatal(err)
	}
	c := fresh()
	c.Set("supporter", other.Id) // not an allowed change either
	if err := env.App.Save(c); err == nil {
		t.Fatal("re-pointing a consent row was allowed")
	}
	if err := env.App.Delete(sup); err == nil {
		t.Fatal("a supporter with consent evidence was deleted")
	}
	if _, err := env.App.FindRecordById(vocab.Supporters, sup.Id); err != nil {
		t.Fatal("the refused delete removed the supporter")
	}
}
