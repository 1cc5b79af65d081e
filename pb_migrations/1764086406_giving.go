package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// Donations, pledges (e.g. sponsoring a room weekly) and Gift Aid
// declarations. Money is whole pence in GBP. These are financial records:
// admins only; comms staff don't see them.
func init() {
	m.Register(func(app core.App) error {
		supporters, err := app.FindCollectionByNameOrId(vocab.Supporters)
		if err != nil {
			return err
		}

		decl := core.NewBaseCollection(vocab.Declarations)
		decl.Fields.Add(
			&core.RelationField{Name: "supporter", Required: true, CollectionId: supporters.Id, MaxSelect: 1},
			&core.TextField{Name: "title", Max: 4, Help: "Mr, Mrs, Ms, Dr… (optional, 4 characters at most for HMRC)."},
			&core.TextField{Name: "first_name", Required: true, Max: 35, Presentable: true, Help: "Full forename, or at least an initial."},
			&core.TextField{Name: "last_name", Required: true, Max: 35, Presentable: true},
			&core.TextField{Name: "house", Required: true, Max: 100, Help: "House name or number, as HMRC's claim schedule asks."},
			&core.TextField{Name: "address", Required: true, Max: 500, Help: "Home address (not a work or care-of address)."},
			&core.TextField{Name: "postcode", Required: true, Max: 10},
			&core.DateField{Name: "declared_on", Required: true},
			&core.SelectField{Name: "scope", Required: true, MaxSelect: 1, Values: vocab.DeclarationScopes, Help: "One donation, or past (4 years) and future donations."},
			&core.SelectField{Name: "method", Required: true, MaxSelect: 1, Values: vocab.DeclarationMethods},
			&core.TextField{Name: "wording", Max: 5000, Help: "The exact declaration the donor agreed to."},
			&core.TextField{Name: "wording_version", Max: 64},
			&core.DateField{Name: "confirmation_sent_on", Help: "Oral declarations: when the written confirmation (with the 30-day right to cancel) was sent."},
			&core.DateField{Name: "cancelled_on", Help: "Cancellation is prospective; the declaration is kept."},
			&core.TextField{Name: "cancellation_note", Max: 1000},
			&core.TextField{Name: "ip", Max: 64},
			&core.TextField{Name: "user_agent", Max: 500},
		)
		decl.Fields.Add(timestamps()...)
		decl.AddIndex("idx_declarations_supporter", false, "supporter, declared_on", "")
		setRules(decl, ruleAdmin)
		if err := app.Save(decl); err != nil {
			return err
		}

		pledges := core.NewBaseCollection(vocab.Pledges)
		pledges.Fields.Add(
			&core.RelationField{Name: "supporter", Required: true, CollectionId: supporters.Id, MaxSelect: 1},
			&core.TextField{Name: "purpose", Max: 200, Presentable: true, Help: `e.g. "Sponsor a room".`},
			&core.NumberField{Name: "amount_pence", Required: true, OnlyInt: true, Min: types.Pointer(1.0), Help: "Per period, in pence: 250 is £2.50."},
			&core.SelectField{Name: "frequency", Required: true, MaxSelect: 1, Values: []string{vocab.PledgeWeekly, vocab.PledgeMonthly}},
			&core.DateField{Name: "starts_on", Required: true},
			&core.DateField{Name: "ends_on"},
			&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: []string{vocab.PledgeActive, vocab.PledgePaused, vocab.PledgeEnded, vocab.PledgeCancelled}},
			&core.SelectField{Name: "method", MaxSelect: 1, Values: vocab.DonationMethods},
			&core.TextField{Name: "reference", Max: 100},
			&core.TextField{Name: "notes", Max: 5000},
		)
		pledges.Fields.Add(timestamps()...)
		pledges.AddIndex("idx_pledges_supporter", false, "supporter, status", "")
		setRules(pledges, ruleAdmin)
		if err := app.Save(pledges); err != nil {
			return err
		}

		donations := core.NewBaseCollection(vocab.Donations)
		donations.Fields.Add(
			&core.RelationField{Name: "supporter", Required: true, CollectionId: supporters.Id, MaxSelect: 1},
			&core.NumberField{Name: "amount_pence", Required: true, OnlyInt: true, Min: types.Pointer(1.0), Help: "In pence: 1000 is £10.00."},
			&core.SelectField{Name: "currency", Required: true, MaxSelect: 1, Values: []string{"GBP"}},
			&core.DateField{Name: "donated_on", Required: true},
			&core.SelectField{Name: "method", Required: true, MaxSelect: 1, Values: vocab.DonationMethods},
			&core.TextField{Name: "provider", Max: 60, Help: "Where it came from, e.g. stripe, justgiving, bank."},
			&core.TextField{Name: "reference", Max: 100, Presentable: true, Help: "The provider's id; a re-imported export matches on it."},
			&core.RelationField{Name: "pledge", CollectionId: pledges.Id, MaxSelect: 1},
			&core.BoolField{Name: "gift_aid_eligible", Help: "The donor's own money, with a valid declaration covering it."},
			&core.RelationField{Name: "gift_aid_declaration", CollectionId: decl.Id, MaxSelect: 1},
			&core.TextField{Name: "gift_aid_claim", Max: 60, Help: "The claim this donation was included in."},
			&core.TextField{Name: "notes", Max: 5000},
		)
		donations.Fields.Add(timestamps()...)
		donations.AddIndex("idx_donations_supporter", false, "supporter, donated_on", "")
		donations.AddIndex("idx_donations_reference", true, "provider, reference", "reference != ''")
		donations.AddIndex("idx_donations_gift_aid", false, "gift_aid_eligible, gift_aid_claim, donated_on", "")
		setRules(donations, ruleAdmin)
		return app.Save(donations)
	}, func(app core.App) error {
		return deleteCollections(app, vocab.Donations, vocab.Pledges, vocab.Declarations)
	})
}
