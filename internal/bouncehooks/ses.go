package bouncehooks

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"supportercrm/internal/bounces"
)

// sesNotification is an Amazon SES bounce or complaint notification (SES's
// "Contents of notifications"), or the same from event publishing, which
// names its type eventType.
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Mail             struct {
		// Source is the envelope sender (MAIL FROM): our VERP address.
		Source  string `json:"source"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string `json:"bounceType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
		Timestamp  time.Time `json:"timestamp"`
		FeedbackID string    `json:"feedbackId"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
		ComplaintFeedbackType string    `json:"complaintFeedbackType"`
		Timestamp             time.Time `json:"timestamp"`
		FeedbackID            string    `json:"feedbackId"`
	} `json:"complaint"`
}

// messageID is the original message's Message-ID: SES's own mail.messageId
// is its id, not ours.
func (n *sesNotification) messageID() string {
	if id := n.Mail.CommonHeaders.MessageID; id != "" {
		return id
	}
	for _, h := range n.Mail.Headers {
		if strings.EqualFold(h.Name, "Message-ID") {
			return h.Value
		}
	}
	return ""
}

// parseSES turns the notification inside a verified SNS message into one
// report per recipient. The event id is SES's feedbackId (the SNS message
// id when absent) and the recipient's place in the list, so an SNS retry
// is the same report and no address is kept in the id.
func parseSES(snsID string, msg []byte) (batch, error) {
	var n sesNotification
	if err := json.Unmarshal(msg, &n); err != nil {
		return batch{}, malformed("Message is not an SES notification: %v", err)
	}
	kind := n.NotificationType
	if kind == "" {
		kind = n.EventType
	}
	base := bounces.Report{Source: SES, MessageID: n.messageID(), Token: n.Mail.Source}
	var b batch
	switch kind {
	case "Bounce":
		if n.Bounce == nil || len(n.Bounce.BouncedRecipients) == 0 {
			return batch{}, malformed("bounce.bouncedRecipients is required in a Bounce notification")
		}
		base.Kind = bounces.Soft // Transient, and Undetermined: SES could not tell
		if n.Bounce.BounceType == "Permanent" {
			base.Kind = bounces.Hard
		}
		base.At = n.Bounce.Timestamp
		id := orDefault(n.Bounce.FeedbackID, snsID)
		for i, rcpt := range n.Bounce.BouncedRecipients {
			r := base
			r.Recipient, r.Status, r.Diagnostic = rcpt.EmailAddress, rcpt.Status, rcpt.DiagnosticCode
			r.EventID = id + "#" + strconv.Itoa(i)
			b.reports = append(b.reports, r)
		}
	case "Complaint":
		if n.Complaint == nil {
			return batch{}, malformed("complaint is required in a Complaint notification")
		}
		if n.Complaint.ComplaintFeedbackType == "not-spam" {
			b.ignored++ // the recipient said it is not spam
			return b, nil
		}
		base.Kind, base.At = bounces.Complaint, n.Complaint.Timestamp
		if t := n.Complaint.ComplaintFeedbackType; t != "" {
			base.Diagnostic = "feedback type " + t
		}
		id := orDefault(n.Complaint.FeedbackID, snsID)
		rcpts := n.Complaint.ComplainedRecipients
		if len(rcpts) == 0 { // a redacted complaint still names its message
			rcpts = append(rcpts, struct {
				EmailAddress string `json:"emailAddress"`
			}{})
		}
		for i, rcpt := range rcpts {
			r := base
			r.Recipient = rcpt.EmailAddress
			r.EventID = id + "#" + strconv.Itoa(i)
			b.reports = append(b.reports, r)
		}
	case "":
		return batch{}, malformed("notificationType (or eventType) is required")
	default: // Delivery, Send, Open…: not ours to act on
		b.ignored++
		return b, nil
	}
	return b, checkReports(b.reports)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
