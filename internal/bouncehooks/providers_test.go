package bouncehooks_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/bouncehooks"
	"supportercrm/internal/vocab"
)

// TestMailgunTokenOnceWithinTheWindow: Mailgun signs only timestamp and
// token, so a token is accepted once (even with other event data), and a
// timestamp outside the replay window is refused.
func TestMailgunTokenOnceWithinTheWindow(t *testing.T) {
	w := newWorld(t, 2)
	to, id, from := w.mail(0)
	m := message{to, id, from}
	first := mailgunEvent(t, mailgunKey, time.Now(), "token-once", m, "mg-1", "failed", "temporary")
	if code, body := w.post(t, bouncehooks.Mailgun, first, noHeader()); code != http.StatusOK || tally(t, body).Applied != 1 {
		t.Fatalf("first: got %d %s", code, body)
	}
	before := w.state(t)
	to2, id2, from2 := w.mail(1)
	replayed := mailgunEvent(t, mailgunKey, time.Now(), "token-once", message{to2, id2, from2}, "mg-2", "complained", "")
	if code, body := w.post(t, bouncehooks.Mailgun, replayed, noHeader()); code != http.StatusUnauthorized || !strings.Contains(body, "used before") {
		t.Errorf("reused token: got %d %s, want 401", code, body)
	}
	stale := mailgunEvent(t, mailgunKey, time.Now().Add(-bouncehooks.DefaultMailgunWindow-time.Minute), "token-stale", message{to2, id2, from2}, "mg-3", "complained", "")
	if code, body := w.post(t, bouncehooks.Mailgun, stale, noHeader()); code != http.StatusUnauthorized || !strings.Contains(body, "replay window") {
		t.Errorf("stale timestamp: got %d %s, want 401", code, body)
	}
	if w.state(t) != before {
		t.Error("a refused post changed the data")
	}
	if got := w.supporter(t, 1).GetString("status"); got != vocab.StatusSubscribed {
		t.Errorf("a replayed signature made the supporter %s", got)
	}
}

// TestSendGridBatch: one signed array carries events of every kind; each
// bounce-like event is one report, the rest are ignored, and a dropped
// event for an address SendGrid knows bounced is a hard bounce.
func TestSendGridBatch(t *testing.T) {
	w := newWorld(t, 3)
	var ms []message
	for i := range 3 {
		to, id, from := w.mail(i)
		ms = append(ms, message{to, id, from})
	}
	dropped := sendGridEvent(ms[2], "sg-drop", "dropped")
	dropped["reason"] = "Bounced Address"
	blocked := sendGridEvent(ms[1], "sg-block", "bounce")
	blocked["type"] = "blocked"
	events := []any{
		sendGridEvent(ms[0], "sg-p", "processed"), sendGridEvent(ms[0], "sg-def", "deferred"), sendGridEvent(ms[0], "sg-open", "open"),
		blocked, dropped, sendGridEvent(ms[1], "sg-unsub", "unsubscribe"),
	}
	body := mustJSON(t, events)
	code, answer := w.post(t, bouncehooks.SendGrid, body, w.sendGridHeaders(t, body))
	if code != http.StatusOK || tally(t, answer) != (bouncehooks.Tally{Applied: 3, Ignored: 3}) {
		t.Fatalf("got %d %s, want 3 applied and 3 ignored", code, answer)
	}
	want := []string{vocab.StatusSubscribed, vocab.StatusSubscribed, vocab.StatusBounced}
	for i, st := range want {
		if got := w.supporter(t, i).GetString("status"); got != st {
			t.Errorf("supporter %d is %s, want %s", i, got, st)
		}
	}
	if n := w.env.Count(t, vocab.BounceReports, "kind = 'soft'"); n != 2 {
		t.Errorf("%d soft reports (deferred, blocked), want 2", n)
	}
	// A signature over another timestamp does not hold.
	h := w.sendGridHeaders(t, body)
	h.Set("X-Twilio-Email-Event-Webhook-Timestamp", "1")
	if code, _ := w.post(t, bouncehooks.SendGrid, body, h); code != http.StatusUnauthorized {
		t.Errorf("re-timestamped: got %d, want 401", code)
	}
}

// TestPostmarkIgnoresAutoRepliesAndNamesMissingFields: an auto-responder
// "bounce" changes nothing; a bounce without Email is refused naming it.
func TestPostmarkIgnoresAutoRepliesAndNamesMissingFields(t *testing.T) {
	w := newWorld(t, 1)
	to, id, from := w.mail(0)
	before := w.state(t)
	auto := postmarkBounce(t, message{to, id, from}, 7, "Bounce", "AutoResponder")
	if code, body := w.post(t, bouncehooks.Postmark, auto, basicAuth(postmarkUser, postmarkPass)); code != http.StatusOK || tally(t, body) != (bouncehooks.Tally{Ignored: 1}) {
		t.Errorf("auto-reply: got %d %s, want 200 and one ignored", code, body)
	}
	noEmail := bytes.Replace(postmarkBounce(t, message{to, id, from}, 8, "Bounce", "HardBounce"), []byte(`"Email":"`+to+`"`), []byte(`"Email":""`), 1)
	if code, body := w.post(t, bouncehooks.Postmark, noEmail, basicAuth(postmarkUser, postmarkPass)); code != http.StatusBadRequest || !strings.Contains(body, "Email") {
		t.Errorf("no Email: got %d %s, want 400 naming Email", code, body)
	}
	if w.state(t) != before {
		t.Error("the data changed")
	}
}
