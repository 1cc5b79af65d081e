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
