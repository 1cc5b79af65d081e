// Package schedules runs recurring newsletters: each schedule has a cron
// spec in a time zone and a stored next_run_at; when that passes, a campaign
// is built from the schedule (sent at once, or left as a draft for review).
// Everything lives in the database, so a restart loses nothing and a run
// missed while the server was down happens once on start.
package schedules

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"supportercrm/internal/tz"
)

// DefaultZone is where the charity's clocks are.
const DefaultZone = tz.LondonName

// Spec is a parsed cron spec in its time zone.
type Spec struct {
	sched cron.Schedule
	loc   *time.Location
}

// Parse reads a standard 5-field spec or a descriptor (@monthly, @weekly,
// @every 1h…) for the named zone (empty means Europe/London). The error is the
// parser's own message, shown to staff on save.
func Parse(spec, zone string) (Spec, error) {
	if zone == "" {
		zone = DefaultZone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return Spec{}, fmt.Errorf("unknown time zone %q", zone)
	}
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return Spec{}, fmt.Errorf("put the time zone in the timezone field, not in the spec")
	}
	// Parsed in UTC: Next works on the local wall clock (see Next).
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return Spec{}, err
	}
	return Spec{sched: s, loc: loc}, nil
}

// Next is the first run strictly after after. It steps along the local wall
// clock, then places the wall time in the zone, so clock changes neither skip
// nor double a run: a time that doesn't exist that day (01:30 when clocks go
// forward) runs once, an hour later by the clock (02:30 BST); a time that
// happens twice (01:30 when clocks go back) runs once, at its second
// occurrence (01:30 GMT). robfig/cron on its own would skip the first and
// run the second twice.
func (s Spec) Next(after time.Time) time.Time {
	wall := asUTC(after.In(s.loc))
	for i := 0; i < 1000; i++ {
		wall = s.sched.Next(wall)
		if wall.IsZero() {
			return time.Time{}
		}
		at := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, s.loc)
		if at.After(after) {
			return at
		}
	}
	return time.Time{}
}

// asUTC keeps a time's wall clock but calls it UTC.
func asUTC(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// Frequency limits: a schedule that sends by itself runs at most once a day
// (a mistyped spec must not mail the whole list every second), and any
// schedule at most once an hour (each run is a campaign for staff to see).
const (
	MinAutoSendGap = 24 * time.Hour
	MinGap         = time.Hour
)

// gapHorizon is how far ahead runs are compared: a year shows every pattern
// of months and weekdays.
const gapHorizon = 366 * 24 * time.Hour

// ShortestGap returns a gap between two successive runs of the spec that
// is shorter than limit, or 0 if there is none in the coming year. An
// "@every" spec has one gap, its delay. Other specs are stepped on the
// local wall clock, as Next steps them, so that a daily spec is daily
// across clock changes (its runs are then 23 or 25 hours apart).
func (s Spec) ShortestGap(limit time.Duration, after time.Time) time.Duration {
	if every, ok := s.sched.(cron.ConstantDelaySchedule); ok {
		if every.Delay < limit {
			return every.Delay
		}
		return 0
	}
	start := asUTC(after.In(s.loc))
	prev := s.sched.Next(start)
	for i := 0; i < 10000 && !prev.IsZero() && prev.Sub(start) < gapHorizon; i++ {
		next := s.sched.Next(prev)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(prev); gap < limit {
			return gap
		}
		prev = next
	}
	return 0
}

// CheckFrequency refuses a spec that runs more often than its schedule may.
func (s Spec) CheckFrequency(autoSend bool, now time.Time) error {
	if gap := s.ShortestGap(MinGap, now); gap > 0 {
		return fmt.Errorf("runs as often as every %s; a schedule may run at most once an hour", gap)
	}
	if !autoSend {
		return nil
	}
	if gap := s.ShortestGap(MinAutoSendGap, now); gap > 0 {
		return fmt.Errorf("runs as often as every %s; a schedule that sends by itself (auto send) may run at most once a day: choose a daily or rarer spec, or turn auto send off to review each run's draft", gap)
	}
	return nil
}
