// Package journeys sends series of emails that start on their own: a
// welcome series when someone confirms, or a series for a topic when a
// subscribed supporter gains it. A journey is a trigger and an audience
// (journeys), and steps, each a delay and content like a campaign's
// (journey_steps).
//
// When a journey starts for a supporter, one row per step is written to
// journey_sends in the same transaction as the change that started it, each
// with its due time; the row is unique by step and supporter, so each step
// goes to each supporter once, whatever restarts, edits or clock changes
// come between. The Worker sends the rows that are due through the
// campaign engine's own path (campaigns.Single): the same rendering, list
// headers, send-time check, retries and bounce handling.
//
// Editing a step changes what those waiting for it get (content is read at
// send time; a new delay moves their due times), removing a step skips it,
// and a supporter who unsubscribes, bounces or is erased leaves the series.
package journeys

import (
	"context"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
)

// Config tunes the worker. Zero values take the defaults.
type Config struct {
	// Now is the clock of due times (time.Now). Retry delays come from the
	// engine, measured from this clock's now.
	Now func() time.Time
	// Poll is how often the worker looks for due steps (15s). Steps due at
	// once are sent as soon as the change that started them commits.
	Poll time.Duration
	// Batch is the most sends read per pass (200).
	Batch int
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Poll <= 0 {
		c.Poll = 15 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 200
	}
	return c
}

// claimFor is how long a worker holds a send it is handing to the relay:
// far longer than a send takes, so it runs out only when that worker died,
// and another takes the send over.
const claimFor = 5 * time.Minute

// Service binds the journey hooks and runs the worker.
type Service struct {
	App    core.App
	Engine *campaigns.Engine
	Config Config

	wake chan struct{}
}

// New returns a service; call BindHooks, then Run while serving.
func New(app core.App, engine *campaigns.Engine, cfg Config) *Service {
	return &Service{App: app, Engine: engine, Config: cfg.withDefaults(), wake: make(chan struct{}, 1)}
}

func (s *Service) now() time.Time { return s.Config.Now().UTC() }

// Wake asks the worker to look for due steps now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// wakeAfter wakes the worker once app's transaction (if any) commits, when
// the rows it wrote can be seen.
func (s *Service) wakeAfter(app core.App) {
	if info := app.TxInfo(); info != nil {
		info.OnComplete(func(txErr error) error {
			if txErr == nil {
				s.Wake()
			}
			return nil
		})
		return
	}
	s.Wake()
}

// Run sends due steps until ctx ends; a message being sent then is finished
// and recorded first.
func (s *Service) Run(ctx context.Context) {
	failing := false // said once, not every pass, until a pass succeeds
	for {
		err := s.Tick(ctx)
		if err != nil && ctx.Err() == nil && !failing {
			s.App.Logger().Warn("journeys: a pass stopped short; due steps wait for the next", "error", err.Error())
		}
		failing = err != nil
		t := time.NewTimer(s.Config.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}
