package bouncehooks_test

import (
	"net/http"
	"strings"
	"testing"

	"supportercrm/internal/bouncehooks"
	"supportercrm/internal/vocab"
)

func subscription(w *world, token string) snsFields {
	return snsFields{
		"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "Token": token, "TopicArn": topicARN,
		"Message":      "You have chosen to subscribe to the topic " + topicARN + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		"SubscribeURL": w.sns.srv.URL + "/?Action=ConfirmSubscription&TopicArn=" + topicARN + "&Token=" + token,
		"Timestamp":    "2026-12-03T10:00:00.000Z",
	}
}

// TestSNSSubscriptionIsConfirmedOnAnSNSHostOnly: a signed confirmation is
// confirmed by visiting its SubscribeURL; one whose SubscribeURL or
// SigningCertURL points anywhere but an SNS host is refused without
// fetching, as is a topic we did not subscribe to.
func TestSNSSubscriptionIsConfirmedOnAnSNSHostOnly(t *testing.T) {
	w := newWorld(t, 1)
	code, body := w.post(t, bouncehooks.SES, w.sns.signed(t, "2", subscription(w, "tok-good")), noHeader())
	if _, ok := w.sns.confirmed.Load("tok-good"); code != http.StatusOK || !ok {
		t.Fatalf("confirmation: got %d %s, confirmed %v", code, body, ok)
	}

	elsewhere := subscription(w, "tok-elsewhere")
	elsewhere["SubscribeURL"] = "https://evil.example/?Action=ConfirmSubscription&Token=tok-elsewhere"
	plainHTTP := subscription(w, "tok-http")
	plainHTTP["SubscribeURL"] = strings.Replace(plainHTTP["SubscribeURL"], "https://", "http://", 1)
	certElsewhere := subscription(w, "tok-cert")
	certElsewhere["SigningCertURL"] = "https://sns.eu-west-2.amazonaws.com.evil.example/cert.pem"
	certHTTP := subscription(w, "tok-cert-http")
	certHTTP["SigningCertURL"] = strings.Replace(w.sns.srv.URL, "https://", "http://", 1) + "/cert.pem"
	otherTopic := subscription(w, "tok-topic")
	otherTopic["TopicArn"] = "arn:aws:sns:eu-west-2:999999999999:someone-elses"
	gets := w.sns.certGets.Load()
	for name, m := range map[string]snsFields{"SubscribeURL elsewhere": elsewhere, "SubscribeURL over http": plainHTTP, "certificate elsewhere": certElsewhere, "certificate over http": certHTTP, "another topic": otherTopic} {
		code, body := w.post(t, bouncehooks.SES, w.sns.signed(t, "1", m), noHeader())
		if code != http.StatusUnauthorized {
			t.Errorf("%s: got %d %s, want 401", name, code, body)
		}
		if _, ok := w.sns.confirmed.Load(m["Token"]); ok {
			t.Errorf("%s: the subscription was confirmed", name)
		}
	}
	if got := w.sns.certGets.Load(); got != gets {
		t.Errorf("the signing certificate was fetched %d more times; it is cached after the first", got-gets)
	}
}

// TestSESTransientAndDeliveryNotifications: a Transient bounce counts as
// soft (the supporter stays subscribed), a Delivery notification is
// ignored, and a notification without a type is malformed.
func TestSESTransientAndDeliveryNotifications(t *testing.T) {
	w := newWorld(t, 1)
	to, id, from := w.mail(0)
	transient := strings.Replace(sesBounce(t, message{to, id, from}, "fb-transient"), "Permanent", "Transient", 1)
	code, body := w.post(t, bouncehooks.SES, w.sns.signed(t, "2", notification("sns-t", transient)), noHeader())
	if code != http.StatusOK || tally(t, body).Applied != 1 {
		t.Fatalf("transient: got %d %s", code, body)
	}
	if got := w.supporter(t, 0).GetString("status"); got != vocab.StatusSubscribed {
		t.Errorf("one soft bounce made the supporter %s", got)
	}
	if n := w.env.Count(t, vocab.BounceReports, "kind = 'soft'"); n != 1 {
		t.Errorf("%d soft reports, want 1", n)
	}
	delivery := `{"notificationType":"Delivery","mail":{"source":"` + from + `"},"delivery":{"recipients":["` + to + `"]}}`
	code, body = w.post(t, bouncehooks.SES, w.sns.signed(t, "2", notification("sns-d", delivery)), noHeader())
	if code != http.StatusOK || tally(t, body) != (bouncehooks.Tally{Ignored: 1}) {
		t.Errorf("delivery: got %d %s, want 200 and one ignored", code, body)
	}
	code, body = w.post(t, bouncehooks.SES, w.sns.signed(t, "2", notification("sns-x", `{"mail":{}}`)), noHeader())
	if code != http.StatusBadRequest || !strings.Contains(body, "notificationType") {
		t.Errorf("no type: got %d %s, want 400 naming notificationType", code, body)
	}
}
