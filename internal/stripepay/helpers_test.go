package stripepay_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/stripepay"
	"supportercrm/internal/testkit"
	"supportercrm/pb_hooks"
)

// webhookSecret is the test endpoint's signing secret.
const webhookSecret = "whsec_test_0123456789abcdef"

// apiVersion is the API version the events are written in: the library's.
const apiVersion = "2025-08-27.basil"

// startGiving starts the app with Stripe pointed at a stripe-mock of its own.
func startGiving(t testing.TB) *testkit.Env {
	t.Helper()
	mock := testkit.StripeMock(t)
	return testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) {
		c.MinSubmit = 0
		c.Stripe = stripepay.Config{SecretKey: "sk_test_mock", WebhookSecret: webhookSecret, APIBase: mock}
	}})
}

// sign is the Stripe-Signature header for payload at time ts, by Stripe's
// documented scheme: v1 is the hex HMAC-SHA256, keyed with the endpoint's
// secret, of the timestamp, a dot and the raw body.
func sign(secret string, ts time.Time, payload []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts.Unix())
	mac.Write(payload)
	return fmt.Sprintf("t=%d,v1=%s", ts.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

var eventSeq atomic.Int64

// event wraps a Stripe object in an event of the documented shape.
func event(typ string, created time.Time, object map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"id": fmt.Sprintf("evt_test_%d", eventSeq.Add(1)), "object": "event", "api_version": apiVersion,
		"created": created.Unix(), "type": typ, "livemode": false, "pending_webhooks": 1,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
		"data":    map[string]any{"object": object},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// deliver posts a signed event as Stripe would and returns the status.
func deliver(t testing.TB, env *testkit.Env, payload []byte) int {
	t.Helper()
	return deliverSigned(t, env, payload, sign(webhookSecret, time.Now(), payload))
}

func deliverSigned(t testing.TB, env *testkit.Env, payload []byte, sig string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+"/api/webhooks/stripe", strings.NewReader(string(payload)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sig)
	res, err := testkit.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// mustDeliver delivers an event that must be taken (200).
func mustDeliver(t testing.TB, env *testkit.Env, payload []byte) {
	t.Helper()
	if code := deliver(t, env, payload); code != http.StatusOK {
		t.Fatalf("webhook = %d, want 200 for %s", code, payload)
	}
}

// sub is one regular gift as Stripe knows it: the ids its events share.
type sub struct {
	checkout, session, customer, subscription, email string
	pence                                            int64
	interval                                         string
}

func (s sub) sessionCompleted() map[string]any {
	return map[string]any{
		"id": s.session, "object": "checkout.session", "mode": "subscription", "status": "complete", "payment_status": "paid",
		"client_reference_id": s.checkout, "customer": s.customer, "customer_email": s.email, "subscription": s.subscription,
		"payment_intent": nil, "amount_total": s.pence, "currency": "gbp", "metadata": map[string]any{"checkout": s.checkout},
	}
}

// invoice is the subscription's invoice n (1 for the first), paid or failed;
// with payments false the event leaves out the invoice's payments, as
// Stripe's do unless expanded.
func (s sub) invoice(n int, status string, attempt int, next *time.Time, payments bool) map[string]any {
	start := time.Now().AddDate(0, 0, 7*(n-1))
	in := map[string]any{
		"id": fmt.Sprintf("in_%s_%d", s.subscription, n), "object": "invoice", "customer": s.customer, "customer_email": s.email,
		"amount_due": s.pence, "amount_paid": 0, "currency": "gbp", "status": "open", "attempt_count": attempt, "attempted": true,
		"billing_reason": "subscription_cycle", "next_payment_attempt": nil,
		"parent": map[string]any{"type": "subscription_details", "subscription_details": map[string]any{
			"subscription": s.subscription, "metadata": map[string]any{"checkout": s.checkout}}},
		"lines": map[string]any{"object": "list", "data": []any{map[string]any{
			"id": fmt.Sprintf("il_%s_%d", s.subscription, n), "object": "line_item", "amount": s.pence, "currency": "gbp",
			"period": map[string]any{"start": start.Unix(), "end": start.AddDate(0, 0, 7).Unix()}}}},
		"status_transitions": map[string]any{"paid_at": nil},
	}
	if next != nil {
		in["next_payment_attempt"] = next.Unix()
	}
	if status == "paid" {
		in["status"], in["amount_paid"] = "paid", s.pence
		in["status_transitions"] = map[string]any{"paid_at": start.Unix()}
		if payments {
			in["payments"] = map[string]any{"object": "list", "data": []any{map[string]any{
				"id": fmt.Sprintf("inpay_%s_%d", s.subscription, n), "object": "invoice_payment", "status": "paid", "amount_paid": s.pence,
				"currency": "gbp", "is_default": true, "payment": map[string]any{"type": "payment_intent", "payment_intent": s.pi(n)}}}}
		}
	}
	return in
}

// pi is the PaymentIntent that paid invoice n.
func (s sub) pi(n int) string { return fmt.Sprintf("pi_%s_%d", s.subscription, n) }

func (s sub) subscriptionObject(status string, pence int64, interval string, ended *time.Time) map[string]any {
	o := map[string]any{
		"id": s.subscription, "object": "subscription", "customer": s.customer, "status": status,
		"metadata": map[string]any{"checkout": s.checkout}, "cancel_at_period_end": false, "cancel_at": nil, "canceled_at": nil, "ended_at": nil,
		"items": map[string]any{"object": "list", "data": []any{map[string]any{
			"id": "si_" + s.subscription, "object": "subscription_item", "quantity": 1,
			"current_period_start": time.Now().Unix(), "current_period_end": time.Now().AddDate(0, 0, 7).Unix(),
			"price": map[string]any{"id": "price_" + s.subscription, "object": "price", "unit_amount": pence, "currency": "gbp",
				"recurring": map[string]any{"interval": interval, "interval_count": 1}}}}},
	}
	if ended != nil {
		o["ended_at"], o["canceled_at"] = ended.Unix(), ended.Unix()
	}
	return o
}

// charge is the charge of PaymentIntent pi, refunded by refunded pence.
func charge(pi string, pence, refunded int64) map[string]any {
	return map[string]any{"id": "ch_" + strings.TrimPrefix(pi, "pi_"), "object": "charge", "amount": pence, "amount_refunded": refunded,
		"refunded": refunded >= pence, "currency": "gbp", "payment_intent": pi, "status": "succeeded"}
}

var hiddenRe = regexp.MustCompile(`name="(form_token|wording_version)" value="([^"]*)"`)

// formFields reads the hidden fields a giving page serves.
func formFields(t testing.TB, env *testkit.Env, path string) url.Values {
	t.Helper()
	code, body := env.Do(t, http.MethodGet, path, "", "")
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d\n%s", path, code, body)
	}
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], m[2])
	}
	if v.Get("form_token") == "" {
		t.Fatalf("GET %s has no form token:\n%s", path, body)
	}
	return v
}

// submit posts a giving form (with the page's hidden fields) and returns
// the status, the Location and the body.
func submit(t testing.TB, env *testkit.Env, path string, fields url.Values) (int, string, string) {
	t.Helper()
	v := formFields(t, env, path)
	for k, vs := range fields {
		v[k] = vs
	}
	req, _ := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := testkit.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

// lastCheckout is the newest checkout row.
func lastCheckout(t testing.TB, env *testkit.Env) *core.Record {
	t.Helper()
	recs, err := env.App.FindRecordsByFilter("checkouts", "", "-created", 1, 0)
	if err != nil || len(recs) == 0 {
		t.Fatalf("no checkout: %v", err)
	}
	return recs[0]
}

// subFor is the regular gift a checkout row starts, with fresh Stripe ids.
func subFor(co *core.Record, interval string) sub {
	n := strconv.FormatInt(eventSeq.Add(1), 10)
	return sub{checkout: co.Id, session: co.GetString("session"), customer: "cus_test" + n, subscription: "sub_test" + n,
		email: co.GetString("email"), pence: int64(co.GetInt("amount_pence")), interval: interval}
}
