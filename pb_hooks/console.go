package pb_hooks

import (
	"io/fs"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/console"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
	"supportercrm/templates"
)

// bindConsole wires the staff console at /staff/ (issue 10). The console's
// own pages mount first; each console package adds its pages after, with
// one line here (e.g. campaignui.Register(c)), or with the console returned
// when its pages need what Register builds later (the campaign engine).
func bindConsole(app core.App, layouts fs.FS, set *views.Set, signer *tokens.Signer, identity func() (charity.Identity, error), wake func()) (*console.Console, error) {
	c, err := console.New(console.Config{
		App: app, Templates: layouts, Base: templates.FS, Mail: set,
		Signer: signer, Identity: identity, Wake: wake,
	})
	if err != nil {
		return nil, err
	}
	var warned bool
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		c.Mount(se)
		supporterPages(app, c, set, signer, identity, wake)
		if !warned {
			warned = true
			console.WarnSampleIdentity(app)
		}
		return se.Next()
	})
	return c, nil
}
