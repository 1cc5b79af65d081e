package tz

import (
	"testing"
	"time"
)

// London changes from BST to GMT at 01:00 UTC on the last Sunday of
// October: 00:59 UTC is 01:59 BST, 01:00 UTC is 01:00 GMT.
func TestLondonAcrossOctoberClockChange(t *testing.T) {
	for _, c := range []struct {
		utc  time.Time
		want string
	}{
		{time.Date(2026, 10, 24, 23, 30, 0, 0, time.UTC), "2026-10-25 00:30 BST"},
		{time.Date(2026, 10, 25, 0, 59, 0, 0, time.UTC), "2026-10-25 01:59 BST"},
		{time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC), "2026-10-25 01:00 GMT"},
		{time.Date(2026, 10, 25, 23, 30, 0, 0, time.UTC), "2026-10-25 23:30 GMT"},
	} {
		if got := c.utc.In(London).Format("2006-01-02 15:04 MST"); got != c.want {
			t.Errorf("%v in London = %s, want %s", c.utc, got, c.want)
		}
	}
}
