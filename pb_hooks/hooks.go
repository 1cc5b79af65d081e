// Package pb_hooks wires the capabilities into PocketBase: record guards,
// the public routes, and the background workers' start and stop. It holds no
// logic of its own.
package pb_hooks

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/groupcommit"
	"supportercrm/internal/outbox"
	"supportercrm/internal/signup"
	"supportercrm/internal/views"
	"supportercrm/templates"
)

// bodyLimit caps public form and JSON bodies; a signup is a few hundred bytes.
const bodyLimit = 64 << 10

// Register binds everything to app. Templates are parsed here, so a broken
// override stops start-up with the parser's message.
func Register(app core.App, cfg Config) error {
	set, err := views.Load(views.Overlay(cfg.TemplatesDir, templates.FS), templates.FS)
	if err != nil {
		return err
	}
	identity := charity.NewSource(app)
	topics := signup.NewTopicCache(app)
	writes := groupcommit.New(app, 64)
	signup.BindGuards(app)

	cfg.Outbox.Suppressed = signup.IsSuppressed
	var (
		once   sync.Once
		stop   context.CancelFunc
		done   = make(chan struct{})
		worker = outbox.NewWorker(app, cfg.Outbox, outbox.DialSettings(app))
	)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		signer, err := cfg.signer(app.DataDir())
		if err != nil {
			return err
		}
		h := &signup.Handlers{S: &signup.Service{
			App: app, Signer: signer, Views: set, Identity: identity.Get, Topics: topics, Writes: writes,
			Notify: worker.Wake, MinSubmit: cfg.MinSubmit, ResendAfter: cfg.ResendAfter,
		}}
		routes(se, h, set)
		once.Do(func() {
			var ctx context.Context
			ctx, stop = context.WithCancel(context.Background())
			go func() { defer close(done); worker.Run(ctx) }()
		})
		return se.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		writes.Stop() // the HTTP server has stopped taking requests by now
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

// routes is the public HTTP interface of the design, in one table.
func routes(se *core.ServeEvent, h *signup.Handlers, set *views.Set) {
	r := se.Router
	limit := apis.BodyLimit(bodyLimit)
	r.GET("/{$}", h.SignupPage)
	r.POST("/subscribe", h.SubscribeForm).Bind(limit)
	r.POST("/api/subscribe", h.SubscribeJSON).Bind(limit, subscribeCORS(h))
	r.OPTIONS("/api/subscribe", func(e *core.RequestEvent) error { return e.NoContent(http.StatusNoContent) }).Bind(subscribeCORS(h))
	r.GET("/confirm", h.ConfirmPage)
	r.GET("/unsubscribe", h.UnsubscribePage)
	r.POST("/unsubscribe", h.Unsubscribe).Bind(limit)
	r.GET("/preferences", h.PreferencesPage)
	r.POST("/preferences", h.Preferences).Bind(limit)
	r.GET("/embed", h.EmbedPage)
	r.GET("/embed.js", h.EmbedScript)
	r.GET("/static/{path...}", apis.Static(set.Static(), false))
	exemptFromDefaultCORS(se, "/api/subscribe")
}
