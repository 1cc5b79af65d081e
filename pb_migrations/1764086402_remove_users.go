package pb_migrations

import (
	"slices"

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
		// Deleting a collection with a file field makes PocketBase empty its
		// storage folder in a background goroutine that reads the S3 settings
		// without their lock (core/base.go NewFilesystem), while a later
		// migration's settings save rewrites them under it: a data race at
		// first start. PocketBase's system migration created this collection
		// just before, without records, so there is no folder to empty; the
		// file fields are dropped from this copy so that no cleanup is started.
		users.Fields = slices.DeleteFunc(users.Fields, func(f core.Field) bool { return f.Type() == core.FieldTypeFile })
		return app.Delete(users)
	}, func(app core.App) error {
		return nil
	})
}
