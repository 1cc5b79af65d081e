package schedules_test

import (
	"strings"
	"testing"
	"time"

	"supportercrm/internal/vocab"
)

// A schedule may run at most once an hour, and one that sends by itself at
// most once a day: a spec that breaks either is refused on save with a
// message that says so, whatever its form (@every, a list of minutes, a
// range of hours). Daily specs stay daily across the clock changes.
func TestTooFrequentSchedulesAreRefusedOnSave(t *testing.T) {
	// The day before clocks go forward, so a daily spec's runs span it.
	app, _, _, _ := setup(t, time.Date(2027, 3, 27, 12, 0, 0, 0, london))
	for _, tc := range []struct {
		spec     string
		autoSend bool
		want     string // "" when accepted
	}{
		{"@every 1s", true, "at most once an hour"},
		{"@every 1s", false, "at most once an hour"},
		{"@every 59m", false, "at most once an hour"},
		{"*/5 * * * *", false, "at most once an hour"},
		{"0,30 9 * * *", false, "every 30m0s"},
		{"0,30 9 1 1 *", false, "at most once an hour"}, // twice on one day a year
		{"@hourly", false, ""},
		{"0 * * * *", false, ""},
		{"@every 1h", false, ""},
		{"@hourly", true, "at most once a day"},
		{"@every 6h", true, "at most once a day"},
		{"0 9,21 * * *", true, "every 12h0m0s"},
		{"0 9 * * 1-5", true, ""},
		{"30 1 * * *", true, ""}, // 01:30 doesn't exist on 28 March: still daily
		{"@daily", true, ""},
		{"@every 24h", true, ""},
		{"@monthly", true, ""},
	} {
		s, err := newSchedule(t, app, tc.spec, tc.autoSend)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q (auto send %v) refused: %v", tc.spec, tc.autoSend, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "spec")):
			t.Errorf("%q (auto send %v): err = %v, want one naming spec and saying %q", tc.spec, tc.autoSend, err, tc.want)
		}
		if err == nil {
			if err := app.Delete(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, _ := app.CountRecords(vocab.Schedules); n != 0 {
		t.Errorf("%d schedules left saved", n)
	}
	// Switching auto send on is a save like any other.
	s, err := newSchedule(t, app, "@every 6h", false)
	if err != nil {
		t.Fatal(err)
	}
	s.Set("auto_send", true)
	if err := app.Save(s); err == nil || !strings.Contains(err.Error(), "at most once a day") {
		t.Errorf("turning auto send on for @every 6h: err = %v", err)
	}
}

// A schedule saved before the limits (here straight into the database) that
// breaks them creates no campaign when due: it is switched off, with the
// reason, and staff are told once.
func TestTooFrequentScheduleFromBeforeIsSwitchedOff(t *testing.T) {
	app, r, clk, alerts := setup(t, time.Date(2027, 1, 10, 8, 0, 0, 0, london))
	s, err := newSchedule(t, app, "@daily", true)
	if err != nil {
		t.Fatal(err)
	}
	s.Set("spec", "@every 1s")
	if err := app.SaveNoValidate(s); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		clk.now = clk.now.Add(24 * time.Hour)
		r.Tick()
	}
	if got := campaigns(t, app); len(got) != 0 {
		t.Fatalf("an every-second auto-send schedule made %d campaigns", len(got))
	}
	s, _ = app.FindRecordById(vocab.Schedules, s.Id)
	if s.GetBool("enabled") || !strings.Contains(s.GetString("last_error"), "at most once an hour") {
		t.Errorf("enabled %v, last_error %q", s.GetBool("enabled"), s.GetString("last_error"))
	}
	if len(*alerts) != 1 || !strings.Contains((*alerts)[0], "switched off") {
		t.Errorf("alerts = %q, want one saying it was switched off", *alerts)
	}
}
