package stripepay

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/stripe/stripe-go/v82"

	"supportercrm/internal/giftaid"
	"supportercrm/internal/signup"
	"supportercrm/internal/vocab"
)

// Stripe's events are applied so that each leaves the same state however
// often and in whatever order they come: the checkout is settled (its
// supporter, declaration, consent and pledge made) by the first event that
// names it, a donation is keyed by provider and reference as the CSV import
// keys it, and a pledge takes a subscription's state only from an event
// newer than the last one it took.

// settled is what a paid checkout became.
type settled struct {
	supporter *core.Record
	pledge    *core.Record // regular gifts only
}

// afterCommit runs fn once tx has committed (at once without one).
func afterCommit(tx core.App, fn func()) {
	if info := tx.TxInfo(); info != nil {
		info.OnComplete(func(err error) error {
			if err == nil {
				fn()
			}
			return nil
		})
		return
	}
	fn()
}

// findCheckout finds a checkout by its id, or else by its session's.
func findCheckout(tx core.App, id, session string) (*core.Record, error) {
	var r *core.Record
	var err error
	switch {
	case id != "":
		r, err = tx.FindRecordById(vocab.Checkouts, id)
	case session != "":
		r, err = tx.FindFirstRecordByData(vocab.Checkouts, "session", session)
	default:
		return nil, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

// settle turns a checkout into its records the first time Stripe says it
// went through; later it returns what it became. customer and subscription
// are Stripe's ids, as far as the event knows them.
func (s *Service) settle(tx core.App, co *core.Record, customer, subscription string, at time.Time) (settled, error) {
	var st settled
	var err error
	if co.GetString("status") == "completed" {
		if st.supporter, err = tx.FindRecordById(vocab.Supporters, co.GetString("supporter")); err != nil {
			return st, err
		}
		if id := co.GetString("pledge"); id != "" {
			if st.pledge, err = tx.FindRecordById(vocab.Pledges, id); err != nil {
				return st, err
			}
		} else if subscription != "" {
			st.pledge, err = s.pledge(tx, st.supporter, co, customer, subscription, at)
		}
		return st, err
	}
	if st.supporter, err = s.donor(tx, co.GetString("email"), co.GetString("first_name"), co.GetString("last_name")); err != nil {
		return st, err
	}
	declared := co.GetDateTime("created").Time()
	if co.GetBool("gift_aid") {
		if err := declare(tx, st.supporter, co, declared); err != nil {
			return st, err
		}
	}
	if co.GetBool("opt_in") && s.Signup != nil {
		topics, err := s.newsletter()
		if err != nil {
			return st, err
		}
		if len(topics) > 0 {
			if err := s.Signup.OptIn(tx, st.supporter, topics, co.GetString("consent_wording"), vocab.MethodGivingForm,
				co.GetString("ip"), co.GetString("user_agent"), declared); err != nil {
				return st, err
			}
		}
	}
	if co.GetString("frequency") != oneOff && subscription != "" {
		if st.pledge, err = s.pledge(tx, st.supporter, co, customer, subscription, at); err != nil {
			return st, err
		}
		co.Set("pledge", st.pledge.Id)
	}
	// What the donor typed now lives on the supporter, declaration and
	// consent; the checkout keeps only what ties Stripe's ids to them.
	for _, f := range []string{"email", "first_name", "last_name", "title", "house", "address", "postcode", "gift_aid_wording", "consent_wording", "ip", "user_agent"} {
		co.Set(f, "")
	}
	co.Set("status", "completed")
	co.Set("completed_at", at)
	co.Set("supporter", st.supporter.Id)
	return st, tx.Save(co)
}

// newsletter is the topic the giving forms' box subscribes to: the public
// topic with the slug "newsletter" (none: the box isn't offered).
func (s *Service) newsletter() ([]signup.Topic, error) {
	if s.Signup == nil || s.Signup.Topics == nil {
		return nil, nil
	}
	public, err := s.Signup.PublicTopics()
	for _, t := range public {
		if t.Slug == "newsletter" {
			return []signup.Topic{t}, err
		}
	}
	return nil, err
}

// donor finds the supporter with an address, or makes one: pending, so on
// no list until they opt in and confirm. The pages answer the same either
// way (the redirect to Stripe comes before this), so no one learns which.
func (s *Service) donor(tx core.App, email, first, last string) (*core.Record, error) {
	sup, err := tx.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return sup, err
	}
	col, err := tx.FindCachedCollectionByNameOrId(vocab.Supporters)
	if err != nil {
		return nil, err
	}
	sup = core.NewRecord(col)
	sup.Load(map[string]any{"email": email, "first_name": first, "last_name": last, "status": vocab.StatusPending, "source": "online giving"})
	if err := tx.Save(sup); err != nil {
		return nil, fmt.Errorf("failed to record the donor: %w", err)
	}
	return sup, nil
}

// declare records the Gift Aid declaration made on the form, as the Gift
// Aid page records one: online, for past and future gifts, with the wording
// shown and where it came from.
func declare(tx core.App, sup, co *core.Record, on time.Time) error {
	col, err := tx.FindCachedCollectionByNameOrId(vocab.Declarations)
	if err != nil {
		return err
	}
	d := core.NewRecord(col)
	d.Load(map[string]any{
		"supporter": sup.Id, "title": co.GetString("title"), "first_name": co.GetString("first_name"), "last_name": co.GetString("last_name"),
		"house": co.GetString("house"), "address": co.GetString("address"), "postcode": co.GetString("postcode"),
		"declared_on": on, "scope": vocab.ScopePastAndFuture, "method": vocab.DeclaredOnline,
		"wording": co.GetString("gift_aid_wording"), "ip": co.GetString("ip"), "user_agent": co.GetString("user_agent"),
	})
	if err := tx.Save(d); err != nil {
		return fmt.Errorf("failed to record the Gift Aid declaration: %w", err)
	}
	return nil
}

// findPledge is the pledge collected by a Stripe subscription, or nil.
func findPledge(tx core.App, subscription string) (*core.Record, error) {
	if subscription == "" {
		return nil, nil
	}
	p, err := tx.FindFirstRecordByFilter(vocab.Pledges, "provider = {:p} && reference = {:r}", dbx.Params{"p": vocab.ProviderStripe, "r": subscription})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

// pledge finds or makes the pledge a checkout's subscription collects.
func (s *Service) pledge(tx core.App, sup, co *core.Record, customer, subscription string, at time.Time) (*core.Record, error) {
	p, err := findPledge(tx, subscription)
	if err != nil {
		return nil, err
	}
	if p == nil {
		col, err := tx.FindCachedCollectionByNameOrId(vocab.Pledges)
		if err != nil {
			return nil, err
		}
		p = core.NewRecord(col)
		p.Load(map[string]any{
			"supporter": sup.Id, "purpose": purposes[co.GetString("form")], "amount_pence": co.GetInt("amount_pence"),
			"frequency": co.GetString("frequency"), "starts_on": at, "status": vocab.PledgeActive, "method": "card",
			"provider": vocab.ProviderStripe, "reference": subscription,
		})
	}
	if p.GetString("customer") == "" && customer != "" {
		p.Set("customer", customer)
	}
	if p.IsNew() || p.Original().GetString("customer") != p.GetString("customer") {
		if err := tx.Save(p); err != nil {
			return nil, fmt.Errorf("failed to record the pledge: %w", err)
		}
	}
	return p, nil
}

// payment is one gift Stripe collected.
type payment struct {
	supporter *core.Record
	pledge    *core.Record // nil for a one-off gift
	reference string       // the PaymentIntent id (pi_…)
	pence     int64
	on        time.Time
	notes     string
}

// record saves a gift once: a second event for the same payment finds it
// by provider and reference and changes nothing. Saving it runs the Gift
// Aid hooks, which queue the thank-you in this transaction.
func record(tx core.App, p payment) error {
	if p.reference == "" || p.pence <= 0 {
		return nil
	}
	n, err := tx.CountRecords(vocab.Donations, dbx.HashExp{"provider": vocab.ProviderStripe, "reference": p.reference})
	if err != nil || n > 0 {
		return err
	}
	covered, err := giftaid.Covered(tx, p.supporter.Id)
	if err != nil {
		return err
	}
	col, err := tx.FindCachedCollectionByNameOrId(vocab.Donations)
	if err != nil {
		return err
	}
	d := core.NewRecord(col)
	d.Load(map[string]any{
		"supporter": p.supporter.Id, "amount_pence": p.pence, "currency": "GBP", "donated_on": p.on, "method": "card",
		"provider": vocab.ProviderStripe, "reference": p.reference, "gift_aid_eligible": covered, "notes": p.notes,
	})
	if p.pledge != nil {
		d.Set("pledge", p.pledge.Id)
		d.Set("method", p.pledge.GetString("method"))
	}
	if err := tx.Save(d); err != nil {
		return fmt.Errorf("failed to record the donation: %w", err)
	}
	return nil
}

func customerID(c *stripe.Customer) string {
	if c == nil {
		return ""
	}
	return c.ID
}

func subscriptionID(s *stripe.Subscription) string {
	if s == nil {
		return ""
	}
	return s.ID
}
