// Package tz is the charity's one time zone, Europe/London, in which the
// app shows, reads and schedules dates. It embeds the zone database
// (time/tzdata, about 450 kB) so that the binary runs on a host without
// one (distroless, scratch), where loading any zone would fail.
package tz

import (
	"time"
	_ "time/tzdata"
)

// LondonName is the zone's name, as records that name a zone store it.
const LondonName = "Europe/London"

// London is Europe/London: GMT in winter, BST (+1) in summer.
var London = load(LondonName)

func load(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // cannot happen: the zone database is embedded
	}
	return loc
}
