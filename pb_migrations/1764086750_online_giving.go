package pb_migrations

import (
	"slices"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// givingForms are the public giving forms' posts, limited like the signup
// form's (each one starts a Stripe Checkout Session).
var givingForms = []string{"POST /donate", "POST /sponsor-a-room", "POST /sponsor-a-room/manage"}

// Online giving through Stripe (issue 12): the charity's suggested amounts
// and room price, what Stripe tells us about pledges and refunds, the
// checkouts waiting for Stripe to say they were paid, the consent method of
// the giving forms' newsletter box, two more kinds of mail, and rate limits
// on the forms.
func init() {
	m.Register(func(app core.App) error {
		charity, err := app.FindCollectionByNameOrId(vocab.Charity)
		if err != nil {
			return err
		}
		charity.Fields.Add(
			&core.JSONField{Name: "donation_amounts", MaxSize: 1024, Help: "Suggested amounts on /donate, in pence, e.g. [1000, 2500, 5000]."},
			&core.NumberField{Name: "room_week_pence", OnlyInt: true, Min: types.Pointer(100.0), Help: "The least a room sponsor gives a week, in pence (250 is £2.50)."},
			&core.NumberField{Name: "room_step_pence", OnlyInt: true, Min: types.Pointer(1.0), Help: "Room sponsorship goes up from that in steps of this many pence a week."},
			&core.URLField{Name: "giving_url", Help: "Your page of other ways to give (bank transfer, cheque…), linked when online giving isn't set up."},
		)
		if err := app.Save(charity); err != nil {
			return err
		}
		recs, err := app.FindAllRecords(vocab.Charity)
		if err != nil {
			return err
		}
		for _, r := range recs {
			r.Set("donation_amounts", []int{1000, 2500, 5000, 10000})
			r.Set("room_week_pence", 250)
			r.Set("room_step_pence", 250)
			if err := app.Save(r); err != nil {
				return err
			}
		}

		pledges, err := app.FindCollectionByNameOrId(vocab.Pledges)
		if err != nil {
			return err
		}
		pledges.Fields.Add(
			&core.TextField{Name: "provider", Max: 60, Help: "Where the pledge is collected, e.g. stripe (its subscription id is the reference)."},
			&core.TextField{Name: "customer", Max: 100, Help: "The provider's customer id (Stripe: cus_…), for the donor's self-service portal."},
			&core.DateField{Name: "next_payment_on", Help: "When the provider next collects it."},
			&core.NumberField{Name: "failed_payments", OnlyInt: true, Min: types.Pointer(0.0), Help: "Failed attempts at the latest payment; 0 once one succeeds."},
			&core.DateField{Name: "last_failed_on"},
			&core.NumberField{Name: "provider_changed", OnlyInt: true, Hidden: true, Help: "Unix time of the newest provider event applied, so older ones arriving late change nothing."},
		)
		pledges.AddIndex("idx_pledges_reference", false, "provider, reference", "")
		if err := app.Save(pledges); err != nil {
			return err
		}

		donations, err := app.FindCollectionByNameOrId(vocab.Donations)
		if err != nil {
			return err
		}
		donations.Fields.Add(
			&core.NumberField{Name: "refunded_pence", OnlyInt: true, Min: types.Pointer(0.0), Help: "Refunded to the donor; a refunded gift is not Gift Aided."},
			&core.DateField{Name: "refunded_on"},
		)
		if err := app.Save(donations); err != nil {
			return err
		}

		if err := checkouts(app); err != nil {
			return err
		}

		consents, err := app.FindCollectionByNameOrId(vocab.Consents)
		if err != nil {
			return err
		}
		consents.Fields.GetByName("method").(*core.SelectField).Values = vocab.ConsentMethods
		if err := app.Save(consents); err != nil {
			return err
		}
		if err := setOutboxKinds(app, vocab.OutboxKinds); err != nil {
			return err
		}
		s := app.Settings()
		for _, label := range givingForms {
			s.RateLimits.Rules = append(s.RateLimits.Rules, core.RateLimitRule{Label: label, MaxRequests: 20, Duration: 60})
		}
		return app.Save(s)
	}, func(app core.App) error {
		s := app.Settings()
		s.RateLimits.Rules = slices.DeleteFunc(s.RateLimits.Rules, func(r core.RateLimitRule) bool { return slices.Contains(givingForms, r.Label) })
		if err := app.Save(s); err != nil {
			return err
		}
		if err := setOutboxKinds(app, slices.DeleteFunc(slices.Clone(vocab.OutboxKinds), func(k string) bool {
			return k == vocab.KindPaymentFailed || k == vocab.KindManageLink
		})); err != nil {
			return err
		}
		consents, err := app.FindCollectionByNameOrId(vocab.Consents)
		if err != nil {
			return err
		}
		consents.Fields.GetByName("method").(*core.SelectField).Values = slices.DeleteFunc(slices.Clone(vocab.ConsentMethods), func(m string) bool { return m == vocab.MethodGivingForm })
		if err := app.Save(consents); err != nil {
			return err
		}
		if err := deleteCollections(app, vocab.Checkouts); err != nil {
			return err
		}
		for coll, fields := range map[string][]string{
			vocab.Charity:   {"donation_amounts", "room_week_pence", "room_step_pence", "giving_url"},
			vocab.Pledges:   {"provider", "customer", "next_payment_on", "failed_payments", "last_failed_on", "provider_changed"},
			vocab.Donations: {"refunded_pence", "refunded_on"},
		} {
			c, err := app.FindCollectionByNameOrId(coll)
			if err != nil {
				return err
			}
			for _, f := range fields {
				c.Fields.RemoveByName(f)
			}
			c.RemoveIndex("idx_pledges_reference")
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkouts holds each giving form handed to Stripe until Stripe says it
// was paid: what the donor typed (their Gift Aid home and newsletter choice
// among it), which the webhook turns into the supporter, declaration,
// consent and pledge. The personal fields are cleared once it is settled,
// and unpaid ones are deleted after two days. Superusers only.
func checkouts(app core.App) error {
	supporters, err := app.FindCollectionByNameOrId(vocab.Supporters)
	if err != nil {
		return err
	}
	pledges, err := app.FindCollectionByNameOrId(vocab.Pledges)
	if err != nil {
		return err
	}
	c := core.NewBaseCollection(vocab.Checkouts)
	c.Fields.Add(
		&core.TextField{Name: "session", Max: 300, Presentable: true, Help: "The Stripe Checkout Session id (cs_…)."},
		&core.SelectField{Name: "form", Required: true, MaxSelect: 1, Values: []string{"donate", "sponsor"}},
		&core.SelectField{Name: "frequency", Required: true, MaxSelect: 1, Values: []string{"one_off", vocab.PledgeWeekly, vocab.PledgeMonthly}},
		&core.NumberField{Name: "amount_pence", Required: true, OnlyInt: true, Min: types.Pointer(1.0)},
		&core.TextField{Name: "email", Max: 254},
		&core.TextField{Name: "first_name", Max: 100},
		&core.TextField{Name: "last_name", Max: 100},
		&core.BoolField{Name: "gift_aid"},
		&core.TextField{Name: "title", Max: 4},
		&core.TextField{Name: "house", Max: 100},
		&core.TextField{Name: "address", Max: 500},
		&core.TextField{Name: "postcode", Max: 10},
		&core.TextField{Name: "gift_aid_wording", Max: 5000},
		&core.BoolField{Name: "opt_in"},
		&core.TextField{Name: "consent_wording", Max: 5000},
		&core.TextField{Name: "ip", Max: 64},
		&core.TextField{Name: "user_agent", Max: 500},
		&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: []string{"open", "completed"}},
		&core.DateField{Name: "completed_at"},
		&core.RelationField{Name: "supporter", CollectionId: supporters.Id, MaxSelect: 1, CascadeDelete: true},
		&core.RelationField{Name: "pledge", CollectionId: pledges.Id, MaxSelect: 1},
	)
	c.Fields.Add(timestamps()...)
	c.AddIndex("idx_checkouts_session", true, "session", "session != ''")
	c.AddIndex("idx_checkouts_open", false, "status, created", "")
	return app.Save(c)
}
