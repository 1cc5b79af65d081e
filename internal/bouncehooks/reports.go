package bouncehooks

import (
	"regexp"
	"strings"

	"supportercrm/internal/bounces"
)

// maxField is the longest one-line field bounces.Process takes.
const maxField = 300

// checkReports refuses, as a malformed body, what bounces.Process would
// refuse as an error: a report must name its message somehow, and its
// fields are single lines of bounded length.
func checkReports(rs []bounces.Report) error {
	for i, r := range rs {
		if r.Token == "" && r.MessageID == "" && r.Recipient == "" {
			return malformed("event %d names no message (no recipient, Message-ID or envelope sender)", i+1)
		}
		for _, f := range []struct{ name, value string }{
			{"the recipient", r.Recipient}, {"the Message-ID", r.MessageID}, {"the envelope sender", r.Token},
			{"the status", r.Status}, {"the event id", r.EventID},
		} {
			if len(f.value) > maxField || strings.ContainsAny(f.value, "\r\n") {
				return malformed("event %d: %s must be one line of at most %d characters", i+1, f.name, maxField)
			}
		}
	}
	return nil
}

// enhancedCode finds an RFC 3463 status code (5.1.1) in a provider's text.
var enhancedCode = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)

func statusIn(text string) string { return enhancedCode.FindString(text) }
