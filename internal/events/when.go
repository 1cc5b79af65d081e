package events

import (
	"strings"
	"time"
	"unicode/utf8"
)

// When is the event's date and time in London, as a person reads it:
// "Saturday 5 December 2026, 6pm to 9:30pm". A time that happens twice on
// the night the clocks go back names its zone ("1:30am GMT").
func (it Item) When() string {
	if it.Start.IsZero() {
		return "Date to be announced"
	}
	if it.DateOnly {
		return it.Start.UTC().Format("Monday 2 January 2006")
	}
	start := it.Start.In(London)
	s := start.Format("Monday 2 January 2006") + ", " + clock(start)
	if it.End.IsZero() {
		return s
	}
	end := it.End.In(London)
	if sameDay(start, end) {
		return s + " to " + clock(end)
	}
	return s + " to " + end.Format("Monday 2 January") + ", " + clock(end)
}

// Date is the day alone, for compact lists ("Sat 5 Dec").
func (it Item) Date() string {
	if it.Start.IsZero() {
		return ""
	}
	if it.DateOnly {
		return it.Start.UTC().Format("Mon 2 Jan")
	}
	return it.Start.In(London).Format("Mon 2 Jan")
}

// Where is the place, "Online", or both.
func (it Item) Where() string {
	switch {
	case it.Online && it.Place != "":
		return it.Place + " and online"
	case it.Online:
		return "Online"
	}
	return it.Place
}

// ISOStart is the start for a <time datetime> attribute.
func (it Item) ISOStart() string {
	if it.DateOnly {
		return it.Start.UTC().Format("2006-01-02")
	}
	return it.Start.In(London).Format(time.RFC3339)
}

// clock is "6pm" or "6:30pm", with the zone when the hour repeats.
func clock(t time.Time) string {
	layout := "3:04pm"
	if t.Minute() == 0 {
		layout = "3pm"
	}
	s := t.Format(layout)
	if repeats(t) {
		s += " " + t.Format("MST")
	}
	return s
}

// repeats reports whether t's wall-clock time occurs twice that day.
func repeats(t time.Time) bool {
	wall := t.Format("2006-01-02 15:04")
	return t.Add(time.Hour).In(t.Location()).Format("2006-01-02 15:04") == wall ||
		t.Add(-time.Hour).In(t.Location()).Format("2006-01-02 15:04") == wall
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// summary is the first paragraph of Facebook's text, cut at a word near 280
// characters.
func summary(text string) string {
	text = strings.TrimSpace(text)
	if p, _, ok := strings.Cut(text, "\n\n"); ok {
		text = p
	}
	text = strings.Join(strings.Fields(text), " ")
	const limit = 280
	if utf8.RuneCountInString(text) <= limit {
		return text
	}
	cut := string([]rune(text)[:limit])
	if i := strings.LastIndexByte(cut, ' '); i > limit/2 {
		cut = cut[:i]
	}
	return cut + "…"
}
