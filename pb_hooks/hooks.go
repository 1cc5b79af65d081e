// Package pb_hooks wires the capabilities into PocketBase: record guards,
// the public routes, and the background workers' start and stop. It holds no
// logic of its own.
package pb_hooks

import (
	"context"
	"io/fs"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"supportercrm/internal/archive"
	"supportercrm/internal/campaigns"
	"supportercrm/internal/charity"
	"supportercrm/internal/emaillogo"
	"supportercrm/internal/events"
	"supportercrm/internal/groupcommit"
	"supportercrm/internal/outbox"
	"supportercrm/internal/schedules"
	"supportercrm/internal/signup"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
	"supportercrm/internal/vocab"
	"supportercrm/templates"
)

// bodyLimit caps public form and JSON bodies; a signup is a few hundred bytes.
const bodyLimit = 64 << 10

// outboxConnections is how many connections transactional mail goes out
// over at once: enough that confirmations keep up with a burst of signups
// (several senders share the writer's turns), few enough for any relay.
const outboxConnections = 8

// Register binds everything to app. Templates are parsed here, so a broken
// override stops start-up with the parser's message.
func Register(app core.App, cfg Config) error {
	layouts, set, signer, err := cfg.basics(app)
	if err != nil {
		return err
	}
	identity := charity.NewSource(app)
	topics := signup.NewTopicCache(app)
	writes := groupcommit.New(app, 64)
	signup.BindGuards(app)
	emaillogo.BindValidation(app)
	logo := &emaillogo.Logo{App: app, Static: set.Static()}
	outbox.BindSenderCheck(app)

	cfg.Outbox.Suppressed = signup.IsSuppressed
	cfg.Outbox.Writes = writes
	if cfg.Outbox.Connections == 0 {
		cfg.Outbox.Connections = outboxConnections
	}
	if cfg.Outbox.UnsubscribeMailto == "" {
		cfg.Outbox.UnsubscribeMailto = cfg.Campaigns.UnsubscribeMailto
	}
	outbox.BindAppURLNotice(app)
	returnPaths := bindBounces(app, cfg.Bounces, signer)
	bindBounceHooks(app, cfg.Webhooks)
	cfg.Outbox.ReturnPath = returnPaths.Outbox
	dial := outbox.DialSettings(app, &cfg.SMTP)
	worker := outbox.NewWorker(app, cfg.Outbox, dial)
	bindPrivacy(app, cfg, signer, set, identity.Get, worker.Wake)
	bindStripe(app, cfg, signer, set, identity.Get, topics, worker.Wake)
	cons, err := bindConsole(app, layouts, set, signer, identity.Get, worker.Wake)
	if err != nil {
		return err
	}
	alert := func(subject, text string) { alertStaff(app, subject, text) }
	engine := &campaigns.Engine{
		App: app, Config: cfg.Campaigns, Dial: dial, Signer: signer,
		Identity: identity.Get, Layouts: layouts, Hash: signup.HashEmail, Alert: alert, ReturnPath: returnPaths.Delivery,
		Funcs: func() map[string]any { return events.Funcs(app, time.Now) },
	}
	bindJourneys(app, cfg.Journeys, engine)
	bindSegments(app)
	bindTracking(app, signer, writes)
	bindArchive(app, &archive.Archive{App: app, Views: set, Identity: identity.Get, Funcs: engine.Funcs})
	fb, err := newFacebook(app, cfg.Facebook, alert)
	if err != nil {
		return err
	}
	bindCampaignPages(app, cons, engine, layouts, fb)
	bindDeliverabilityPage(app, cons, cfg)
	eventsPage := &events.Page{App: app, Views: set, Identity: identity.Get, Now: time.Now}
	scheduler := &schedules.Runner{App: app, Now: time.Now, Check: engine.Check, Alert: alert}
	scheduler.BindHooks()
	engine.BindHooks(func(tx core.App, to, subject, html, text string) error {
		if _, err := outbox.Enqueue(tx, outbox.Mail{To: to, Kind: vocab.KindTest, Subject: subject, HTML: html, Text: text}); err != nil {
			return err
		}
		// Test sends are queued inside the campaign's save: wake the worker
		// once that commits, when it can see them.
		if info := tx.TxInfo(); info != nil {
			info.OnComplete(func(txErr error) error {
				if txErr == nil {
					worker.Wake()
				}
				return nil
			})
		} else {
			worker.Wake()
		}
		return nil
	})

	var (
		once  sync.Once
		stop  context.CancelFunc
		done  = make(chan struct{})
		ticks *cron.Cron
		pprof func()
	)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		h := &signup.Handlers{S: &signup.Service{
			App: app, Signer: signer, Views: set, Identity: identity.Get, Topics: topics, Writes: writes,
			Notify: worker.Wake, MinSubmit: cfg.MinSubmit, ResendAfter: cfg.ResendAfter,
			ConfirmationsPerDay: cfg.ConfirmationsPerDay, Alert: alert,
			Unsubscribed: campaigns.CountUnsubscribe,
		}}
		routes(se, h, engine, set)
		se.Router.GET("/events", eventsPage.Serve)
		se.Router.GET(charity.EmailLogoPath, logo.Serve)
		fb.routes(se)
		var err error
		once.Do(func() {
			if cfg.PprofAddr != "" {
				var at net.Addr
				if at, pprof, err = startPprof(cfg.PprofAddr); err != nil {
					return
				}
				app.Logger().Info("pprof: serving profiles", "url", "http://"+at.String()+"/debug/pprof/")
			}
			var ctx context.Context
			ctx, stop = context.WithCancel(context.Background())
			// Said once at start; the charity record says it for as long as it lasts.
			if p := outbox.AppURLProblem(app.Settings().Meta.AppURL); p != "" {
				app.Logger().Warn(p)
			}
			go func() { defer close(done); worker.Run(ctx) }()
			engine.Start()
			// Due campaigns start within a second of their time, however they
			// were scheduled (dashboard, REST API or a restart).
			ticks = cron.New(cron.WithSeconds(), cron.WithChain(cron.Recover(cron.DefaultLogger), cron.SkipIfStillRunning(cron.DefaultLogger)))
			if _, err = ticks.AddFunc("@every "+campaigns.TickEvery.String(), engine.Tick); err != nil {
				return
			}
			if _, err = ticks.AddFunc("@every 10s", scheduler.Tick); err != nil {
				return
			}
			scheduler.Tick() // a run missed while the server was down happens now, once
			ticks.Start()
			err = fb.start()
		})
		if err != nil {
			return err
		}
		return se.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		writes.Stop() // the HTTP server has stopped taking requests by now
		if pprof != nil {
			pprof()
		}
		fb.stop()
		if ticks != nil {
			<-ticks.Stop().Done()
		}
		engine.Stop(20 * time.Second) // messages in flight finish and are recorded
		if stop != nil {
			stop()
			select { // the worker finishes the message in flight
			case <-done:
			case <-time.After(20 * time.Second):
			}
		}
		return e.Next()
	})
	return nil
}

// basics loads the templates (with the overrides) and the link signer.
func (cfg Config) basics(app core.App) (fs.FS, *views.Set, *tokens.Signer, error) {
	layouts := views.Overlay(cfg.TemplatesDir, templates.FS)
	set, err := views.Load(layouts, templates.FS)
	if err != nil {
		return nil, nil, nil, err
	}
	signer, err := cfg.signer(app.DataDir())
	return layouts, set, signer, err
}

// Commands are the app's own CLI commands, beside PocketBase's serve,
// superuser and migrate.
func Commands(app core.App, cfg Config) ([]*cobra.Command, error) {
	fb, err := newFacebook(app, cfg.Facebook, func(subject, text string) { alertStaff(app, subject, text) })
	if err != nil {
		return nil, err
	}
	return append([]*cobra.Command{fb.command(), PrivacyCommand(app), ClaimCommand(app), doctorCommand(app, cfg)}, crmCommands(app, cfg)...), nil
}

// alertStaff emails every admin (staff with the admin role, and superusers).
func alertStaff(app core.App, subject, text string) {
	var to []string
	for _, c := range []struct{ coll, filter string }{
		{vocab.Staff, "role = 'admin'"},
		{core.CollectionNameSuperusers, ""},
	} {
		recs, err := app.FindRecordsByFilter(c.coll, c.filter, "", 0, 0)
		if err != nil {
			continue
		}
		for _, r := range recs {
			to = append(to, r.Email())
		}
	}
	for _, addr := range to {
		if _, err := outbox.Enqueue(app, outbox.Mail{To: addr, Kind: vocab.KindAlert, Subject: subject, Text: text}); err != nil {
			app.Logger().Error("failed to queue a staff alert", "error", err.Error())
		}
	}
	app.Logger().Warn("staff alert: "+subject, "recipients", len(to))
}

// routes is the public HTTP interface of the design, in one table.
func routes(se *core.ServeEvent, h *signup.Handlers, engine *campaigns.Engine, set *views.Set) {
	r := se.Router
	limit := apis.BodyLimit(bodyLimit)
	r.GET("/{$}", h.SignupPage)
	// An accepted signup is not written to the request log: its consent row
	// already holds the time, IP and user agent as evidence, and a second
	// copy of every visitor's IP in _logs is personal data kept for nothing
	// (and a write for every signup). Refusals and faults are still logged.
	r.POST("/subscribe", h.SubscribeForm).Bind(limit, apis.SkipSuccessActivityLog())
	r.POST("/api/subscribe", h.SubscribeJSON).Bind(limit, subscribeCORS(h), apis.SkipSuccessActivityLog())
	r.OPTIONS("/api/subscribe", func(e *core.RequestEvent) error { return e.NoContent(http.StatusNoContent) }).Bind(subscribeCORS(h))
	r.GET("/confirm", h.ConfirmPage)
	r.GET("/unsubscribe", h.UnsubscribePage)
	r.POST("/unsubscribe", h.Unsubscribe).Bind(limit)
	r.GET("/preferences", h.PreferencesPage)
	r.POST("/preferences", h.Preferences).Bind(limit)
	r.GET("/embed", h.EmbedPage)
	r.GET("/embed.js", h.EmbedScript)
	r.GET("/view", engine.ViewPage)
	r.GET("/preview", engine.PreviewPage)
	r.GET("/static/{path...}", apis.Static(set.Static(), false))
	privacyRoutes(se, h.S)
	exemptFromDefaultCORS(se, "/api/subscribe")
}
