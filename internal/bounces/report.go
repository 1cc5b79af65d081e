// Package bounces closes the loop on mail that was sent: bounces and
// complaints reported after the relay accepted a message (a DSN or an ARF
// report by email, or a provider's webhook) become a Report, and Process
// applies it: the delivery or outbox row, the supporter, the suppression
// list, the consent record, the campaign's counters and the supporter's
// timeline. Every message names itself in its envelope sender (VERP, see
// Addresses), so a report maps to the message even when its text is useless.
package bounces

import (
	"fmt"
	"strings"
	"time"
)

// Kind is what a report says happened.
type Kind string

// The kinds of report.
const (
	Hard      Kind = "hard"      // permanent failure (5.x.x, or Action: failed)
	Soft      Kind = "soft"      // temporary failure (4.x.x, Action: delayed)
	Complaint Kind = "complaint" // the recipient reported the message as spam
)

// Report is one bounce or complaint about one message, from any source.
// Any one of Token, MessageID and Recipient is enough to find the message;
// they are tried in that order. Recipient alone places a report only from
// a source that authenticates its reports (a signed webhook): mail anyone
// can send (Source "imap" or "smtp") must carry the token or Message-ID.
type Report struct {
	Kind Kind
	// Recipient is the address reported on, when the report gives it (RFC
	// 6590 lets a complaint redact it).
	Recipient string
	// MessageID is the original message's Message-ID, angle brackets or not.
	MessageID string
	// Token is the VERP token of the envelope sender the report was
	// addressed to: the whole address (bounces+TOKEN@domain) or TOKEN.
	Token string
	// Status is the enhanced status code (RFC 3463), e.g. "5.1.1".
	Status string
	// Diagnostic is what the receiving server said, e.g. "smtp; 550 5.1.1
	// user unknown". It is stored with addresses removed.
	Diagnostic string
	// Source names where the report came from: "imap", "smtp", "ses",
	// "postmark", "mailgun", "sendgrid".
	Source string
	// EventID is the report's own id at its source (a DSN's Message-ID, a
	// provider's event id): the same report twice is applied once. Empty
	// means one is made from the report's contents.
	EventID string
	// At is when the report says it happened; zero means now.
	At time.Time
}

// Action is what Process did with a report.
type Action string

// The actions.
const (
	// Applied: the report changed what it should (see Outcome).
	Applied Action = "applied"
	// Duplicate: this report, or one of its kind about the same message,
	// was applied before; nothing changed.
	Duplicate Action = "duplicate"
	// Unmatched: the report names no message we sent; nothing changed.
	Unmatched Action = "unmatched"
	// Erased: the message went to a supporter since erased; their address
	// stays suppressed and nothing was written.
	Erased Action = "erased"
)

// Outcome is what became of a report.
type Outcome struct {
	Action Action
	// The message reported on and whom it went to (empty when unmatched).
	Delivery, Outbox, Supporter, Campaign string
	// SupporterStatus is the supporter's status afterwards.
	SupporterStatus string
	// Suppressed says the address is on the suppression list afterwards.
	Suppressed bool
	// Alerted says this report took its campaign's complaint rate past
	// the alert threshold, and admins were told.
	Alerted bool
}

// limits on what a report may carry, so no source can bloat the database.
const (
	maxField      = 300
	maxDiagnostic = 1000
)

// InvalidReport is the error for a report Process refuses before reading
// or writing anything (a webhook answers it with 400).
type InvalidReport struct{ Problem string }

func (e *InvalidReport) Error() string { return "bounce report: " + e.Problem }

// validate checks a report before anything is read or written.
func (r *Report) validate() error {
	switch r.Kind {
	case Hard, Soft, Complaint:
	default:
		return &InvalidReport{fmt.Sprintf("kind must be hard, soft or complaint, got %q", r.Kind)}
	}
	r.Source = strings.TrimSpace(r.Source)
	if r.Source == "" || len(r.Source) > 40 {
		return &InvalidReport{"source must name where the report came from (1 to 40 characters)"}
	}
	for _, f := range []struct{ name, v string }{{"recipient", r.Recipient}, {"message id", r.MessageID}, {"token", r.Token}, {"status", r.Status}, {"event id", r.EventID}} {
		if len(f.v) > maxField || strings.ContainsAny(f.v, "\r\n") {
			return &InvalidReport{fmt.Sprintf("%s must be one line of at most %d characters", f.name, maxField)}
		}
	}
	if r.Token == "" && r.MessageID == "" && r.Recipient == "" {
		return &InvalidReport{"it names no message (no token, message id or recipient)"}
	}
	return nil
}
