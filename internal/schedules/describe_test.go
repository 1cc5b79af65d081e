package schedules

import (
	"testing"
	"time"

	"supportercrm/internal/tz"
)

// Specs read back in words a comms person would say.
func TestDescribe(t *testing.T) {
	for spec, want := range map[string]string{
		"0 9 1 * *":        "at 09:00 on the 1st of each month",
		"30 7 * * 1":       "at 07:30 every Monday",
		"0 9 * * 1-5":      "at 09:00 every Monday to Friday",
		"0 9,17 * * *":     "at 09:00 and 17:00 every day",
		"15 * * * *":       "at 15 minutes past every hour, every day",
		"0 8 1,15 * *":     "at 08:00 on the 1st and 15th of each month",
		"0 10 * 12 *":      "at 10:00 every day in December",
		"0 18 * * mon,thu": "at 18:00 every Monday and Thursday",
		"0 9 1 1,7 *":      "at 09:00 on the 1st of each month in January and July",
		"0 9 1 * 1":        "at 09:00 on the 1st of each month, and every Monday",
		"@monthly":         "at 00:00 on the 1st of each month",
		"@weekly":          "at 00:00 every Sunday",
		"@daily":           "at 00:00 every day",
		"@every 36h":       "every 36h0m0s",
		"0 0 28 2 *":       "at 00:00 on the 28th of each month in February",
		"0 9 22 * *":       "at 09:00 on the 22nd of each month",
	} {
		got, err := Describe(spec)
		if err != nil || got != want {
			t.Errorf("Describe(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}
	if _, err := Describe("0 9 * *"); err == nil {
		t.Error("a spec of four fields was described")
	}
}

// The next runs of a weekly spec are a week apart by the London clock,
// across the end of summer time (the UTC gap is then 169 hours).
func TestNextRunsInLondon(t *testing.T) {
	s, err := Parse("0 9 * * 0", "")
	if err != nil {
		t.Fatal(err)
	}
	runs := s.NextRuns(time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC), 5)
	want := []string{"Sun 11 Oct 2026 09:00 BST", "Sun 18 Oct 2026 09:00 BST", "Sun 25 Oct 2026 09:00 GMT", "Sun 1 Nov 2026 09:00 GMT", "Sun 8 Nov 2026 09:00 GMT"}
	if len(runs) != 5 {
		t.Fatalf("%d runs", len(runs))
	}
	for i, r := range runs {
		if got := r.In(tz.London).Format("Mon 2 Jan 2006 15:04 MST"); got != want[i] {
			t.Errorf("run %d = %s, want %s", i, got, want[i])
		}
	}
}
