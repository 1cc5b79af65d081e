package bouncehooks

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"supportercrm/internal/bounces"
)

// The signed event webhook's headers (SendGrid's "Event Webhook Security").
const (
	sendGridSignature = "X-Twilio-Email-Event-Webhook-Signature"
	sendGridTimestamp = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// ParseSendGridKey reads the verification key as SendGrid shows it: base64
// of an ECDSA P-256 public key in DER.
func ParseSendGridKey(b64 string) (*ecdsa.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, errors.New("the SendGrid verification key is not base64")
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("the SendGrid verification key is not a public key: %w", err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("the SendGrid verification key is not an ECDSA key")
	}
	return k, nil
}

// sendGridEvent is one event of the posted array (SendGrid's "Event
// Webhook Reference"). smtp-id is our Message-ID.
type sendGridEvent struct {
	Email     string `json:"email"`
	Timestamp int64  `json:"timestamp"`
	SMTPID    string `json:"smtp-id"`
	Event     string `json:"event"`
	EventID   string `json:"sg_event_id"`
	Reason    string `json:"reason"`
	Status    string `json:"status"`
	Type      string `json:"type"`
	Response  string `json:"response"`
}

// kind maps an event to a report kind; ok is false for events that say
// nothing about the mailbox (processed, delivered, open, click,
// unsubscribe, and drops for reasons of SendGrid's own).
func (ev *sendGridEvent) kind() (bounces.Kind, bool) {
	switch ev.Event {
	case "bounce":
		if ev.Type == "blocked" { // refused for now (reputation, policy)
			return bounces.Soft, true
		}
		return bounces.Hard, true
	case "deferred":
		return bounces.Soft, true
	case "spamreport":
		return bounces.Complaint, true
	case "dropped":
		switch ev.Reason {
		case "Bounced Address", "Invalid":
			return bounces.Hard, true
		case "Spam Reporting Address":
			return bounces.Complaint, true
		}
	}
	return "", false
}

func (h *Hooks) parseSendGrid(r *http.Request, body []byte) (batch, error) {
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(sendGridSignature))
	ts := r.Header.Get(sendGridTimestamp)
	if err != nil || len(sig) == 0 || ts == "" {
		return batch{}, unauthorized("the %s and %s headers are required", sendGridSignature, sendGridTimestamp)
	}
	digest := sha256.Sum256(append([]byte(ts), body...))
	if !ecdsa.VerifyASN1(h.Config.SendGrid.PublicKey, digest[:], sig) {
		return batch{}, unauthorized("the SendGrid signature does not match")
	}
	var events []sendGridEvent
	if err := json.Unmarshal(body, &events); err != nil {
		return batch{}, malformed("The body is not an array of SendGrid events: %v", err)
	}
	var b batch
	for i, ev := range events {
		kind, ok := ev.kind()
		if !ok {
			if ev.Event == "" {
				return batch{}, malformed("event %d: event is required", i+1)
			}
			b.ignored++
			continue
		}
		if ev.EventID == "" {
			return batch{}, malformed("event %d: sg_event_id is required", i+1)
		}
		rep := bounces.Report{
			Kind: kind, Source: SendGrid, EventID: ev.EventID, Recipient: ev.Email, MessageID: ev.SMTPID,
			Diagnostic: orDefault(ev.Reason, ev.Response),
			Status:     orDefault(statusIn(ev.Status), statusIn(ev.Reason+" "+ev.Response)),
		}
		if ev.Timestamp > 0 {
			rep.At = time.Unix(ev.Timestamp, 0)
		}
		b.reports = append(b.reports, rep)
	}
	return b, checkReports(b.reports)
}
