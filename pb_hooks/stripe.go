package pb_hooks

import (
	"sync"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/signup"
	"supportercrm/internal/stripepay"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
)

// bindStripe wires online giving (issue 12): the giving pages, the signed
// Stripe webhook, and the hourly removal of checkouts never paid. Without
// Stripe's keys the pages say online giving isn't set up and the app runs
// as usual.
func bindStripe(app core.App, cfg Config, signer *tokens.Signer, set *views.Set, identity func() (charity.Identity, error), topics *signup.TopicCache, wake func()) {
	s := stripepay.New(stripepay.Service{
		App: app, Config: cfg.Stripe, Signer: signer, Views: set, Identity: identity,
		Signup: &signup.Service{App: app, Signer: signer, Views: set, Identity: identity, Topics: topics, Notify: wake},
		Alert:  func(subject, text string) { alertStaff(app, subject, text) }, Notify: wake, MinSubmit: cfg.MinSubmit,
	})
	var once sync.Once
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		r, limit := se.Router, apis.BodyLimit(bodyLimit)
		r.GET("/donate", s.DonatePage)
		r.POST("/donate", s.Donate).Bind(limit)
		r.GET("/sponsor-a-room", s.SponsorPage)
		r.POST("/sponsor-a-room", s.Sponsor).Bind(limit)
		r.GET("/donate/thank-you", s.Thanks)
		r.GET("/donate/cancelled", s.Cancelled)
		r.GET("/sponsor-a-room/manage", s.ManagePage)
		r.POST("/sponsor-a-room/manage", s.Manage).Bind(limit)
		r.GET("/sponsor-a-room/manage/portal", s.Portal)
		r.POST("/api/webhooks/stripe", s.Webhook)
		once.Do(func() {
			if !cfg.Stripe.Enabled() {
				app.Logger().Info("online giving is off: set CRM_STRIPE_SECRET_KEY and CRM_STRIPE_WEBHOOK_SECRET to take gifts through Stripe")
			}
		})
		return se.Next()
	})
	runHourly(app, s.Prune)
}
