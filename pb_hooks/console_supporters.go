package pb_hooks

import (
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/console"
	"supportercrm/internal/console/supporterui"
	"supportercrm/internal/importer"
	"supportercrm/internal/signup"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
)

// supporterPages adds the console's supporter and admin-data pages (issue
// 10) to c, after c.Mount. Their imports send confirmations as the signup
// flows do; an import still running at shutdown finishes first (a 100,000
// row file takes seconds), so its report is audited.
func supporterPages(app core.App, c *console.Console, set *views.Set, signer *tokens.Signer, identity func() (charity.Identity, error), wake func()) {
	s := &signup.Service{App: app, Signer: signer, Views: set, Identity: identity, Notify: wake}
	p := supporterui.Register(c, app, &importer.Importer{App: app, Signup: s, Now: time.Now})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		p.Wait()
		return e.Next()
	})
}
