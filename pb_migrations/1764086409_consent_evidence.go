package pb_migrations

import (
	"slices"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Consent captured outside the app (imports): the evidence as the admin gave
// it, and when it was given, which is not when the row was recorded.
func init() {
	m.Register(func(app core.App) error {
		consents, err := app.FindCollectionByNameOrId(vocab.Consents)
		if err != nil {
			return err
		}
		// Beside the other times, before created, for the dashboard.
		at := slices.IndexFunc(consents.Fields, func(f core.Field) bool { return f.GetName() == "created" })
		consents.Fields.AddAt(at,
			&core.TextField{Name: "evidence", Max: 500, Help: `For imports: where consent was captured, e.g. "paper form, Leeds fair 2025".`},
			&core.DateField{Name: "given_at", Help: "For imports: when consent was given (the row's created time is when it was recorded here)."},
		)
		return app.Save(consents)
	}, func(app core.App) error {
		consents, err := app.FindCollectionByNameOrId(vocab.Consents)
		if err != nil {
			return err
		}
		consents.Fields.RemoveByName("evidence")
		consents.Fields.RemoveByName("given_at")
		return app.Save(consents)
	})
}
