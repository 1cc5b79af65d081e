package pb_hooks

import (
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/archive"
)

// bindArchive wires the public archive: the public flag's check on every
// writer, and its pages while serving.
func bindArchive(app core.App, a *archive.Archive) {
	a.BindHooks()
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.GET("/archive", a.List)
		se.Router.GET("/archive/feed.xml", a.Feed)
		se.Router.GET("/archive/{slug}", a.Entry)
		return se.Next()
	})
}
