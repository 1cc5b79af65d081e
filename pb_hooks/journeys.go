package pb_hooks

import (
	"context"
	"sync"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/journeys"
)

// bindJourneys wires the journeys: their hooks on every writer, the
// view-in-browser link of their emails, and the worker while serving (after
// the campaign engine has started: it sends through it).
func bindJourneys(app core.App, cfg journeys.Config, engine *campaigns.Engine) {
	svc := journeys.New(app, engine, cfg)
	svc.BindHooks()
	engine.ViewElse = svc.View
	var (
		once sync.Once
		stop context.CancelFunc
		done = make(chan struct{})
	)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		if err := se.Next(); err != nil { // the engine starts in a later handler
			return err
		}
		once.Do(func() {
			var ctx context.Context
			ctx, stop = context.WithCancel(context.Background())
			go func() { defer close(done); svc.Run(ctx) }()
		})
		return nil
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		if stop != nil {
			stop()
			<-done // the message in flight is finished and recorded
		}
		return e.Next()
	})
}
