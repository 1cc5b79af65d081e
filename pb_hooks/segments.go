package pb_hooks

import (
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/segments"
	"supportercrm/internal/vocab"
)

// bindSegments wires the saved segments: their checks on every writer, and
// the staff's counts (the snapshot's own query) while serving.
func bindSegments(app core.App) {
	segments.BindHooks(app)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		staff := apis.RequireAuth(core.CollectionNameSuperusers, vocab.Staff)
		se.Router.GET("/api/crm/segments/{id}/count", segments.CountSegment).Bind(staff)
		se.Router.GET("/api/crm/campaigns/{id}/count", segments.CountCampaign(vocab.Campaigns)).Bind(staff)
		se.Router.GET("/api/crm/schedules/{id}/count", segments.CountCampaign(vocab.Schedules)).Bind(staff)
		return se.Next()
	})
}
