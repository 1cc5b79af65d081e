package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// PocketBase creates a "users" auth collection that anyone may register in.
// This app has no end-user accounts (supporters never log in; staff have
// their own collection), so an open registration endpoint is only risk.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return nil // already gone
		}
		return app.Delete(users)
	}, func(app core.App) error {
		return nil
	})
}
