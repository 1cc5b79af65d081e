package stripepay

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// webhookLimit caps an event's body; Stripe's are a few kilobytes.
const webhookLimit = 512 << 10

// Tolerance is how old a signed event may be: Stripe's default, so a
// captured request can't be replayed later.
const Tolerance = webhook.DefaultTolerance

// errNotYet is an event about a payment not recorded yet (a refund that
// overtook its payment): answered 409, so Stripe sends it again later.
var errNotYet = errors.New("the payment this event is about hasn't been recorded yet")

// Webhook serves POST /api/webhooks/stripe. The Stripe-Signature is checked
// (HMAC-SHA256 with the endpoint's secret, within Tolerance) before anything
// is read from the body; a bad one gets 400 and changes nothing. Every
// event is applied in one transaction, and applying it again changes
// nothing more, so replays, retries and events out of order end the same.
func (s *Service) Webhook(e *core.RequestEvent) error {
	if s.Config.WebhookSecret == "" {
		return e.JSON(http.StatusServiceUnavailable, map[string]string{"message": "Online giving isn't set up (no webhook signing secret)."})
	}
	body, err := io.ReadAll(io.LimitReader(e.Request.Body, webhookLimit+1))
	if err != nil || len(body) > webhookLimit {
		return e.JSON(http.StatusBadRequest, map[string]string{"message": "The event could not be read."})
	}
	ev, err := webhook.ConstructEventWithOptions(body, e.Request.Header.Get("Stripe-Signature"), s.Config.WebhookSecret,
		webhook.ConstructEventOptions{Tolerance: Tolerance})
	if err != nil {
		msg := "Stripe-Signature: the signature is missing, wrong or too old."
		if errors.Is(err, webhook.ErrInvalidHeader) || errors.Is(err, webhook.ErrNoValidSignature) || errors.Is(err, webhook.ErrNotSigned) || errors.Is(err, webhook.ErrTooOld) {
			return e.JSON(http.StatusBadRequest, map[string]string{"message": msg})
		}
		// A good signature on an event of another API version: the
		// endpoint's version must be the library's.
		s.App.Logger().Warn("stripe: webhook event refused", "reason", err.Error(), "want_api_version", stripe.APIVersion)
		return e.JSON(http.StatusBadRequest, map[string]string{"message": err.Error()})
	}
	switch err := s.Handle(ev); {
	case errors.Is(err, errNotYet):
		return e.JSON(http.StatusConflict, map[string]string{"message": err.Error() + "; send it again later."})
	case err != nil:
		s.App.Logger().Error("stripe: failed to apply an event", "event", ev.ID, "type", string(ev.Type), "error", err.Error())
		return e.JSON(http.StatusInternalServerError, map[string]string{"message": "The event could not be applied; send it again."})
	}
	return e.JSON(http.StatusOK, map[string]bool{"received": true})
}

// Handle applies one verified event. Event types not listed are
// acknowledged and ignored.
func (s *Service) Handle(ev stripe.Event) error {
	at := time.Unix(ev.Created, 0)
	var err error
	switch ev.Type {
	case stripe.EventTypeCheckoutSessionCompleted, stripe.EventTypeCheckoutSessionAsyncPaymentSucceeded:
		var cs stripe.CheckoutSession
		if err = json.Unmarshal(ev.Data.Raw, &cs); err == nil {
			err = s.sessionCompleted(&cs, at)
		}
	case stripe.EventTypeInvoicePaid:
		var in stripe.Invoice
		if err = json.Unmarshal(ev.Data.Raw, &in); err == nil {
			err = s.invoicePaid(&in, at)
		}
	case stripe.EventTypeInvoicePaymentFailed:
		var in stripe.Invoice
		if err = json.Unmarshal(ev.Data.Raw, &in); err == nil {
			err = s.invoiceFailed(&in, at)
		}
	case stripe.EventTypeCustomerSubscriptionUpdated, stripe.EventTypeCustomerSubscriptionDeleted:
		var sub stripe.Subscription
		if err = json.Unmarshal(ev.Data.Raw, &sub); err == nil {
			err = s.subscriptionChanged(&sub, ev.Created, ev.Type == stripe.EventTypeCustomerSubscriptionDeleted)
		}
	case stripe.EventTypeChargeRefunded:
		var ch stripe.Charge
		if err = json.Unmarshal(ev.Data.Raw, &ch); err == nil {
			err = s.refunded(&ch, at)
		}
	}
	return err
}
