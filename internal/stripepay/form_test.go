package stripepay_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// giftAid is a valid Gift Aid declaration on a giving form.
var giftAid = url.Values{"gift_aid": {"yes"}, "title": {"Dr"}, "first_name": {"Grace"}, "last_name": {"Hopper"},
	"house": {"7"}, "address": {"Mill Lane\r\nLeeds"}, "postcode": {"ls1 1aa"}}

func with(base url.Values, kv ...string) url.Values {
	v := url.Values{}
	for k, vs := range base {
		v[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// Bad input is refused with a message beside the field it is about, and
// nothing is created: no checkout, no supporter, no declaration, nothing
// at Stripe.
func TestBadInputCreatesNothing(t *testing.T) {
	env := startGiving(t)
	donate := with(giftAid, "email", "grace@example.org", "frequency", "one_off", "amount", "10")
	sponsor := with(giftAid, "email", "grace@example.org", "frequency", "weekly", "amount", "2.50")
	cases := []struct {
		name, path string
		form       url.Values
		field, msg string
	}{
		{"under £1", "/donate", with(donate, "amount", "other", "other_amount", "0.99"), "other_amount", "smallest gift"},
		{"over £10,000", "/donate", with(donate, "amount", "other", "other_amount", "10000.01"), "other_amount", "up to £10,000"},
		{"text for a number", "/donate", with(donate, "amount", "other", "other_amount", "ten pounds"), "other_amount", "numbers only"},
		{"a forged suggested amount", "/donate", with(donate, "amount", "12abc"), "amount", "numbers only"},
		{"no amount", "/donate", with(donate, "amount", ""), "amount", "Choose an amount"},
		{"a postcode abroad with Gift Aid", "/donate", with(donate, "postcode", "75008"), "postcode", "UK postcode"},
		{"a Dutch postcode with Gift Aid", "/sponsor-a-room", with(sponsor, "postcode", "1012 AB"), "postcode", "UK postcode"},
		{"no home address with Gift Aid", "/donate", with(donate, "address", " "), "address", "home address"},
		{"a bad email", "/donate", with(donate, "email", "grace@"), "email", ""},
		{"sponsorship once", "/sponsor-a-room", with(sponsor, "frequency", "one_off"), "frequency", "weekly or monthly"},
		{"sponsorship under the room price", "/sponsor-a-room", with(sponsor, "amount", "other", "other_amount", "2"), "other_amount", "starts at £2.50 a week"},
		{"sponsorship off the steps", "/sponsor-a-room", with(sponsor, "amount", "other", "other_amount", "3.10"), "other_amount", "steps of £2.50"},
		{"sponsorship over £10,000 a month", "/sponsor-a-room", with(sponsor, "frequency", "monthly", "amount", "other", "other_amount", "2500"), "other_amount", "up to £10,000"},
		{"a changed declaration", "/donate", with(donate, "wording_version", "0123456789ab"), "gift_aid", "wording has changed"},
		{"no form token", "/donate", with(donate, "form_token", "forged"), "form", "For your security"},
	}
	for _, c := range cases {
		code, _, body := submit(t, env, c.path, c.form)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", c.name, code)
			continue
		}
		// The message sits under its own field (a field-error after the input).
		i := strings.Index(body, `name="`+c.field+`"`)
		if c.field == "form" || c.field == "gift_aid" {
			i = strings.Index(body, "<form")
		}
		if i < 0 || !strings.Contains(body[i:], `class="field-error"`) || !strings.Contains(body, c.msg) {
			t.Errorf("%s: no message %q at field %s:\n%s", c.name, c.msg, c.field, body)
		}
	}
	for _, coll := range []string{vocab.Checkouts, vocab.Supporters, vocab.Declarations, vocab.Consents, vocab.Pledges, vocab.Donations, vocab.Outbox} {
		if n := env.Count(t, coll, ""); n != 0 {
			t.Errorf("%d %s after refused forms", n, coll)
		}
	}
}

// A good form starts a Checkout Session at Stripe (stripe-mock checks the
// request against Stripe's API description) and sends the donor to it;
// what they typed waits in the checkout row, and no supporter exists yet.
func TestGoodFormGoesToCheckout(t *testing.T) {
	env := startGiving(t)
	for _, c := range []struct {
		path  string
		form  url.Values
		pence int
		freq  string
	}{
		{"/donate", with(giftAid, "email", "Grace@Example.org", "frequency", "one_off", "amount", "other", "other_amount", "£1,250.50"), 125050, "one_off"},
		{"/donate", url.Values{"email": {"ada@example.org"}, "frequency": {"monthly"}, "amount": {"25"}}, 2500, "monthly"},
		{"/donate", url.Values{"email": {"mary@example.org"}, "frequency": {"weekly"}, "other_amount": {"3"}}, 300, "weekly"},
		{"/sponsor-a-room", url.Values{"email": {"alan@example.org"}, "frequency": {"monthly"}, "amount": {"5"}, "opt_in": {"yes"}}, 2167, "monthly"},
		{"/sponsor-a-room", with(giftAid, "email", "kath@example.org", "frequency", "weekly", "amount", "other", "other_amount", "7.50"), 750, "weekly"},
	} {
		code, loc, body := submit(t, env, c.path, c.form)
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, "https://checkout.stripe.com/") {
			t.Fatalf("POST %s = %d to %q\n%s", c.path, code, loc, body)
		}
		co := lastCheckout(t, env)
		if co.GetInt("amount_pence") != c.pence || co.GetString("frequency") != c.freq || !strings.HasPrefix(co.GetString("session"), "cs_") || co.GetString("status") != "open" {
			t.Errorf("%s: checkout %v", c.path, co.PublicExport())
		}
	}
	co := lastCheckout(t, env)
	if co.GetString("postcode") != "LS1 1AA" || co.GetString("address") != "Mill Lane\nLeeds" || !strings.Contains(co.GetString("gift_aid_wording"), "I want to Gift Aid") {
		t.Errorf("the Gift Aid details as stored: %v", co.PublicExport())
	}
	if n := env.Count(t, vocab.Checkouts, "opt_in = true"); n != 1 {
		t.Errorf("%d checkouts with the newsletter box, want 1", n)
	}
	if n := env.Count(t, vocab.Supporters, ""); n != 0 {
		t.Errorf("%d supporters before anyone paid", n)
	}
}

// Without Stripe's keys the pages say online giving isn't set up, link to
// the charity's other ways to give, and take nothing.
func TestUnavailableWithoutKeys(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	for _, path := range []string{"/donate", "/sponsor-a-room"} {
		code, body := env.Do(t, http.MethodGet, path, "", "")
		if code != http.StatusOK || !strings.Contains(body, "Online giving isn't set up") || !strings.Contains(body, "other ways to give") || strings.Contains(body, "<form") {
			t.Errorf("GET %s = %d\n%s", path, code, body)
		}
	}
	code, _ := env.PostForm(t, "/donate", url.Values{"amount": {"10"}, "frequency": {"one_off"}, "email": {"a@example.org"}})
	if code != http.StatusServiceUnavailable {
		t.Errorf("POST /donate = %d, want 503", code)
	}
	if code, _ := env.Do(t, http.MethodPost, "/api/webhooks/stripe", "application/json", "{}"); code != http.StatusServiceUnavailable {
		t.Errorf("webhook = %d, want 503", code)
	}
	if n := env.Count(t, vocab.Checkouts, ""); n != 0 {
		t.Errorf("%d checkouts", n)
	}
}
