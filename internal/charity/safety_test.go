package charity_test

import (
	"strings"
	"testing"

	"supportercrm/internal/charity"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

func TestTel(t *testing.T) {
	for number, want := range map[string]string{
		"0300 303 8151":    "tel:+443003038151",
		"0844 778 2406":    "tel:+448447782406",
		"+44 20 7946 0000": "tel:+442079460000",
		"116 123":          "tel:116123",
	} {
		if got := string(charity.HelpLine{Number: number}.Tel()); got != want {
			t.Errorf("Tel(%q) = %q, want %q", number, got, want)
		}
	}
}

// What admins type into the charity record is checked on save, so every
// page can show the lines as working links; a refused save changes nothing.
func TestSafetyFieldsChecked(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	for _, c := range []struct{ field, value, says string }{
		{"help_lines", `[{"name": "Line", "number": "call us"}]`, "line 1 needs a phone number"},
		{"help_lines", `[{"name": "", "number": "0300 303 8151"}]`, "line 1 needs a name"},
		{"help_lines", `[{"name": "Line", "number": "0300 303 8151", "url": "javascript:alert(1)"}]`, "url must be an http(s) address"},
		{"help_lines", `{"name": "Line"}`, "must be a list"},
		{"help_lines", `[` + strings.Repeat(`{"name": "L", "number": "0300 303 8151"},`, charity.MaxHelpLines) + `{"name": "L", "number": "0300 303 8151"}]`, "at most 5 lines"},
		{"leave_url", "ftp://example.org/", "must be an http(s) address"},
	} {
		rec, err := env.App.FindFirstRecordByFilter(vocab.Charity, "")
		if err != nil {
			t.Fatal(err)
		}
		before := testkit.Dump(t, env.App, vocab.Charity)
		rec.Set(c.field, c.value)
		err = env.App.Save(rec)
		if err == nil || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s = %s saved with error %v, want one saying %q", c.field, c.value, err, c.says)
		}
		if after := testkit.Dump(t, env.App, vocab.Charity); after != before {
			t.Errorf("a refused save of %s changed the record", c.field)
		}
	}

	// The seeded record, and a change to it, reach the identity pages use.
	id, err := charity.Load(env.App)
	if err != nil {
		t.Fatal(err)
	}
	if len(id.HelpLines) != 2 || id.HelpLines[0].Number != "0300 303 8151" || id.HelpLines[1].Number != "0844 778 2406" || id.LeaveURL != charity.DefaultLeaveURL {
		t.Fatalf("seeded identity: lines %+v, leave %q", id.HelpLines, id.LeaveURL)
	}
	rec, err := env.App.FindFirstRecordByFilter(vocab.Charity, "")
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("help_lines", `[{"name": "Another line", "number": "116 000", "hours": "24 hours", "url": "https://line.example.org/"}]`)
	rec.Set("leave_url", "")
	if err := env.App.Save(rec); err != nil {
		t.Fatal(err)
	}
	if id, err = charity.Load(env.App); err != nil {
		t.Fatal(err)
	}
	if len(id.HelpLines) != 1 || id.HelpLines[0] != (charity.HelpLine{Name: "Another line", Number: "116 000", Hours: "24 hours", URL: "https://line.example.org/"}) || id.LeaveURL != charity.DefaultLeaveURL {
		t.Fatalf("after an edit: lines %+v, leave %q", id.HelpLines, id.LeaveURL)
	}
}
