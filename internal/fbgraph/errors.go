package fbgraph

import (
	"fmt"
	"time"
)

// Kind says what the sync should do about an error.
type Kind int

const (
	// Transient: a 5xx, timeout or Facebook's own "try again" (codes 1, 2);
	// retried a few times, then left for the next run.
	Transient Kind = iota
	// TokenInvalid: expired or revoked token (190, 102); stop and ask an
	// admin to reconnect.
	TokenInvalid
	// RateLimited: app, user or Page limits (4, 17, 32, 613, 80001) or usage
	// headers near 100%; stop and resume on a later run.
	RateLimited
	// NotPermitted: the app lacks the permission (10, 200-299, or 100 with
	// subcode 33, which the restricted events edge answers).
	NotPermitted
	// Malformed: a response that isn't the JSON the API documents.
	Malformed
	// Other: anything else (e.g. a bad parameter).
	Other
	// Capped: the list went on past Config.MaxPages; what was read is
	// incomplete, and will be on every run until the list is shortened.
	Capped
)

func (k Kind) String() string {
	return [...]string{"transient", "token invalid", "rate limited", "not permitted", "malformed", "other", "page cap reached"}[k]
}

// Error is a Graph API failure with the token redacted from its message.
type Error struct {
	Kind    Kind
	Status  int // HTTP status, 0 when none arrived
	Code    int
	Subcode int
	Message string
	TraceID string
	// Wait is how long Facebook asked us to wait, when it said.
	Wait time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("facebook graph: %s", e.Kind)
	if e.Code != 0 {
		s += fmt.Sprintf(" (code %d", e.Code)
		if e.Subcode != 0 {
			s += fmt.Sprintf(", subcode %d", e.Subcode)
		}
		s += ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Kind == NotPermitted {
		s += " - reading a Page's events needs Meta's permission (Marketing Partners only); set FACEBOOK_SOURCE=posts to sync event posts instead"
	}
	if e.TraceID != "" {
		s += " [fbtrace_id " + e.TraceID + "]"
	}
	return s
}

// kindOf maps a Graph error code to what to do.
func kindOf(code, subcode int) Kind {
	switch {
	case code == 190 || code == 102:
		return TokenInvalid
	case code == 4 || code == 17 || code == 32 || code == 613 || code == 80001 || (code >= 80000 && code <= 80014):
		return RateLimited
	case code == 10 || (code >= 200 && code <= 299) || (code == 100 && subcode == 33):
		return NotPermitted
	case code == 1 || code == 2:
		return Transient
	}
	return Other
}
