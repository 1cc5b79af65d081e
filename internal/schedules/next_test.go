package schedules

import (
	"testing"
	"time"

	"supportercrm/internal/tz"
)

var london = tz.London

// runsOn counts the runs a spec makes on one London calendar day, stepping
// Next from the day before.
func runsOn(t *testing.T, spec string, y int, m time.Month, d int) []time.Time {
	t.Helper()
	s, err := Parse(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for at := s.Next(time.Date(y, m, d-1, 12, 0, 0, 0, london)); ; at = s.Next(at) {
		l := at.In(london)
		if l.Day() != d {
			if l.After(time.Date(y, m, d, 23, 59, 59, 0, london)) {
				return out
			}
			continue
		}
		out = append(out, at)
	}
}

func TestClocksGoForwardRunsOnce(t *testing.T) {
	// 28 March 2027: 01:00 GMT becomes 02:00 BST; 01:30 doesn't exist.
	runs := runsOn(t, "30 1 * * *", 2027, time.March, 28)
	if len(runs) != 1 {
		t.Fatalf("runs on 28 March = %v, want exactly one", runs)
	}
	if got := runs[0].UTC(); !got.Equal(time.Date(2027, 3, 28, 1, 30, 0, 0, time.UTC)) {
		t.Errorf("run at %v (%v), want 02:30 BST", runs[0].In(london), got)
	}
	// Days either side keep their 01:30.
	for _, d := range []int{27, 29} {
		r := runsOn(t, "30 1 * * *", 2027, time.March, d)
		if len(r) != 1 || r[0].In(london).Hour() != 1 || r[0].In(london).Minute() != 30 {
			t.Errorf("runs on %d March = %v", d, r)
		}
	}
}

func TestClocksGoBackRunsOnce(t *testing.T) {
	// 31 October 2027: 02:00 BST becomes 01:00 GMT; 01:30 happens twice.
	runs := runsOn(t, "30 1 * * *", 2027, time.October, 31)
	if len(runs) != 1 {
		t.Fatalf("runs on 31 October = %v, want exactly one", runs)
	}
	if got := runs[0].UTC(); !got.Equal(time.Date(2027, 10, 31, 1, 30, 0, 0, time.UTC)) {
		t.Errorf("run at %v, want 01:30 GMT", got)
	}
	// A run at the first 01:30 (BST) is not followed by another at the second.
	s, _ := Parse("30 1 * * *", "")
	first := time.Date(2027, 10, 31, 0, 30, 0, 0, time.UTC) // 01:30 BST
	if next := s.Next(first); next.In(london).Day() != 1 {
		t.Errorf("after the first 01:30, next = %v, want 1 November", next.In(london))
	}
}

func TestHourlyAcrossTheChanges(t *testing.T) {
	if n := len(runsOn(t, "0 * * * *", 2027, time.March, 28)); n != 23 {
		t.Errorf("hourly runs on the 23-hour day = %d, want 23", n)
	}
	if n := len(runsOn(t, "0 * * * *", 2027, time.October, 31)); n != 24 {
		t.Errorf("hourly runs on the 25-hour day = %d, want 24 (one per clock hour)", n)
	}
}

func TestParse(t *testing.T) {
	for _, ok := range []string{"0 9 1 * *", "@monthly", "@weekly", "0 18 * * FRI", "@every 6h"} {
		if _, err := Parse(ok, ""); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for spec, zone := range map[string]string{"61 * * * *": "", "0 9 * *": "", "@fortnightly": "", "0 9 * * *": "Mars/Olympus", "CRON_TZ=UTC 0 9 * * *": ""} {
		if _, err := Parse(spec, zone); err == nil {
			t.Errorf("%q in %q parsed", spec, zone)
		}
	}
	s, _ := Parse("@monthly", "")
	if got := s.Next(time.Date(2026, 11, 25, 10, 0, 0, 0, london)); !got.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, london)) {
		t.Errorf("@monthly next = %v", got)
	}
}
