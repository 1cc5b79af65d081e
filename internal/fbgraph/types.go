// Package fbgraph reads a Facebook Page's posts and (where Meta permits the
// app) its events from the Graph API. It knows nothing of PocketBase: the
// sync decides what to store. Tokens travel in the Authorization header and
// are redacted from every error.
package fbgraph

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"supportercrm/internal/clip"
)

// Post is a Page post, with what an event announcement carries.
type Post struct {
	ID          string       `json:"id"`
	Message     string       `json:"message"`
	Created     Time         `json:"created_time"`
	Updated     Time         `json:"updated_time"`
	Permalink   string       `json:"permalink_url"`
	Picture     string       `json:"full_picture"`
	StatusType  string       `json:"status_type"`
	Attachments []Attachment `json:"-"`
}

// Attachment is one item of a post's attachments.
type Attachment struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	URL         string `json:"url"`
	Target      struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	} `json:"target"`
	Media struct {
		Image struct {
			Src string `json:"src"`
		} `json:"image"`
	} `json:"media"`
}

// Event returns the event attachment of a post that announces an event
// (status_type created_event, or an attachment of type event), or nil.
func (p Post) Event() *Attachment {
	for i := range p.Attachments {
		if p.Attachments[i].Type == "event" {
			return &p.Attachments[i]
		}
	}
	if p.StatusType == "created_event" {
		if len(p.Attachments) > 0 {
			return &p.Attachments[0]
		}
		return &Attachment{}
	}
	return nil
}

// Event is a Page event from the events edge.
type Event struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Start       Time        `json:"start_time"`
	End         Time        `json:"end_time"`
	Timezone    string      `json:"timezone"`
	Canceled    bool        `json:"is_canceled"`
	Online      bool        `json:"is_online"`
	OnlineURL   string      `json:"online_event_third_party_url"`
	TicketURL   string      `json:"ticket_uri"`
	Updated     Time        `json:"updated_time"`
	Place       Place       `json:"place"`
	Cover       Cover       `json:"cover"`
	Times       []EventTime `json:"event_times"`
}

// Place is where an event happens.
type Place struct {
	Name     string `json:"name"`
	Location struct {
		Street  string `json:"street"`
		City    string `json:"city"`
		Zip     string `json:"zip"`
		Country string `json:"country"`
	} `json:"location"`
}

// String is the place as one line: "St Mary's Church Hall, 1 Church Lane, Leeds LS1 1AA".
func (p Place) String() string {
	var parts []string
	for _, s := range []string{p.Name, p.Location.Street, strings.TrimSpace(p.Location.City + " " + p.Location.Zip)} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// Cover is an event's cover image.
type Cover struct {
	Source string `json:"source"`
}

// EventTime is one date of a recurring (multi-date) event.
type EventTime struct {
	ID    string `json:"id"`
	Start Time   `json:"start_time"`
	End   Time   `json:"end_time"`
}

// Time is a Graph API time. Facebook writes offsets without a colon
// ("2026-12-05T18:00:00+0000"), which time.RFC3339 rejects, and some event
// times are dates only ("2026-12-20").
type Time struct {
	time.Time
	DateOnly bool
}

// ParseTime reads the formats the Graph API uses. An empty string is the
// zero Time (e.g. a missing end time).
func ParseTime(s string) (Time, error) {
	if s == "" {
		return Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return Time{Time: t.UTC()}, nil
		}
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return Time{Time: t, DateOnly: true}, nil
	}
	return Time{}, fmt.Errorf("unrecognised Graph API time %q", s)
}

// UnmarshalJSON parses a quoted Graph API time.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*t = Time{}
		return nil
	}
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return fmt.Errorf("time must be a string, got %s", clip.Runes(s, 40))
	}
	parsed, err := ParseTime(s[1 : len(s)-1])
	if err != nil {
		return err
	}
	*t = parsed
	return nil
}

// UnmarshalJSON reads a post, flattening attachments{data:[…]}.
func (p *Post) UnmarshalJSON(b []byte) error {
	type plain Post
	var aux struct {
		plain
		Attachments struct {
			Data []Attachment `json:"data"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*p = Post(aux.plain)
	p.Attachments = aux.Attachments.Data
	return nil
}
