package pb_hooks

import (
	"context"
	"io/fs"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/console"
	"supportercrm/internal/console/campaignui"
	"supportercrm/internal/fbsync"
)

// bindCampaignPages adds the console's campaign, schedule and event pages
// (issue 10), after the console's own routes are mounted.
func bindCampaignPages(app core.App, c *console.Console, engine *campaigns.Engine, layouts fs.FS, fb *facebook) {
	pages := &campaignui.Pages{Console: c, App: app, Engine: engine, Templates: layouts}
	if fb.syncer != nil {
		pages.Sync = func(ctx context.Context) (fbsync.Result, error) { return fb.syncer.Run(ctx, fbsync.TriggerAdmin) }
	}
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		if err := pages.Mount(); err != nil {
			return err
		}
		return se.Next()
	})
}
