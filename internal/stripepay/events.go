package stripepay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/stripe/stripe-go/v82"

	"supportercrm/internal/giving"
	"supportercrm/internal/vocab"
)

// sessionCompleted settles the checkout and, for a one-off gift paid at
// once (cards; a Bacs payment reports later, as
// checkout.session.async_payment_succeeded), records it.
func (s *Service) sessionCompleted(cs *stripe.CheckoutSession, at time.Time) error {
	checkout := cs.ClientReferenceID
	if checkout == "" {
		checkout = cs.Metadata[metaCheckout]
	}
	return s.App.RunInTransaction(func(tx core.App) error {
		co, err := findCheckout(tx, checkout, cs.ID)
		if err != nil || co == nil {
			return err // not one of ours
		}
		st, err := s.settle(tx, co, customerID(cs.Customer), subscriptionID(cs.Subscription), at)
		if err != nil || cs.Mode != stripe.CheckoutSessionModePayment || cs.PaymentStatus != stripe.CheckoutSessionPaymentStatusPaid || cs.PaymentIntent == nil {
			return err
		}
		return record(tx, payment{supporter: st.supporter, reference: cs.PaymentIntent.ID, pence: cs.AmountTotal, on: at,
			notes: "Online gift through Stripe Checkout."})
	})
}

// subscriptionOf is the subscription an invoice collects for, and the
// checkout its metadata names.
func subscriptionOf(in *stripe.Invoice) (subscription, checkout string) {
	if in.Parent == nil || in.Parent.SubscriptionDetails == nil {
		return "", ""
	}
	d := in.Parent.SubscriptionDetails
	return subscriptionID(d.Subscription), d.Metadata[metaCheckout]
}

// settleFor settles the checkout an invoice's subscription came from (an
// invoice can come before checkout.session.completed) and returns the
// subscription's pledge, nil if it isn't one of ours.
func (s *Service) settleFor(tx core.App, in *stripe.Invoice, at time.Time) (*core.Record, error) {
	sub, checkout := subscriptionOf(in)
	if checkout != "" {
		co, err := findCheckout(tx, checkout, "")
		if err != nil {
			return nil, err
		}
		if co != nil {
			if _, err := s.settle(tx, co, customerID(in.Customer), sub, at); err != nil {
				return nil, err
			}
		}
	}
	return findPledge(tx, sub)
}

// paymentIntent is the PaymentIntent that paid an invoice: from the
// invoice's payments when the event carries them, or else asked of Stripe
// (webhook payloads leave them out unless expanded).
func (s *Service) paymentIntent(ctx context.Context, in *stripe.Invoice) (string, error) {
	var list []*stripe.InvoicePayment
	if in.Payments != nil {
		list = in.Payments.Data
	} else if s.stripe != nil {
		params := &stripe.InvoicePaymentListParams{Invoice: stripe.String(in.ID)}
		for p, err := range s.stripe.V1InvoicePayments.List(ctx, params) {
			if err != nil {
				return "", fmt.Errorf("failed to read the invoice's payments from Stripe: %w", stripeErr(err))
			}
			list = append(list, p)
		}
	}
	for _, p := range list {
		if p.Status == "paid" && p.Payment != nil && p.Payment.PaymentIntent != nil {
			return p.Payment.PaymentIntent.ID, nil
		}
	}
	return "", nil
}

// invoicePaid records a regular gift's payment and moves its pledge on:
// the next payment date, and no failed attempts.
func (s *Service) invoicePaid(in *stripe.Invoice, at time.Time) error {
	if sub, _ := subscriptionOf(in); in.AmountPaid <= 0 || sub == "" {
		return nil // a trial or fully credited invoice, or not a subscription's
	}
	// Asked before the transaction, which holds the database's one writer.
	ref, err := s.paymentIntent(context.Background(), in)
	if err != nil {
		return err
	}
	if ref == "" {
		ref = in.ID // an invoice paid outside Stripe's payments (marked paid by hand)
	}
	paid := at
	if in.StatusTransitions != nil && in.StatusTransitions.PaidAt > 0 {
		paid = time.Unix(in.StatusTransitions.PaidAt, 0)
	}
	return s.App.RunInTransaction(func(tx core.App) error {
		p, err := s.settleFor(tx, in, at)
		if err != nil || p == nil {
			return err // not a gift of ours: the account may sell other things
		}
		sup, err := tx.FindRecordById(vocab.Supporters, p.GetString("supporter"))
		if err != nil {
			return err
		}
		if err := record(tx, payment{supporter: sup, pledge: p, reference: ref, pence: in.AmountPaid, on: paid,
			notes: "Regular gift through Stripe (invoice " + in.ID + ")."}); err != nil {
			return err
		}
		changed := false
		if end := periodEnd(in); end > 0 && p.GetString("status") == vocab.PledgeActive && time.Unix(end, 0).After(p.GetDateTime("next_payment_on").Time()) {
			p.Set("next_payment_on", time.Unix(end, 0))
			changed = true
		}
		if p.GetInt("failed_payments") > 0 && !paid.Before(p.GetDateTime("last_failed_on").Time()) {
			p.Set("failed_payments", 0)
			changed = true
		}
		if !changed {
			return nil
		}
		return tx.Save(p)
	})
}

// periodEnd is when the period an invoice paid for ends: the next payment.
func periodEnd(in *stripe.Invoice) int64 {
	var end int64
	if in.Lines != nil {
		for _, l := range in.Lines.Data {
			if l.Period != nil && l.Period.End > end {
				end = l.Period.End
			}
		}
	}
	return end
}

// invoiceFailed counts a failed attempt on the pledge and tells the admins;
// when Stripe has stopped retrying (no next attempt), it also writes to the
// donor, kindly. An attempt already counted (a replay, or one overtaken by
// a later attempt) changes nothing and tells no one.
func (s *Service) invoiceFailed(in *stripe.Invoice, at time.Time) error {
	var alert func()
	err := s.App.RunInTransaction(func(tx core.App) error {
		alert = nil
		p, err := s.settleFor(tx, in, at)
		if err != nil || p == nil {
			return err
		}
		attempt := int(in.AttemptCount)
		if attempt <= p.GetInt("failed_payments") {
			return nil
		}
		p.Set("failed_payments", attempt)
		p.Set("last_failed_on", at)
		if err := tx.Save(p); err != nil {
			return err
		}
		over := in.NextPaymentAttempt == 0
		text := fmt.Sprintf("A regular gift could not be collected: pledge %s (%s %s, %s), attempt %d.\n",
			p.Id, giving.Pounds(int64(p.GetInt("amount_pence"))), p.GetString("frequency"), p.GetString("purpose"), attempt)
		if over {
			text += "Stripe has stopped retrying. We have written to the donor to say so, kindly, with a link to update their payment details.\n"
			if err := s.tellDonor(tx, p); err != nil {
				return err
			}
		} else {
			text += "Stripe will try again on " + time.Unix(in.NextPaymentAttempt, 0).In(london).Format(dateForPeople) + "; the donor hasn't been told.\n"
		}
		alert = func() {
			if s.Alert != nil {
				s.Alert("A regular gift failed", text)
			}
			if over && s.Notify != nil {
				s.Notify()
			}
		}
		return nil
	})
	if err == nil && alert != nil {
		alert()
	}
	return err
}

// subscriptionChanged keeps a pledge as Stripe's subscription is: status,
// amount, frequency, next payment and end. An event older than the last
// one applied changes nothing, and a cancelled pledge stays cancelled
// (Stripe never restarts a cancelled subscription).
func (s *Service) subscriptionChanged(sub *stripe.Subscription, created int64, deleted bool) error {
	return s.App.RunInTransaction(func(tx core.App) error {
		p, err := findPledge(tx, sub.ID)
		if err != nil {
			return err
		}
		if p == nil && sub.Metadata[metaCheckout] != "" {
			co, err := findCheckout(tx, sub.Metadata[metaCheckout], "")
			if err != nil || co == nil {
				return err
			}
			st, err := s.settle(tx, co, customerID(sub.Customer), sub.ID, time.Unix(created, 0))
			if err != nil {
				return err
			}
			p = st.pledge
		}
		if p == nil || int64(p.GetInt("provider_changed")) > created || p.GetString("status") == vocab.PledgeCancelled {
			return nil
		}
		p.Set("provider_changed", created)
		if c := customerID(sub.Customer); c != "" {
			p.Set("customer", c)
		}
		if sub.Items != nil && len(sub.Items.Data) > 0 {
			item := sub.Items.Data[0]
			if item.Price != nil && item.Price.UnitAmount > 0 {
				p.Set("amount_pence", item.Price.UnitAmount*max(item.Quantity, 1))
				if item.Price.Recurring != nil {
					switch item.Price.Recurring.Interval {
					case stripe.PriceRecurringIntervalWeek:
						p.Set("frequency", vocab.PledgeWeekly)
					case stripe.PriceRecurringIntervalMonth:
						p.Set("frequency", vocab.PledgeMonthly)
					}
				}
			}
			if item.CurrentPeriodEnd > 0 {
				p.Set("next_payment_on", time.Unix(item.CurrentPeriodEnd, 0))
			}
		}
		status := vocab.PledgeActive
		switch sub.Status {
		case stripe.SubscriptionStatusPaused, stripe.SubscriptionStatusUnpaid:
			status = vocab.PledgePaused
		case stripe.SubscriptionStatusCanceled, stripe.SubscriptionStatusIncompleteExpired:
			status = vocab.PledgeCancelled
		}
		if sub.PauseCollection != nil && sub.PauseCollection.Behavior != "" {
			status = vocab.PledgePaused
		}
		if deleted {
			status = vocab.PledgeCancelled
		}
		p.Set("status", status)
		switch {
		case status == vocab.PledgeCancelled:
			end := sub.EndedAt
			if end == 0 {
				end = created
			}
			p.Set("ends_on", time.Unix(end, 0))
			p.Set("next_payment_on", "")
		case sub.CancelAt > 0:
			p.Set("ends_on", time.Unix(sub.CancelAt, 0))
		default:
			p.Set("ends_on", "")
		}
		if status != vocab.PledgeActive {
			p.Set("next_payment_on", "")
		}
		return tx.Save(p)
	})
}

// refunded marks a refunded gift: the amount given back, and no Gift Aid
// on it. A gift already in a Gift Aid claim is one HMRC must hear about, so
// the admins are told. A refund of a payment not recorded yet is answered
// errNotYet, for Stripe to send again once the payment is in.
func (s *Service) refunded(ch *stripe.Charge, at time.Time) error {
	if ch.PaymentIntent == nil || ch.PaymentIntent.ID == "" {
		return nil
	}
	var claim string
	err := s.App.RunInTransaction(func(tx core.App) error {
		claim = ""
		d, err := tx.FindFirstRecordByFilter(vocab.Donations, "provider = {:p} && reference = {:r}",
			dbx.Params{"p": vocab.ProviderStripe, "r": ch.PaymentIntent.ID})
		if errors.Is(err, sql.ErrNoRows) {
			return errNotYet
		}
		if err != nil {
			return err
		}
		if int64(d.GetInt("refunded_pence")) == ch.AmountRefunded {
			return nil
		}
		d.Set("refunded_pence", ch.AmountRefunded)
		d.Set("refunded_on", at)
		d.Set("gift_aid_eligible", false)
		if err := tx.Save(d); err != nil {
			return err
		}
		claim = d.GetString("gift_aid_claim")
		if claim != "" {
			claim = fmt.Sprintf("Donation %s (%s) was refunded (%s) after it was claimed in Gift Aid claim %s: tell HMRC in your next claim (an adjustment).",
				d.Id, giving.Pounds(int64(d.GetInt("amount_pence"))), giving.Pounds(ch.AmountRefunded), claim)
		}
		return nil
	})
	if err == nil && claim != "" && s.Alert != nil {
		s.Alert("A Gift Aided donation was refunded", claim)
	}
	return err
}
