package charity

import (
	"fmt"
	"html/template"
	"net/url"
	"regexp"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// DefaultLeaveURL is where "Leave this site quickly" goes while the charity
// record names no site of its own: a busy, neutral page that says nothing
// about what the visitor was reading.
const DefaultLeaveURL = "https://www.bbc.co.uk/weather"

// MaxHelpLines keeps the "Need help now?" block short.
const MaxHelpLines = 5

// HelpLine is one referral line in the "Need help now?" block of every
// public page, as admins keep it in the charity record's help_lines.
type HelpLine struct {
	Name   string `json:"name"`
	Number string `json:"number"`
	Hours  string `json:"hours"`
	URL    string `json:"url"`
}

// phoneNumber is a number as people write it: digits and spaces, an
// optional leading +.
var phoneNumber = regexp.MustCompile(`^\+?[0-9][0-9 ]{1,23}$`)

// Tel is the line's number as a tel: link. UK national numbers (0…) are
// written in international form (+44…), so the link dials from any phone.
// The number is validated on save, so only digits and + reach the URL.
func (h HelpLine) Tel() template.URL {
	digits := strings.ReplaceAll(h.Number, " ", "")
	if strings.HasPrefix(digits, "0") && len(digits) > 3 {
		digits = "+44" + digits[1:]
	}
	return template.URL("tel:" + digits)
}

// check says what is wrong with the line, or "".
func (h HelpLine) check() string {
	switch {
	case strings.TrimSpace(h.Name) == "" || len(h.Name) > 120:
		return "needs a name (120 characters at most)"
	case !phoneNumber.MatchString(h.Number):
		return "needs a phone number of digits and spaces, e.g. 0300 303 8151"
	case len(h.Hours) > 120:
		return "hours are 120 characters at most"
	case h.URL != "" && !isWebURL(h.URL):
		return "url must be an http(s) address, or empty"
	}
	return ""
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// helpLines decodes the record's help_lines.
func helpLines(r *core.Record) ([]HelpLine, error) {
	var lines []HelpLine
	if raw := r.GetString("help_lines"); raw != "" && raw != "null" {
		if err := r.UnmarshalJSONField("help_lines", &lines); err != nil {
			return nil, fmt.Errorf("help_lines: %w", err)
		}
	}
	return lines, nil
}

// leaveURL is the record's neutral site, or the default.
func leaveURL(r *core.Record) string {
	if u := r.GetString("leave_url"); u != "" {
		return u
	}
	return DefaultLeaveURL
}

// validateSafety refuses help lines the pages couldn't show as working
// links, and a neutral site that isn't a web address.
func validateSafety(e *core.RecordEvent) error {
	errs := validation.Errors{}
	lines, err := helpLines(e.Record)
	if err != nil {
		errs["help_lines"] = validation.NewError("invalid_help_lines", `must be a list like [{"name": "…", "number": "0300 303 8151", "hours": "24 hours", "url": ""}]`)
	} else if len(lines) > MaxHelpLines {
		errs["help_lines"] = validation.NewError("invalid_help_lines", fmt.Sprintf("at most %d lines, to keep the block short", MaxHelpLines))
	} else {
		for i, l := range lines {
			if msg := l.check(); msg != "" {
				errs["help_lines"] = validation.NewError("invalid_help_lines", fmt.Sprintf("line %d %s", i+1, msg))
				break
			}
		}
	}
	if u := e.Record.GetString("leave_url"); u != "" && !isWebURL(u) {
		errs["leave_url"] = validation.NewError("invalid_leave_url", "must be an http(s) address")
	}
	if len(errs) > 0 {
		return errs
	}
	return e.Next()
}

// bindSafety checks the safety fields on every save of the record.
func bindSafety(app core.App) {
	app.OnRecordValidate(vocab.Charity).BindFunc(validateSafety)
}
