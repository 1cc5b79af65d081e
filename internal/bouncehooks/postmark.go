package bouncehooks

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"time"

	"supportercrm/internal/bounces"
)

// postmarkEvent is a Bounce or SpamComplaint webhook (Postmark's "Bounce
// webhook" and "Spam complaint webhook"). Postmark's MessageID is its own,
// not our Message-ID, so a report is placed by its recipient's latest
// message.
type postmarkEvent struct {
	RecordType string
	ID         json.Number
	Type       string
	Email      string
	Details    string
	BouncedAt  time.Time
}

// postmarkKinds maps bounce types to report kinds; types not listed
// (AutoResponder, Subscribe, Unsubscribe, AddressChange, ChallengeVerification,
// VirusNotification, SpamNotification, ManuallyDeactivated…) say nothing
// about the mailbox and are ignored.
var postmarkKinds = map[string]bounces.Kind{
	"HardBounce":      bounces.Hard,
	"BadEmailAddress": bounces.Hard,
	"Transient":       bounces.Soft,
	"SoftBounce":      bounces.Soft,
	"DnsError":        bounces.Soft,
	"InboxFull":       bounces.Soft,
	"Blocked":         bounces.Soft,
	"DMARCPolicy":     bounces.Soft,
	"Unknown":         bounces.Soft,
	"SpamComplaint":   bounces.Complaint,
}

// checkBasicAuth compares the request's basic-auth pair with the
// configured one in constant time (digests, so lengths leak nothing).
func (c PostmarkConfig) checkBasicAuth(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u1, u2 := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(c.User))
	p1, p2 := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(c.Password))
	return subtle.ConstantTimeCompare(u1[:], u2[:])&subtle.ConstantTimeCompare(p1[:], p2[:]) == 1
}

func (h *Hooks) parsePostmark(r *http.Request, body []byte) (batch, error) {
	if !h.Config.Postmark.checkBasicAuth(r) {
		return batch{}, unauthorized("Basic authentication with the webhook's user and password is required")
	}
	var ev postmarkEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return batch{}, malformed("The body is not a Postmark webhook: %v", err)
	}
	var b batch
	switch ev.RecordType {
	case "Bounce", "SpamComplaint":
	case "":
		return batch{}, malformed("RecordType is required")
	default: // Delivery, Open, Click, SubscriptionChange
		b.ignored++
		return b, nil
	}
	if ev.ID == "" {
		return batch{}, malformed("ID is required")
	}
	kind, ok := postmarkKinds[ev.Type]
	if ev.RecordType == "SpamComplaint" {
		kind, ok = bounces.Complaint, true
	}
	if !ok {
		b.ignored++
		return b, nil
	}
	if ev.Email == "" {
		return batch{}, malformed("Email is required")
	}
	b.reports = []bounces.Report{{
		Kind: kind, Source: Postmark, EventID: ev.ID.String(), Recipient: ev.Email,
		Status: statusIn(ev.Details), Diagnostic: ev.Details, At: ev.BouncedAt,
	}}
	return b, checkReports(b.reports)
}
