package pb_hooks

import (
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/robfig/cron/v3"

	"supportercrm/internal/charity"
	"supportercrm/internal/erasure"
	"supportercrm/internal/giftaid"
	"supportercrm/internal/retention"
	"supportercrm/internal/signup"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
)

// bindPrivacy wires the CRM's privacy and Gift Aid parts that hold for every
// writer and command: the Gift Aid hooks (declaration checks, thank-you
// email on a donation) and the hourly retention job while serving.
func bindPrivacy(app core.App, cfg Config, signer *tokens.Signer, set *views.Set, identity func() (charity.Identity, error), wake func()) {
	gift := &giftaid.Service{App: app, Signer: signer, Views: set, Identity: identity, Suppressed: signup.IsSuppressed, Notify: wake}
	gift.BindHooks()

	pruner := &retention.Pruner{App: app, Now: time.Now, After: cfg.PendingRetention, Anonymise: erasure.Anonymise}
	var (
		once  sync.Once
		ticks *cron.Cron
	)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		var err error
		once.Do(func() {
			ticks = cron.New(cron.WithChain(cron.Recover(cron.DefaultLogger), cron.SkipIfStillRunning(cron.DefaultLogger)))
			if _, err = ticks.AddFunc("@hourly", pruner.Tick); err == nil {
				ticks.Start()
			}
		})
		if err != nil {
			return err
		}
		return se.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		if ticks != nil {
			<-ticks.Stop().Done()
		}
		return e.Next()
	})
}
