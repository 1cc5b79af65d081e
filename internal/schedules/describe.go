package schedules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Describe says a cron spec in words, for the schedule editor: "at 09:00
// on the 1st of each month". It covers what staff write (numbers, lists,
// ranges, steps and names in each field, and the descriptors); a field it
// can't put into words is quoted as written. The spec must parse.
func Describe(spec string) (string, error) {
	spec = strings.TrimSpace(spec)
	if _, err := cron.ParseStandard(spec); err != nil {
		return "", err
	}
	if strings.HasPrefix(spec, "@every ") {
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(spec, "@every ")))
		if err != nil {
			return "", err
		}
		return "every " + d.String(), nil
	}
	if f, ok := descriptors[spec]; ok {
		spec = f
	}
	f := strings.Fields(spec)
	if len(f) != 5 {
		return "", fmt.Errorf("a spec has 5 fields: minute, hour, day of month, month, day of week")
	}
	words := clock(f[0], f[1])
	days := ""
	dom, dow := f[2], strings.ToLower(f[4])
	if dom != "*" && dom != "?" {
		days = "on the " + list(dom, ordinal) + " of each month"
	}
	if dow != "*" && dow != "?" {
		if days != "" {
			days += ", and"
		}
		days += " every " + list(dow, weekday)
	}
	if days == "" {
		days = "every day"
	}
	words += " " + strings.TrimSpace(days)
	if f[3] != "*" {
		words += " in " + list(strings.ToLower(f[3]), month)
	}
	return words, nil
}

var descriptors = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// clock says the minute and hour fields.
func clock(min, hour string) string {
	m, mErr := strconv.Atoi(min)
	switch {
	case mErr == nil && hour == "*":
		if m == 0 {
			return "on the hour, every hour,"
		}
		return fmt.Sprintf("at %d minutes past every hour,", m)
	case mErr == nil && isNumbers(hour):
		var times []string
		for _, h := range strings.Split(hour, ",") {
			n, _ := strconv.Atoi(h)
			times = append(times, fmt.Sprintf("%02d:%02d", n, m))
		}
		return "at " + join(times)
	case strings.HasPrefix(min, "*/") && hour == "*":
		return "every " + strings.TrimPrefix(min, "*/") + " minutes,"
	}
	return fmt.Sprintf("at minute %q of hour %q,", min, hour)
}

func isNumbers(field string) bool {
	for _, p := range strings.Split(field, ",") {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

// list says a field of items (5, 1-5, mon,thu, */2) with name for each value.
func list(field string, name func(string) string) string {
	var items []string
	for _, p := range strings.Split(field, ",") {
		switch {
		case strings.HasPrefix(p, "*/"):
			items = append(items, "every "+ordinal(strings.TrimPrefix(p, "*/"))+" one")
		case strings.Contains(p, "-") && !strings.Contains(p, "/"):
			ab := strings.SplitN(p, "-", 2)
			items = append(items, name(ab[0])+" to "+name(ab[1]))
		case strings.Contains(p, "/"):
			items = append(items, fmt.Sprintf("%q", p))
		default:
			items = append(items, name(p))
		}
	}
	return join(items)
}

func join(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func ordinal(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil {
		return s
	}
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

var days = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

func weekday(s string) string {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 7 {
		return days[n%7]
	}
	for _, d := range days {
		if strings.HasPrefix(strings.ToLower(d), s) {
			return d
		}
	}
	return s
}

func month(s string) string {
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 12 {
		return time.Month(n).String()
	}
	for m := time.January; m <= time.December; m++ {
		if strings.HasPrefix(strings.ToLower(m.String()), s) {
			return m.String()
		}
	}
	return s
}

// NextRuns are the next n runs after after, in the spec's zone.
func (s Spec) NextRuns(after time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		next := s.Next(after)
		if next.IsZero() {
			break
		}
		out = append(out, next)
		after = next
	}
	return out
}
