package bouncehooks_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// The payloads below are written in the shapes each provider documents
// (SES "Contents of notifications", Postmark's bounce and spam complaint
// webhooks, Mailgun's webhook payloads, SendGrid's event webhook), with
// the fields a real one carries beside those the app reads.

// message names a message the way each provider reports it.
type message struct {
	to, messageID, envelopeFrom string
}

// stranger is a message this app never sent.
var stranger = message{"stranger@example.net", "<never-sent.1@example.org>", "someone@elsewhere.example"}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sesBounce is a Permanent bounce notification for m.
func sesBounce(t testing.TB, m message, feedbackID string) string {
	return string(mustJSON(t, map[string]any{
		"notificationType": "Bounce",
		"bounce": map[string]any{
			"feedbackId": feedbackID, "bounceType": "Permanent", "bounceSubType": "General",
			"bouncedRecipients": []map[string]string{{"emailAddress": m.to, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}},
			"timestamp":         "2026-12-03T10:00:00.000Z", "remoteMtaIp": "192.0.2.1", "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
		},
		"mail": sesMail(m),
	}))
}

// sesComplaint is an abuse complaint notification for m.
func sesComplaint(t testing.TB, m message, feedbackID string) string {
	return string(mustJSON(t, map[string]any{
		"notificationType": "Complaint",
		"complaint": map[string]any{
			"feedbackId": feedbackID, "complaintSubType": nil, "userAgent": "ExampleCorp Feedback Loop (V0.01)",
			"complainedRecipients":  []map[string]string{{"emailAddress": m.to}},
			"complaintFeedbackType": "abuse", "arrivalDate": "2026-12-03T10:01:00.000Z", "timestamp": "2026-12-03T10:02:00.000Z",
		},
		"mail": sesMail(m),
	}))
}

func sesMail(m message) map[string]any {
	return map[string]any{
		"timestamp": "2026-12-03T09:59:00.000Z", "source": m.envelopeFrom, "sourceArn": "arn:aws:ses:eu-west-2:123456789012:identity/example.org",
		"sourceIp": "192.0.2.10", "sendingAccountId": "123456789012", "messageId": "0102017c-ses-own-id",
		"destination": []string{m.to}, "headersTruncated": false,
		"headers":       []map[string]string{{"name": "From", "value": "Charity <news@example.org>"}, {"name": "Message-ID", "value": m.messageID}},
		"commonHeaders": map[string]any{"from": []string{"Charity <news@example.org>"}, "to": []string{m.to}, "messageId": m.messageID, "subject": "Winter news"},
	}
}

// postmarkBounce is a HardBounce (or, with typ "SpamComplaint", a spam
// complaint) webhook for m.
func postmarkBounce(t testing.TB, m message, id int64, record, typ string) []byte {
	code := map[string]int{"HardBounce": 1, "SpamComplaint": 100001, "AutoResponder": 64}[typ]
	return mustJSON(t, map[string]any{
		"RecordType": record, "ID": id, "Type": typ, "TypeCode": code, "Name": "Hard bounce", "Tag": "newsletter",
		"MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "ServerID": 23, "MessageStream": "broadcast",
		"Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
		"Details":     "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
		"Email":       m.to, "From": "news@example.org", "BouncedAt": "2026-12-03T10:00:00.2735393Z",
		"DumpAvailable": true, "Inactive": true, "CanActivate": true, "Subject": "Winter news",
	})
}

// mailgunEvent is a webhook for m: event "failed" (severity permanent or
// temporary) or "complained", signed with key at ts with token.
func mailgunEvent(t testing.TB, key string, ts time.Time, token string, m message, id, event, severity string) []byte {
	data := map[string]any{
		"id": id, "event": event, "timestamp": float64(ts.UnixMilli()) / 1000, "recipient": m.to, "recipient-domain": "example.org",
		"log-level": "error", "tags": []string{"newsletter"},
		"envelope": map[string]string{"sender": m.envelopeFrom, "transport": "smtp", "targets": m.to},
		"message":  map[string]any{"headers": map[string]string{"to": m.to, "message-id": m.messageID, "from": "news@example.org", "subject": "Winter news"}, "size": 6120},
		"flags":    map[string]bool{"is-routed": false, "is-authenticated": true, "is-test-mode": false},
	}
	if event == "failed" {
		data["severity"] = severity
		data["reason"] = "bounce"
		data["delivery-status"] = map[string]any{"code": 550, "attempt-no": 1, "message": "550 5.1.1 The email account that you tried to reach does not exist.", "description": "", "mx-host": "mx.example.net"}
	}
	return mustJSON(t, map[string]any{"signature": mailgunSignature(key, ts.Unix(), token), "event-data": data})
}

// sendGridEvents is a batch of events; each is a map so a test can add
// the fields of its kind.
func sendGridEvent(m message, id, event string) map[string]any {
	ev := map[string]any{
		"email": m.to, "timestamp": time.Now().Unix(), "smtp-id": m.messageID, "event": event,
		"category": []string{"newsletter"}, "sg_event_id": id, "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
	}
	switch event {
	case "bounce":
		ev["type"], ev["status"], ev["reason"] = "bounce", "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist."
		ev["bounce_classification"] = "Invalid Address"
	case "deferred":
		ev["response"], ev["attempt"] = "421 4.7.0 Try again later", "1"
	}
	return ev
}

func noHeader() http.Header { return http.Header{} }
