package stripepay_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/giving"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// sponsor fills /sponsor-a-room (Gift Aid and the newsletter box ticked)
// and returns the regular gift Stripe would start for it.
func sponsor(t *testing.T, env *testkit.Env, email string) sub {
	t.Helper()
	code, loc, body := submit(t, env, "/sponsor-a-room", with(giftAid, "email", email, "frequency", "weekly", "amount", "5", "opt_in", "yes"))
	if code != http.StatusSeeOther {
		t.Fatalf("sponsor %s = %d %s\n%s", email, code, loc, body)
	}
	return subFor(lastCheckout(t, env), "week")
}

// state is everything the webhook keeps for one donor, with Stripe's and
// the app's ids left out, so two donors' histories can be compared.
func state(t *testing.T, env *testkit.Env, email string) string {
	t.Helper()
	sup, err := env.App.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err != nil {
		return "no supporter"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "supporter %s %s %s\n", sup.GetString("status"), sup.GetString("first_name"), sup.GetString("last_name"))
	list := func(coll, sort string, fields ...string) {
		recs, err := env.App.FindRecordsByFilter(coll, "supporter = {:s}", sort, 0, 0, map[string]any{"s": sup.Id})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			fmt.Fprintf(&b, "%s:", coll)
			for _, f := range fields {
				fmt.Fprintf(&b, " %s=%v", f, r.Get(f))
			}
			b.WriteString("\n")
		}
	}
	list(vocab.Declarations, "created", "title", "first_name", "house", "address", "postcode", "method", "scope")
	list(vocab.Consents, "created", "action", "method", "topic_slugs", "wording_version")
	list(vocab.Pledges, "created", "purpose", "amount_pence", "frequency", "status", "provider", "failed_payments")
	list(vocab.Donations, "donated_on", "amount_pence", "provider", "gift_aid_eligible", "refunded_pence")
	recs, err := env.App.FindRecordsByFilter(vocab.Outbox, "to = {:e}", "kind", 0, 0, map[string]any{"e": email})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		fmt.Fprintf(&b, "mail: %s %q giftaid-link=%v\n", r.GetString("kind"), r.GetString("subject"), strings.Contains(r.GetString("text"), "/gift-aid?token="))
	}
	return b.String()
}

// Events twice, late or out of order (invoice.paid before
// checkout.session.completed, the subscription's update first) end in the
// same state as in order: one supporter, declaration, consent row, pledge,
// donation and thank-you each.
func TestEventsInAnyOrderEndTheSame(t *testing.T) {
	env := startGiving(t)
	now := time.Now()
	a, b := sponsor(t, env, "ann@example.org"), sponsor(t, env, "bob@example.org")
	events := func(s sub) [][]byte {
		return [][]byte{
			event("checkout.session.completed", now, s.sessionCompleted()),
			event("invoice.paid", now.Add(time.Second), s.invoice(1, "paid", 1, nil, true)),
			event("customer.subscription.updated", now.Add(2*time.Second), s.subscriptionObject("active", s.pence, "week", nil)),
		}
	}
	for _, ev := range events(a) {
		mustDeliver(t, env, ev)
	}
	inOrder := state(t, env, "ann@example.org")

	bev := events(b)
	for _, i := range []int{1, 2, 0, 1, 0, 2, 2, 1, 0} { // reversed, then replayed
		mustDeliver(t, env, bev[i])
	}
	got := state(t, env, "bob@example.org")
	if got != strings.ReplaceAll(inOrder, "ann@", "bob@") {
		t.Errorf("out of order:\n%s\nin order:\n%s", got, inOrder)
	}
	for _, want := range []string{
		"supporter pending Grace Hopper",
		"gift_aid_declarations: title=Dr first_name=Grace house=7 address=Mill Lane\nLeeds postcode=LS1 1AA method=online scope=past_and_future",
		"consents: action=grant method=giving_form topic_slugs=[\"newsletter\"]",
		"pledges: purpose=Sponsor a room amount_pence=500 frequency=weekly status=active provider=stripe failed_payments=0",
		"donations: amount_pence=500 provider=stripe gift_aid_eligible=true refunded_pence=0",
		"mail: confirm", "mail: thank_you \"Thank you for your donation to " + testkit.IdentityName + "\" giftaid-link=false",
	} {
		if strings.Count(inOrder, want) != 1 {
			t.Errorf("state lacks (once) %q:\n%s", want, inOrder)
		}
	}
	p, err := env.App.FindFirstRecordByData(vocab.Pledges, "reference", b.subscription)
	if err != nil {
		t.Fatal(err)
	}
	if p.GetString("customer") != b.customer || p.GetDateTime("next_payment_on").IsZero() {
		t.Errorf("pledge customer %q, next payment %v", p.GetString("customer"), p.GetDateTime("next_payment_on"))
	}
	d, err := env.App.FindFirstRecordByData(vocab.Donations, "reference", b.pi(1))
	if err != nil || d.GetString("pledge") != p.Id {
		t.Errorf("donation by its PaymentIntent: %v, pledge %q", err, d.GetString("pledge"))
	}
	// The newsletter box's confirmation works as a signup's does.
	var confirm string
	for _, m := range env.SMTP.WaitFor(t, "bob@example.org", 2, 15*time.Second) {
		if strings.Contains(m.Text, "/confirm?token=") {
			confirm = env.Link(t, m.Text, "/confirm")
		}
	}
	if code, body := env.Do(t, http.MethodGet, strings.TrimPrefix(confirm, env.URL), "", ""); code != http.StatusOK || !strings.Contains(body, "subscribed</h1>") {
		t.Fatalf("confirm = %d\n%s", code, body)
	}
	bob, _ := env.App.FindFirstRecordByData(vocab.Supporters, "email", "bob@example.org")
	if bob.GetString("status") != vocab.StatusSubscribed || len(bob.GetStringSlice("topics")) != 1 {
		t.Errorf("after confirming: %s, topics %v", bob.GetString("status"), bob.GetStringSlice("topics"))
	}
	// A second weekly payment is recorded, and thanked no sooner than a month on.
	mustDeliver(t, env, event("invoice.paid", now.Add(3*time.Second), b.invoice(2, "paid", 1, nil, true)))
	if n := env.Count(t, vocab.Donations, "pledge = '"+p.Id+"'"); n != 2 {
		t.Errorf("%d donations after two payments", n)
	}
	if n := env.Count(t, vocab.Outbox, "kind = 'thank_you' && to = 'bob@example.org'"); n != 1 {
		t.Errorf("%d thank-yous after two weekly payments, want 1", n)
	}
	// Stripe's CSV export of the same payments, imported later, changes nothing.
	csv := "id,PaymentIntent ID,Created date (UTC),Amount,Currency,Status,Customer Email\r\n" +
		"ch_x1," + b.pi(1) + "," + now.UTC().Format("2006-01-02 15:04:05") + ",5.00,gbp,Paid,bob@example.org\r\n" +
		"ch_x2," + b.pi(2) + "," + now.UTC().Format("2006-01-02 15:04:05") + ",5.00,gbp,Paid,bob@example.org\r\n"
	sum, err := giving.Import(env.App, bytes.NewReader([]byte(csv)), giving.Options{Provider: "stripe"})
	if err != nil || sum.Created != 0 || sum.Skipped != 2 {
		t.Errorf("re-import of Stripe's CSV: %+v, %v", sum, err)
	}
}

// Only a body signed with the endpoint's secret, recently, is read: a
// forged, tampered, stale or missing signature gets 400 and changes nothing.
func TestForgedSignatureChangesNothing(t *testing.T) {
	env := startGiving(t)
	s := sponsor(t, env, "eve@example.org")
	payload := event("checkout.session.completed", time.Now(), s.sessionCompleted())
	tampered := bytes.Replace(payload, []byte(`"amount_total":500`), []byte(`"amount_total":5`), 1)
	for name, sig := range map[string]string{
		"another secret": sign("whsec_not_ours", time.Now(), payload),
		"stale":          sign(webhookSecret, time.Now().Add(-10*time.Minute), payload),
		"tampered body":  "", // signed as sent, then changed
		"no signature":   "-",
		"a v0 signature": strings.Replace(sign(webhookSecret, time.Now(), payload), "v1=", "v0=", 1),
		"garbage":        "t=abc,v1=zzz",
	} {
		body := payload
		switch sig {
		case "":
			sig, body = sign(webhookSecret, time.Now(), payload), tampered
		case "-":
			sig = ""
		}
		if code := deliverSigned(t, env, body, sig); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
	if n := env.Count(t, vocab.Supporters, ""); n != 0 {
		t.Errorf("%d supporters after forged events", n)
	}
	if n := env.Count(t, vocab.Checkouts, "status = 'open'"); n != 1 {
		t.Errorf("the checkout is no longer open")
	}
	mustDeliver(t, env, payload) // the genuine one is taken
	if n := env.Count(t, vocab.Supporters, ""); n != 1 {
		t.Errorf("%d supporters after the genuine event", n)
	}
}

// A one-off gift is recorded when Checkout says it was paid; a refund marks
// it refunded and takes it out of Gift Aid, however often it is told; a
// refund that overtakes its payment is refused (409) until the payment is in.
func TestRefund(t *testing.T) {
	env := startGiving(t)
	code, _, body := submit(t, env, "/donate", with(giftAid, "email", "rita@example.org", "frequency", "one_off", "amount", "25"))
	if code != http.StatusSeeOther {
		t.Fatalf("donate = %d\n%s", code, body)
	}
	co := lastCheckout(t, env)
	pi := "pi_test_refund_" + co.Id
	session := map[string]any{"id": co.GetString("session"), "object": "checkout.session", "mode": "payment", "status": "complete",
		"payment_status": "paid", "client_reference_id": co.Id, "customer": nil, "customer_email": "rita@example.org",
		"payment_intent": pi, "subscription": nil, "amount_total": 2500, "currency": "gbp", "metadata": map[string]any{"checkout": co.Id}}
	refund := event("charge.refunded", time.Now(), charge(pi, 2500, 2500))
	if code := deliver(t, env, refund); code != http.StatusConflict {
		t.Errorf("refund before its payment = %d, want 409", code)
	}
	if n := env.Count(t, vocab.Donations, ""); n != 0 {
		t.Fatalf("%d donations after an early refund", n)
	}
	paid := event("checkout.session.completed", time.Now(), session)
	mustDeliver(t, env, paid)
	d, err := env.App.FindFirstRecordByData(vocab.Donations, "reference", pi)
	if err != nil || d.GetInt("amount_pence") != 2500 || !d.GetBool("gift_aid_eligible") || d.GetString("pledge") != "" {
		t.Fatalf("donation %v: %v", err, d)
	}
	for range 2 {
		mustDeliver(t, env, refund)
		mustDeliver(t, env, paid)
	}
	d, _ = env.App.FindRecordById(vocab.Donations, d.Id)
	if d.GetInt("refunded_pence") != 2500 || d.GetBool("gift_aid_eligible") || d.GetDateTime("refunded_on").IsZero() {
		t.Errorf("after the refund: refunded %d, eligible %v, on %v", d.GetInt("refunded_pence"), d.GetBool("gift_aid_eligible"), d.GetDateTime("refunded_on"))
	}
	if n := env.Count(t, vocab.Donations, ""); n != 1 {
		t.Errorf("%d donations, want 1", n)
	}
	if n := env.Count(t, vocab.Outbox, "kind = 'thank_you'"); n != 1 {
		t.Errorf("%d thank-yous, want 1", n)
	}
}

// admin makes a superuser, who gets the staff alerts.
func admin(t *testing.T, env *testkit.Env) string {
	t.Helper()
	su := core.NewRecord(testkit.Collection(t, env.App, core.CollectionNameSuperusers))
	su.SetEmail("treasurer@example.org")
	su.SetPassword("a long enough password")
	if err := env.App.Save(su); err != nil {
		t.Fatal(err)
	}
	return su.Email()
}

// A cancelled subscription ends its pledge; an update that arrives after
// it, but happened before, changes nothing; a newer update before the end
// keeps the amount and frequency true.
func TestCancelledSubscription(t *testing.T) {
	env := startGiving(t)
	s := sponsor(t, env, "carl@example.org")
	now := time.Now()
	mustDeliver(t, env, event("checkout.session.completed", now, s.sessionCompleted()))
	mustDeliver(t, env, event("customer.subscription.updated", now.Add(2*time.Second), s.subscriptionObject("active", 1000, "month", nil)))
	mustDeliver(t, env, event("customer.subscription.updated", now.Add(time.Second), s.subscriptionObject("active", 500, "week", nil))) // older, late
	p, err := env.App.FindFirstRecordByData(vocab.Pledges, "reference", s.subscription)
	if err != nil {
		t.Fatal(err)
	}
	if p.GetInt("amount_pence") != 1000 || p.GetString("frequency") != vocab.PledgeMonthly {
		t.Errorf("after the donor's change: %d %s", p.GetInt("amount_pence"), p.GetString("frequency"))
	}
	ended := now.Add(3 * time.Second)
	del := event("customer.subscription.deleted", ended, s.subscriptionObject("canceled", 1000, "month", &ended))
	mustDeliver(t, env, del)
	mustDeliver(t, env, event("customer.subscription.updated", now.Add(2500*time.Millisecond), s.subscriptionObject("active", 1000, "month", nil)))
	mustDeliver(t, env, del)
	p, _ = env.App.FindRecordById(vocab.Pledges, p.Id)
	if p.GetString("status") != vocab.PledgeCancelled || p.GetDateTime("ends_on").Time().Unix() != ended.Unix() || !p.GetDateTime("next_payment_on").IsZero() {
		t.Errorf("after cancelling: status %s, ends %v, next %v", p.GetString("status"), p.GetDateTime("ends_on"), p.GetDateTime("next_payment_on"))
	}
}

// A failed regular payment tells the admins once per attempt; when Stripe
// stops retrying, the donor is told too, once; a later payment clears it.
func TestFailedPayments(t *testing.T) {
	env := startGiving(t)
	to := admin(t, env)
	s := sponsor(t, env, "fay@example.org")
	now := time.Now()
	mustDeliver(t, env, event("checkout.session.completed", now, s.sessionCompleted()))
	next := now.Add(72 * time.Hour)
	first := event("invoice.payment_failed", now, s.invoice(2, "open", 1, &next, true))
	last := event("invoice.payment_failed", now.Add(time.Hour), s.invoice(2, "open", 4, nil, true))
	for range 2 {
		mustDeliver(t, env, first)
	}
	alerts := func() int { return env.Count(t, vocab.Outbox, "kind = 'staff_alert' && to = '"+to+"'") }
	told := func() int { return env.Count(t, vocab.Outbox, "kind = 'payment_failed' && to = 'fay@example.org'") }
	if alerts() != 1 || told() != 0 {
		t.Errorf("after the first failure: %d alerts, %d donor mails; want 1, 0", alerts(), told())
	}
	for range 2 {
		mustDeliver(t, env, last)
		mustDeliver(t, env, first) // late: overtaken by the last attempt
	}
	if alerts() != 2 || told() != 1 {
		t.Errorf("after the last attempt: %d alerts, %d donor mails; want 2, 1", alerts(), told())
	}
	m := env.SMTP.WaitFor(t, "fay@example.org", 2, 10*time.Second) // the newsletter's confirmation, and this
	var kind string
	for _, mail := range m {
		if strings.Contains(mail.Text, "stopped trying") {
			kind = mail.Text
		}
	}
	if kind == "" || !strings.Contains(kind, "/sponsor-a-room/manage/portal?token=") || strings.Contains(kind, "fay@example.org") {
		t.Errorf("the donor's mail:\n%s", kind)
	}
	p, _ := env.App.FindFirstRecordByData(vocab.Pledges, "reference", s.subscription)
	if p.GetInt("failed_payments") != 4 {
		t.Errorf("failed_payments %d, want 4", p.GetInt("failed_payments"))
	}
	paidLater := s.invoice(3, "paid", 1, nil, true)
	paidLater["status_transitions"] = map[string]any{"paid_at": now.Add(2 * time.Hour).Unix()}
	mustDeliver(t, env, event("invoice.paid", now.Add(2*time.Hour), paidLater))
	p, _ = env.App.FindRecordById(vocab.Pledges, p.Id)
	if p.GetInt("failed_payments") != 0 {
		t.Errorf("failed_payments %d after a payment, want 0", p.GetInt("failed_payments"))
	}
	var admins []string
	for _, mail := range env.SMTP.WaitFor(t, to, 2, 10*time.Second) {
		admins = append(admins, mail.Text)
	}
	if slices.ContainsFunc(admins, func(s string) bool { return strings.Contains(s, "fay@example.org") || strings.Contains(s, "Hopper") }) {
		t.Errorf("an admin alert names the donor: %q", admins)
	}
}

// The invoice of a webhook carries no payments unless expanded; the app
// then asks Stripe (here stripe-mock) for them, and still records the gift
// once.
func TestInvoiceWithoutPayments(t *testing.T) {
	env := startGiving(t)
	s := sponsor(t, env, "ivy@example.org")
	paid := event("invoice.paid", time.Now(), s.invoice(1, "paid", 1, nil, false))
	for range 2 {
		mustDeliver(t, env, paid)
	}
	if n := env.Count(t, vocab.Donations, "provider = 'stripe'"); n != 1 {
		t.Errorf("%d donations, want 1", n)
	}
	if n := env.Count(t, vocab.Pledges, "reference = '"+s.subscription+"'"); n != 1 {
		t.Errorf("%d pledges, want 1", n)
	}
	// Another subscription on the same Stripe account (a shop's, say) is
	// acknowledged and recorded nowhere.
	other := sub{checkout: "", customer: "cus_shop", subscription: "sub_shop", email: "buyer@example.org", pence: 1500}
	in := other.invoice(1, "paid", 1, nil, true)
	in["parent"] = map[string]any{"type": "subscription_details", "subscription_details": map[string]any{"subscription": "sub_shop", "metadata": map[string]any{}}}
	mustDeliver(t, env, event("invoice.paid", time.Now(), in))
	if n := env.Count(t, vocab.Supporters, "email = 'buyer@example.org'"); n != 0 || env.Count(t, vocab.Donations, "") != 1 {
		t.Errorf("another business's invoice was recorded")
	}
}
