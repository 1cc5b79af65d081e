package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// The staff console (issue 10). Staff sign in with a password and then a
// one-time code by email: PocketBase's own MFA, on for everyone, through the
// console and the REST API alike. A disabled member can't authenticate at all
// (the auth rule), sessions last a working day, and passwords are at least 12
// characters. The audit collection is append-only: no API rule lets anyone
// but a superuser near it, and internal/console's guard refuses updates and
// deletes from any code path.
func init() {
	m.Register(func(app core.App) error {
		staff, err := app.FindCollectionByNameOrId(vocab.Staff)
		if err != nil {
			return err
		}
		staff.Fields.Add(&core.BoolField{Name: "disabled", Help: "A disabled member can't sign in; their sessions end at once."})
		if f, ok := staff.Fields.GetByName(core.FieldNamePassword).(*core.PasswordField); ok {
			f.Min = 12
		}
		staff.AuthRule = types.Pointer("disabled = false")
		staff.PasswordAuth.Enabled = true
		staff.PasswordAuth.IdentityFields = []string{core.FieldNameEmail}
		staff.OTP.Enabled = true
		staff.OTP.Duration = 600
		staff.OTP.Length = 8
		staff.MFA.Enabled = true
		staff.MFA.Duration = 600
		staff.MFA.Rule = ""
		staff.AuthToken.Duration = 8 * 60 * 60
		if err := app.Save(staff); err != nil {
			return err
		}

		if err := setOutboxKinds(app, vocab.OutboxKinds); err != nil {
			return err
		}

		audit := core.NewBaseCollection(vocab.Audit)
		audit.Fields.Add(
			&core.TextField{Name: "staff", Max: 30, Help: "The staff record's id (kept as text so the row outlives the account)."},
			&core.TextField{Name: "staff_email", Max: 300, Presentable: true},
			&core.TextField{Name: "action", Required: true, Max: 100, Presentable: true},
			&core.TextField{Name: "target", Max: 300, Help: "What was acted on, as collection/id; never a supporter's address."},
			&core.TextField{Name: "detail", Max: 2000},
			&core.TextField{Name: "ip", Max: 100},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		audit.AddIndex("idx_audit_created", false, "created", "")
		audit.ListRule = ruleAdmin
		audit.ViewRule = ruleAdmin
		return app.Save(audit)
	}, func(app core.App) error {
		if err := deleteCollections(app, vocab.Audit); err != nil {
			return err
		}
		staff, err := app.FindCollectionByNameOrId(vocab.Staff)
		if err != nil {
			return err
		}
		staff.Fields.RemoveByName("disabled")
		staff.AuthRule = types.Pointer("")
		staff.OTP.Enabled = false
		staff.MFA.Enabled = false
		return app.Save(staff)
	})
}
