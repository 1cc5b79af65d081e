package pb_hooks

import (
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/robfig/cron/v3"
)

// runHourly runs job every hour from the app's first serve until it
// terminates (a run in flight finishes first; a run still going when the
// next is due is skipped).
func runHourly(app core.App, job func()) {
	var (
		once  sync.Once
		ticks *cron.Cron
	)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		var err error
		once.Do(func() {
			ticks = cron.New(cron.WithChain(cron.Recover(cron.DefaultLogger), cron.SkipIfStillRunning(cron.DefaultLogger)))
			if _, err = ticks.AddFunc("@hourly", job); err == nil {
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
