package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

func init() {
	m.Register(func(app core.App) error {
		topics := core.NewBaseCollection(vocab.Topics)
		topics.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 80, Presentable: true},
			&core.TextField{Name: "slug", Required: true, Max: 40, Pattern: `^[a-z0-9][a-z0-9-]*$`, Help: "Used in forms and the API; lowercase letters, digits and dashes."},
			&core.TextField{Name: "description", Max: 300, Help: "Shown beside the checkbox on the signup page."},
			&core.BoolField{Name: "public", Help: "Public topics are offered on the signup and preferences pages."},
			&core.NumberField{Name: "sort_order", OnlyInt: true},
		)
		topics.Fields.Add(timestamps()...)
		topics.AddIndex("idx_topics_slug", true, "slug", "")
		topics.ListRule = types.Pointer(`public = true || @request.auth.collectionName = "staff"`)
		topics.ViewRule = topics.ListRule
		topics.CreateRule = ruleAdmin
		topics.UpdateRule = ruleAdmin
		if err := app.Save(topics); err != nil {
			return err
		}

		supporters := core.NewBaseCollection(vocab.Supporters)
		supporters.Fields.Add(
			&core.EmailField{Name: "email", Required: true, Presentable: true},
			&core.TextField{Name: "first_name", Max: 100, Presentable: true},
			&core.TextField{Name: "last_name", Max: 100, Presentable: true},
			&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: vocab.SupporterStatuses},
			&core.RelationField{Name: "topics", CollectionId: topics.Id, MaxSelect: 100},
			&core.JSONField{Name: "tags", MaxSize: 4096, Help: `A JSON list of labels, e.g. ["volunteer", "leeds"].`},
			&core.TextField{Name: "source", Max: 100, Help: "Where the supporter first signed up."},
			&core.TextField{Name: "address", Max: 500, Help: "Home address, for Gift Aid."},
			&core.TextField{Name: "postcode", Max: 10},
			&core.DateField{Name: "confirmed_at"},
			&core.DateField{Name: "unsubscribed_at"},
			&core.NumberField{Name: "bounce_count", OnlyInt: true, Min: types.Pointer(0.0)},
			&core.TextField{Name: "notes", Max: 10000},
		)
		supporters.Fields.Add(timestamps()...)
		supporters.AddIndex("idx_supporters_email", true, "email", "")
		supporters.AddIndex("idx_supporters_status", false, "status", "")
		supporters.AddIndex("idx_supporters_name", false, "last_name, first_name", "")
		supporters.AddIndex("idx_supporters_postcode", false, "postcode", "")
		supporters.AddIndex("idx_supporters_created", false, "created", "")
		supporters.ListRule = ruleStaff
		supporters.ViewRule = ruleStaff
		supporters.UpdateRule = ruleAdmin
		if err := app.Save(supporters); err != nil {
			return err
		}

		consents := core.NewBaseCollection(vocab.Consents)
		consents.Fields.Add(
			&core.RelationField{Name: "supporter", CollectionId: supporters.Id, MaxSelect: 1, Required: true},
			&core.EmailField{Name: "email", Presentable: true, Help: "The address as given, kept as evidence."},
			&core.SelectField{Name: "action", Required: true, MaxSelect: 1, Values: []string{vocab.ActionGrant, vocab.ActionWithdraw, vocab.ActionDetails}},
			&core.SelectField{Name: "basis", Required: true, MaxSelect: 1, Values: []string{vocab.BasisConsent, vocab.BasisSoftOptIn}},
			&core.RelationField{Name: "topics", CollectionId: topics.Id, MaxSelect: 100},
			&core.JSONField{Name: "topic_slugs", MaxSize: 4096, Help: "The topics' slugs at the time, kept even if a topic is renamed."},
			&core.JSONField{Name: "details", MaxSize: 4096, Help: "Names given with this request."},
			&core.TextField{Name: "wording", Max: 5000, Help: "The exact consent statement shown."},
			&core.TextField{Name: "wording_version", Max: 64},
			&core.SelectField{Name: "method", Required: true, MaxSelect: 1, Values: vocab.ConsentMethods},
			&core.TextField{Name: "ip", Max: 64},
			&core.TextField{Name: "user_agent", Max: 500},
			&core.DateField{Name: "confirmed_at", Help: "When the double opt-in link was followed."},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		consents.AddIndex("idx_consents_supporter", false, "supporter, created", "")
		consents.ListRule = ruleStaff
		consents.ViewRule = ruleStaff
		if err := app.Save(consents); err != nil {
			return err
		}

		outbox := core.NewBaseCollection(vocab.Outbox)
		outbox.Fields.Add(
			&core.EmailField{Name: "to", Required: true, Presentable: true},
			&core.TextField{Name: "to_name", Max: 200},
			&core.RelationField{Name: "supporter", CollectionId: supporters.Id, MaxSelect: 1},
			&core.SelectField{Name: "kind", Required: true, MaxSelect: 1, Values: vocab.OutboxKinds},
			&core.TextField{Name: "subject", Required: true, Max: 300, Presentable: true},
			&core.TextField{Name: "html", Max: 1 << 20},
			&core.TextField{Name: "text", Max: 1 << 20},
			&core.JSONField{Name: "headers", MaxSize: 8192},
			&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: []string{vocab.OutboxQueued, vocab.OutboxSent, vocab.OutboxFailed, vocab.OutboxCancelled}},
			&core.NumberField{Name: "attempts", OnlyInt: true, Min: types.Pointer(0.0)},
			&core.DateField{Name: "next_attempt_at"},
			&core.TextField{Name: "last_error", Max: 2000},
			&core.TextField{Name: "message_id", Max: 300},
			&core.DateField{Name: "sent_at"},
		)
		outbox.Fields.Add(timestamps()...)
		outbox.AddIndex("idx_outbox_due", false, "status, next_attempt_at", "")
		outbox.AddIndex("idx_outbox_to", false, "`to`, kind, created", "")
		outbox.AddIndex("idx_outbox_supporter", false, "supporter, status", "")
		if err := app.Save(outbox); err != nil {
			return err
		}

		suppressions := core.NewBaseCollection(vocab.Suppressions)
		suppressions.Fields.Add(
			&core.TextField{Name: "email_hash", Required: true, Max: 300, Presentable: true, Help: "SHA-256 of the normalised address. Type an address here and it is hashed on save."},
			&core.SelectField{Name: "reason", Required: true, MaxSelect: 1, Values: []string{vocab.SuppressErased, vocab.SuppressComplained, vocab.SuppressHardBounce, vocab.SuppressManual}},
			&core.TextField{Name: "note", Max: 1000},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		suppressions.AddIndex("idx_suppressions_hash", true, "email_hash", "")
		suppressions.ListRule = ruleAdmin
		suppressions.ViewRule = ruleAdmin
		suppressions.CreateRule = ruleAdmin
		if err := app.Save(suppressions); err != nil {
			return err
		}

		staff := core.NewAuthCollection(vocab.Staff)
		staff.Fields.Add(
			&core.TextField{Name: "name", Max: 100, Presentable: true},
			&core.SelectField{Name: "role", Required: true, MaxSelect: 1, Values: []string{vocab.RoleComms, vocab.RoleAdmin}},
		)
		staff.Fields.Add(timestamps()...)
		staff.ListRule = types.Pointer(`id = @request.auth.id || (@request.auth.collectionName = "staff" && @request.auth.role = "admin")`)
		staff.ViewRule = staff.ListRule
		staff.CreateRule = ruleAdmin
		// Staff may edit their own name and password but not their role.
		staff.UpdateRule = types.Pointer(`(@request.auth.collectionName = "staff" && @request.auth.role = "admin") || (id = @request.auth.id && @request.body.role:isset = false)`)
		staff.DeleteRule = ruleAdmin
		staff.ManageRule = ruleAdmin
		if err := app.Save(staff); err != nil {
			return err
		}

		charity := core.NewBaseCollection(vocab.Charity)
		charity.Fields.Add(
			&core.TextField{Name: "name", Required: true, Max: 120, Presentable: true},
			&core.TextField{Name: "charity_number", Max: 40, Help: "Registered charity number, shown in every footer."},
			&core.TextField{Name: "postal_address", Required: true, Max: 300, Help: "Shown in every email footer (PECR)."},
			&core.URLField{Name: "website", Required: true},
			&core.EmailField{Name: "contact_email"},
			&core.URLField{Name: "privacy_url", Help: "Your privacy notice."},
			&core.FileField{Name: "logo", MaxSelect: 1, MaxSize: 2 << 20, MimeTypes: []string{"image/png", "image/jpeg", "image/svg+xml", "image/webp"}},
			&core.TextField{Name: "tagline", Max: 200},
			&core.TextField{Name: "signup_intro", Max: 2000, Help: "The paragraph above the signup form."},
			&core.TextField{Name: "consent_wording", Required: true, Max: 2000, Help: "The exact statement supporters agree to. Its version is recorded with every consent."},
			&core.JSONField{Name: "embed_origins", MaxSize: 4096, Help: `Websites allowed to call /api/subscribe from the browser, e.g. ["https://www.example.org.uk"].`},
		)
		charity.Fields.Add(timestamps()...)
		// The identity is public information; only superusers change it (the dashboard).
		charity.ListRule = types.Pointer("")
		charity.ViewRule = types.Pointer("")
		return app.Save(charity)
	}, func(app core.App) error {
		return deleteCollections(app, vocab.Charity, vocab.Staff, vocab.Suppressions, vocab.Outbox, vocab.Consents, vocab.Supporters, vocab.Topics)
	})
}
