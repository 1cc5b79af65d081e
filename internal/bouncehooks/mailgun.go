package bouncehooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/bounces"
)

// mailgunWebhook is a Mailgun webhook (its "Webhooks" payloads): the
// signature beside the event.
type mailgunWebhook struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData *struct {
		ID        string  `json:"id"`
		Event     string  `json:"event"`
		Severity  string  `json:"severity"`
		Recipient string  `json:"recipient"`
		Timestamp float64 `json:"timestamp"`
		Envelope  struct {
			Sender string `json:"sender"`
		} `json:"envelope"`
		Message struct {
			Headers struct {
				MessageID string `json:"message-id"`
			} `json:"headers"`
		} `json:"message"`
		DeliveryStatus struct {
			Message      string `json:"message"`
			Description  string `json:"description"`
			EnhancedCode string `json:"enhanced-code"`
		} `json:"delivery-status"`
	} `json:"event-data"`
}

// verifyMailgun checks HMAC-SHA256(signing key, timestamp + token) and that
// the timestamp is within the window.
func (h *Hooks) verifyMailgun(w *mailgunWebhook) error {
	s := w.Signature
	if s.Token == "" || s.Signature == "" || len(s.Token) > 200 {
		return unauthorized("signature.token and signature.signature are required")
	}
	mac := hmac.New(sha256.New, []byte(h.Config.Mailgun.SigningKey))
	mac.Write([]byte(s.Timestamp + s.Token))
	got, err := hex.DecodeString(s.Signature)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return unauthorized("the Mailgun signature does not match")
	}
	ts, err := strconv.ParseInt(s.Timestamp, 10, 64)
	if err != nil {
		return unauthorized("signature.timestamp is not a Unix time")
	}
	if skew := h.Now().Sub(time.Unix(ts, 0)); skew > h.Config.Mailgun.Window || skew < -h.Config.Mailgun.Window {
		return unauthorized("signature.timestamp is outside the replay window")
	}
	return nil
}

func (h *Hooks) parseMailgun(_ *http.Request, body []byte) (batch, error) {
	var w mailgunWebhook
	if err := json.Unmarshal(body, &w); err != nil {
		return batch{}, malformed("The body is not a Mailgun webhook: %v", err)
	}
	if err := h.verifyMailgun(&w); err != nil {
		return batch{}, err
	}
	ev := w.EventData
	if ev == nil {
		return batch{}, malformed("event-data is required")
	}
	b := batch{claim: func(tx core.App) error {
		return claimNonce(tx, Mailgun, w.Signature.Token, h.Now(), 2*h.Config.Mailgun.Window)
	}}
	r := bounces.Report{Source: Mailgun, EventID: ev.ID, Recipient: ev.Recipient, Token: ev.Envelope.Sender, MessageID: ev.Message.Headers.MessageID}
	switch {
	case ev.Event == "failed" && ev.Severity == "permanent":
		r.Kind = bounces.Hard
	case ev.Event == "failed" && ev.Severity == "temporary":
		r.Kind = bounces.Soft
	case ev.Event == "complained":
		r.Kind = bounces.Complaint
	case ev.Event == "failed":
		return batch{}, malformed("event-data.severity must be permanent or temporary")
	case ev.Event == "":
		return batch{}, malformed("event-data.event is required")
	default: // delivered, opened, clicked, unsubscribed…
		b.ignored++
		return b, nil
	}
	if ev.ID == "" {
		return batch{}, malformed("event-data.id is required")
	}
	ds := ev.DeliveryStatus
	r.Diagnostic = orDefault(ds.Message, ds.Description)
	r.Status = orDefault(ds.EnhancedCode, statusIn(ds.Message+" "+ds.Description))
	if ev.Timestamp > 0 {
		sec, frac := math.Modf(ev.Timestamp)
		r.At = time.Unix(int64(sec), int64(frac*1e9))
	}
	b.reports = []bounces.Report{r}
	return b, checkReports(b.reports)
}
