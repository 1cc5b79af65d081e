package stripepay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/stripe/stripe-go/v82"

	"supportercrm/internal/charity"
	"supportercrm/internal/clip"
	"supportercrm/internal/giftaid"
	"supportercrm/internal/vocab"
)

// metaCheckout is the metadata key that ties Stripe's session, payment and
// subscription back to the checkout row, whichever event arrives first.
const metaCheckout = "checkout"

// Where Stripe sends the donor back.
const (
	thanksPath    = "/donate/thank-you"
	cancelledPath = "/donate/cancelled"
)

// purposes name what a gift is for, on Stripe's page and on the pledge.
var purposes = map[string]string{formDonate: "Donation", formSponsor: "Sponsor a room"}

// begin records a validated gift as an open checkout and starts its Stripe
// Checkout Session, returning the URL to send the donor to. If Stripe
// refuses or can't be reached, the checkout is removed again.
func (s *Service) begin(ctx context.Context, g gift, optIn bool, id charity.Identity, ip, userAgent string) (string, error) {
	col, err := s.App.FindCachedCollectionByNameOrId(vocab.Checkouts)
	if err != nil {
		return "", err
	}
	co := core.NewRecord(col)
	co.Load(map[string]any{
		"form": g.Form, "frequency": g.Frequency, "amount_pence": g.Pence, "email": g.Email,
		"first_name": g.FirstName, "last_name": g.LastName, "gift_aid": g.GiftAid,
		"title": g.Title, "house": g.House, "address": g.Address, "postcode": g.Postcode,
		"opt_in": optIn, "ip": clip.Runes(ip, 64), "user_agent": clip.Runes(userAgent, 500), "status": "open",
	})
	if g.GiftAid {
		co.Set("gift_aid_wording", giftaid.Wording(id.Name))
	}
	if optIn {
		co.Set("consent_wording", id.ConsentWording)
	}
	co.Set("id", core.GenerateDefaultRandomId())
	if err := s.App.Save(co); err != nil {
		return "", fmt.Errorf("failed to record the checkout: %w", err)
	}
	sess, err := s.stripe.V1CheckoutSessions.Create(ctx, sessionParams(g, co.Id, id))
	if err != nil {
		if derr := s.App.Delete(co); derr != nil {
			s.App.Logger().Error("stripe: failed to remove a checkout Stripe refused", "checkout", co.Id, "error", derr.Error())
		}
		return "", fmt.Errorf("stripe refused the checkout: %w", stripeErr(err))
	}
	co.Set("session", sess.ID)
	if err := s.App.Save(co); err != nil {
		return "", fmt.Errorf("failed to record the checkout session: %w", err)
	}
	return sess.URL, nil
}

// sessionParams is the Checkout Session for a gift: GBP, cards (with the
// wallets Stripe shows for them) and Bacs Direct Debit; a payment for a
// one-off gift, a subscription for a regular one. The checkout id rides in
// the metadata of the session, its payment or subscription, and as the
// idempotency key, so a retried request makes no second session.
func sessionParams(g gift, checkoutID string, id charity.Identity) *stripe.CheckoutSessionCreateParams {
	meta := map[string]string{metaCheckout: checkoutID}
	name := fmt.Sprintf("%s: %s", purposes[g.Form], id.Name)
	price := &stripe.CheckoutSessionCreateLineItemPriceDataParams{
		Currency:    stripe.String(string(stripe.CurrencyGBP)),
		UnitAmount:  stripe.Int64(g.Pence),
		ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(name)},
	}
	p := &stripe.CheckoutSessionCreateParams{
		LineItems:          []*stripe.CheckoutSessionCreateLineItemParams{{PriceData: price, Quantity: stripe.Int64(1)}},
		CustomerEmail:      stripe.String(g.Email),
		ClientReferenceID:  stripe.String(checkoutID),
		Metadata:           meta,
		PaymentMethodTypes: stripe.StringSlice([]string{"card", "bacs_debit"}),
		SuccessURL:         stripe.String(id.AppURL + thanksPath),
		CancelURL:          stripe.String(id.AppURL + cancelledPath),
		Locale:             stripe.String("en-GB"),
	}
	if g.Frequency == oneOff {
		p.Mode = stripe.String(string(stripe.CheckoutSessionModePayment))
		p.SubmitType = stripe.String(string(stripe.CheckoutSessionSubmitTypeDonate))
		p.PaymentIntentData = &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: meta}
	} else {
		interval := "week"
		if g.Frequency == vocab.PledgeMonthly {
			interval = "month"
		}
		price.Recurring = &stripe.CheckoutSessionCreateLineItemPriceDataRecurringParams{Interval: stripe.String(interval)}
		p.Mode = stripe.String(string(stripe.CheckoutSessionModeSubscription))
		p.SubscriptionData = &stripe.CheckoutSessionCreateSubscriptionDataParams{Metadata: meta}
	}
	p.SetIdempotencyKey("checkout-" + checkoutID)
	return p
}

// stripeErr keeps what Stripe's error says of its kind and the parameter
// at fault, but not its message, which may quote the donor's address.
func stripeErr(err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		return fmt.Errorf("stripe error %s %s (parameter %q, HTTP %d, request %s)", se.Type, se.Code, se.Param, se.HTTPStatusCode, se.RequestID)
	}
	return err
}

// abandonedAfter is how long an unpaid checkout is kept: Stripe's sessions
// expire after 24 hours, and a Bacs payment reports back within the day.
const abandonedAfter = 48 * time.Hour

// Prune deletes checkouts never paid: the name, email and home address of
// someone who changed their mind are not kept.
func (s *Service) Prune() {
	cutoff := time.Now().Add(-abandonedAfter).UTC().Format("2006-01-02 15:04:05.000Z")
	res, err := s.App.DB().NewQuery("DELETE FROM {{" + vocab.Checkouts + "}} WHERE [[status]] = 'open' AND [[created]] < {:cutoff}").
		Bind(map[string]any{"cutoff": cutoff}).Execute()
	if err != nil {
		s.App.Logger().Error("stripe: failed to delete abandoned checkouts", "error", err.Error())
		return
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.App.Logger().Info("stripe: deleted abandoned checkouts", "deleted", n)
	}
}
