package bouncehooks_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/bouncehooks"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// Test secrets, as an admin would set them in CRM_WEBHOOK_*.
const (
	topicARN     = "arn:aws:sns:eu-west-2:123456789012:crm-bounces"
	postmarkUser = "postmark-hook"
	postmarkPass = "correct horse battery staple"
	mailgunKey   = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
	bounceDomain = "bounces.example.org"
)

// world is a running app that has sent a campaign, with each provider's
// test keys and a stand-in for SNS's own hosts (certificates and
// subscription confirmations) on a loopback TLS server.
type world struct {
	env      *testkit.Env
	campaign *core.Record
	sups     []*core.Record
	mails    map[string]testkit.Mail // by recipient
	sns      *fakeSNS
	sendgrid *ecdsa.PrivateKey
}

// fakeSNS serves the signing certificate at /cert.pem and answers
// ConfirmSubscription, counting both.
type fakeSNS struct {
	srv       *httptest.Server
	key       *rsa.PrivateKey
	certPEM   []byte
	certGets  atomic.Int64
	confirmed sync.Map // tokens confirmed
}

func newFakeSNS(t testing.TB) *fakeSNS {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSNS{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/cert.pem":
			f.certGets.Add(1)
			_, _ = w.Write(f.certPEM)
		case r.URL.Query().Get("Action") == "ConfirmSubscription":
			f.confirmed.Store(r.URL.Query().Get("Token"), true)
			_, _ = w.Write([]byte("<ConfirmSubscriptionResponse/>"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSNS) host() string { return strings.TrimPrefix(f.srv.URL, "https://") }

// newWorld starts the app with every provider configured and sends a
// campaign to n supporters through the test relay.
func newWorld(t testing.TB, n int) *world {
	t.Helper()
	w := &world{sns: newFakeSNS(t)}
	var err error
	if w.sendgrid, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	w.env = testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) {
		c.Bounces.Domain = bounceDomain
		c.Campaigns.FlushInterval = 20 * time.Millisecond
		c.Campaigns.WatchInterval = 50 * time.Millisecond
		c.Webhooks = bouncehooks.Config{
			SES:      bouncehooks.SESConfig{TopicARNs: []string{topicARN}, TestHosts: []string{w.sns.host()}, Client: w.sns.srv.Client()},
			Postmark: bouncehooks.PostmarkConfig{User: postmarkUser, Password: postmarkPass},
			Mailgun:  bouncehooks.MailgunConfig{SigningKey: mailgunKey},
			SendGrid: bouncehooks.SendGridConfig{PublicKey: &w.sendgrid.PublicKey},
		}
	}})
	w.sups = testkit.Subscribers(t, w.env.App, n)
	c := testkit.DueCampaign(t, w.env.App, "Winter news", "Dear {{.FirstName}}, thank you.")
	testkit.Eventually(t, 60*time.Second, func() bool {
		r, err := w.env.App.FindRecordById(vocab.Campaigns, c.Id)
		return err == nil && r.GetString("status") == vocab.CampaignSent
	})
	w.campaign = c
	w.mails = map[string]testkit.Mail{}
	for _, m := range w.env.SMTP.Mails() {
		w.mails[m.To[0]] = m
	}
	if len(w.mails) != n {
		t.Fatalf("the relay got %d messages, want %d", len(w.mails), n)
	}
	return w
}

// mail is what the relay received for supporter i: its Message-ID and its
// VERP envelope sender are what providers report back.
func (w *world) mail(i int) (to, messageID, envelopeFrom string) {
	to = w.sups[i].GetString("email")
	m := w.mails[to]
	return to, m.Header.Get("Message-ID"), m.From
}

// state is everything a report may change, to compare before and after.
func (w *world) state(t testing.TB) string {
	t.Helper()
	return testkit.Dump(t, w.env.App, vocab.Supporters, vocab.Deliveries, vocab.Suppressions, vocab.Consents, vocab.BounceReports, vocab.Campaigns)
}

func (w *world) supporter(t testing.TB, i int) *core.Record {
	t.Helper()
	r, err := w.env.App.FindRecordById(vocab.Supporters, w.sups[i].Id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// post sends a webhook and returns the status and the body.
func (w *world) post(t testing.TB, provider string, body []byte, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.env.URL+"/api/webhooks/"+provider, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := testkit.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// tally reads a 200 answer.
func tally(t testing.TB, body string) bouncehooks.Tally {
	t.Helper()
	var tl bouncehooks.Tally
	if err := json.Unmarshal([]byte(body), &tl); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return tl
}

// --- SNS messages, signed as SNS documents it ---

type snsFields map[string]string

// snsSigned is an SNS message with Signature set over its fields in the
// documented order, by the fake SNS's key, for version "1" or "2".
func (f *fakeSNS) signed(t testing.TB, version string, m snsFields) []byte {
	t.Helper()
	m["SignatureVersion"] = version
	if _, ok := m["SigningCertURL"]; !ok {
		m["SigningCertURL"] = f.srv.URL + "/cert.pem"
	}
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if m["Type"] != "Notification" {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var text strings.Builder
	for _, k := range keys {
		if v, ok := m[k]; ok {
			text.WriteString(k + "\n" + v + "\n")
		}
	}
	var sig []byte
	var err error
	if version == "1" {
		sum := sha1.Sum([]byte(text.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA1, sum[:])
	} else {
		sum := sha256.Sum256([]byte(text.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// notification wraps an SES notification in an SNS Notification.
func notification(id, message string) snsFields {
	return snsFields{
		"Type": "Notification", "MessageId": id, "TopicArn": topicARN, "Message": message,
		"Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
	}
}

// --- Mailgun and SendGrid signatures ---

func mailgunSignature(key string, ts int64, token string) map[string]string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + token))
	return map[string]string{"timestamp": strconv.FormatInt(ts, 10), "token": token, "signature": hex.EncodeToString(mac.Sum(nil))}
}

func (w *world) sendGridHeaders(t testing.TB, body []byte) http.Header {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sum := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, w.sendgrid, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{
		"X-Twilio-Email-Event-Webhook-Signature": {base64.StdEncoding.EncodeToString(sig)},
		"X-Twilio-Email-Event-Webhook-Timestamp": {ts},
	}
}

func basicAuth(user, pass string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}}
}
