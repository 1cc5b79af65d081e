package bouncehooks_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/bouncehooks"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// request is one signed post.
type request struct {
	body   []byte
	header http.Header
}

// providerCase is one provider's report of one kind, and the ways to get it wrong.
type providerCase struct {
	name, provider string
	status         string // the supporter's status once applied
	// report is a signed report about m with event id ev.
	report func(t *testing.T, w *world, m message, ev string) request
	// forged is a report whose signature does not hold.
	forged func(t *testing.T, w *world, m message) request
	// unsigned carries no signature at all.
	unsigned func(t *testing.T, w *world, m message) request
	// malformed is signed but not the provider's shape.
	malformed func(t *testing.T, w *world) request
	// again is the same report as report(m, ev) delivered a second time
	// (for Mailgun, signed afresh: a reused token is refused outright).
	again func(t *testing.T, w *world, m message, ev string) request
}

func sesCase(name, version string, payload func(testing.TB, message, string) string, status string) providerCase {
	report := func(t *testing.T, w *world, m message, ev string) request {
		return request{w.sns.signed(t, version, notification("sns-"+ev, payload(t, m, ev))), noHeader()}
	}
	return providerCase{
		name: name, provider: bouncehooks.SES, status: status, report: report, again: report,
		forged: func(t *testing.T, w *world, m message) request {
			r := report(t, w, m, "forged")
			r.body = bytes.Replace(r.body, []byte("Permanent"), []byte("Transient"), 1)
			r.body = bytes.Replace(r.body, []byte(`abuse`), []byte(`fraud`), 1)
			return r
		},
		unsigned: func(t *testing.T, w *world, m message) request {
			return request{mustJSON(t, notification("sns-unsigned", payload(t, m, "unsigned"))), noHeader()}
		},
		malformed: func(t *testing.T, w *world) request {
			return request{w.sns.signed(t, version, notification("sns-bad", `{"notificationType": "Bounce", "mail": {`)), noHeader()}
		},
	}
}

func postmarkCase(name, record, typ, status string) providerCase {
	report := func(t *testing.T, w *world, m message, ev string) request {
		var id int64
		fmt.Sscan(strings.TrimPrefix(ev, "ev"), &id)
		return request{postmarkBounce(t, m, 4_323_372_036_854_775_000+id, record, typ), basicAuth(postmarkUser, postmarkPass)}
	}
	return providerCase{
		name: name, provider: bouncehooks.Postmark, status: status, report: report, again: report,
		forged: func(t *testing.T, w *world, m message) request {
			return request{postmarkBounce(t, m, 1, record, typ), basicAuth(postmarkUser, "guessed")}
		},
		unsigned: func(t *testing.T, w *world, m message) request {
			return request{postmarkBounce(t, m, 1, record, typ), noHeader()}
		},
		malformed: func(t *testing.T, w *world) request {
			return request{[]byte(`{"RecordType": "Bounce", "ID": 42, "Type": "HardBounce", "BouncedAt": "yesterday"}`), basicAuth(postmarkUser, postmarkPass)}
		},
	}
}

func mailgunCase(name, event, severity, status string) providerCase {
	return providerCase{
		name: name, provider: bouncehooks.Mailgun, status: status,
		report: func(t *testing.T, w *world, m message, ev string) request {
			return request{mailgunEvent(t, mailgunKey, time.Now(), "token-"+ev+"-first", m, ev, event, severity), noHeader()}
		},
		again: func(t *testing.T, w *world, m message, ev string) request {
			return request{mailgunEvent(t, mailgunKey, time.Now(), "token-"+ev+"-retry", m, ev, event, severity), noHeader()}
		},
		forged: func(t *testing.T, w *world, m message) request {
			return request{mailgunEvent(t, "key-guessed", time.Now(), "token-forged", m, "forged", event, severity), noHeader()}
		},
		unsigned: func(t *testing.T, w *world, m message) request {
			b := mailgunEvent(t, mailgunKey, time.Now(), "token-unsigned", m, "unsigned", event, severity)
			return request{bytes.Replace(b, []byte(`"signature":{`), []byte(`"unsigned":{`), 1), noHeader()}
		},
		malformed: func(t *testing.T, w *world) request {
			sig := mustJSON(t, map[string]any{"signature": mailgunSignature(mailgunKey, time.Now().Unix(), "token-malformed"), "event-data": map[string]any{"id": "x", "event": "failed", "severity": "sometimes", "recipient": "a@example.org"}})
			return request{sig, noHeader()}
		},
	}
}

func sendGridCase(name, event, status string) providerCase {
	report := func(t *testing.T, w *world, m message, ev string) request {
		body := mustJSON(t, []any{sendGridEvent(m, "sg-"+ev, "processed"), sendGridEvent(m, "sg-"+ev+"-d", "delivered"), sendGridEvent(m, "sg-"+ev, event)})
		return request{body, w.sendGridHeaders(t, body)}
	}
	return providerCase{
		name: name, provider: bouncehooks.SendGrid, status: status, report: report, again: report,
		forged: func(t *testing.T, w *world, m message) request {
			r := report(t, w, m, "forged")
			r.body = bytes.Replace(r.body, []byte(`"bounce"`), []byte(`"deferred"`), 1)
			r.body = bytes.Replace(r.body, []byte(`"spamreport"`), []byte(`"deferred"`), 1)
			return r
		},
		unsigned: func(t *testing.T, w *world, m message) request {
			return request{mustJSON(t, []any{sendGridEvent(m, "sg-unsigned", event)}), noHeader()}
		},
		malformed: func(t *testing.T, w *world) request {
			body := []byte(`{"event": "bounce", "email": "a@example.org"}`)
			return request{body, w.sendGridHeaders(t, body)}
		},
	}
}

var providerCases = []providerCase{
	sesCase("ses hard bounce, signature version 2", "2", sesBounce, vocab.StatusBounced),
	sesCase("ses complaint, signature version 1", "1", sesComplaint, vocab.StatusComplained),
	postmarkCase("postmark hard bounce", "Bounce", "HardBounce", vocab.StatusBounced),
	postmarkCase("postmark spam complaint", "SpamComplaint", "SpamComplaint", vocab.StatusComplained),
	mailgunCase("mailgun permanent failure", "failed", "permanent", vocab.StatusBounced),
	mailgunCase("mailgun complaint", "complained", "", vocab.StatusComplained),
	sendGridCase("sendgrid bounce", "bounce", vocab.StatusBounced),
	sendGridCase("sendgrid spam report", "spamreport", vocab.StatusComplained),
}

// TestEachProviderReportAppliesOnce: for every provider and kind, a forged,
// an unsigned and a malformed post change nothing; a report about a message
// never sent is answered 200 and changes nothing; the real report gives
// exactly one outcome, and a second copy changes nothing.
func TestEachProviderReportAppliesOnce(t *testing.T) {
	w := newWorld(t, len(providerCases))
	for i, pc := range providerCases {
		t.Run(pc.name, func(t *testing.T) {
			to, messageID, from := w.mail(i)
			m := message{to, messageID, from}
			ev := fmt.Sprintf("ev%d", i)

			before := w.state(t)
			for what, r := range map[string]request{"forged": pc.forged(t, w, m), "unsigned": pc.unsigned(t, w, m)} {
				if code, body := w.post(t, pc.provider, r.body, r.header); code != http.StatusUnauthorized {
					t.Errorf("%s: got %d %s, want 401", what, code, body)
				}
			}
			r := pc.malformed(t, w)
			if code, body := w.post(t, pc.provider, r.body, r.header); code != http.StatusBadRequest {
				t.Errorf("malformed: got %d %s, want 400", code, body)
			}
			r = pc.report(t, w, stranger, ev+"-stranger")
			code, body := w.post(t, pc.provider, r.body, r.header)
			if code != http.StatusOK || tally(t, body) != (bouncehooks.Tally{Unmatched: 1, Ignored: tally(t, body).Ignored}) {
				t.Errorf("never sent: got %d %s, want 200 and one unmatched", code, body)
			}
			if after := w.state(t); after != before {
				t.Fatal("a refused post or an unmatched report changed the data")
			}

			counter := map[string]string{vocab.StatusBounced: "bounced", vocab.StatusComplained: "complaints"}[pc.status]
			count := func() int {
				c, err := w.env.App.FindRecordById(vocab.Campaigns, w.campaign.Id)
				if err != nil {
					t.Fatal(err)
				}
				return c.GetInt(counter)
			}
			was := count()
			r = pc.report(t, w, m, ev)
			code, body = w.post(t, pc.provider, r.body, r.header)
			if code != http.StatusOK || tally(t, body).Applied != 1 || tally(t, body).Duplicate != 0 {
				t.Fatalf("report: got %d %s, want 200 and one applied", code, body)
			}
			if got := w.supporter(t, i).GetString("status"); got != pc.status {
				t.Errorf("supporter is %s, want %s", got, pc.status)
			}
			if n := w.env.Count(t, vocab.Suppressions, fmt.Sprintf("email_hash = '%s'", signup.HashEmail(to))); n != 1 {
				t.Errorf("%d suppressions for the address, want 1", n)
			}
			if got := count(); got != was+1 {
				t.Errorf("the campaign's %s went from %d to %d, want one more", counter, was, got)
			}
			if n := w.env.Count(t, vocab.BounceReports, fmt.Sprintf("supporter = '%s'", w.sups[i].Id)); n != 1 {
				t.Errorf("%d bounce reports on the supporter's timeline, want 1", n)
			}
			applied := w.state(t)
			r = pc.again(t, w, m, ev)
			code, body = w.post(t, pc.provider, r.body, r.header)
			if code != http.StatusOK || tally(t, body).Applied != 0 || tally(t, body).Duplicate != 1 {
				t.Errorf("second copy: got %d %s, want 200 and one duplicate", code, body)
			}
			if w.state(t) != applied {
				t.Error("the second copy changed the data")
			}
		})
	}
}

// TestProviderWithoutSecretAnswers503: an app with no CRM_WEBHOOK_* set
// accepts nothing, signed or not.
func TestProviderWithoutSecretAnswers503(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	for _, p := range []string{bouncehooks.SES, bouncehooks.Postmark, bouncehooks.Mailgun, bouncehooks.SendGrid} {
		code, body := env.PostJSON(t, "/api/webhooks/"+p, `[]`)
		if code != http.StatusServiceUnavailable {
			t.Errorf("%s: got %d %s, want 503", p, code, body)
		}
	}
	if code, _ := env.PostJSON(t, "/api/webhooks/sparkpost", `[]`); code != http.StatusNotFound {
		t.Errorf("an unknown provider got %d, want 404", code)
	}
}
