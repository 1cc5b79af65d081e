package pb_hooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"supportercrm/internal/fbgraph"
	"supportercrm/internal/fbsync"
	"supportercrm/internal/tz"
)

// FacebookConfig is where the events sync reads from and when (env
// FACEBOOK_*). The token and app secret are never logged.
type FacebookConfig struct {
	PageID, Token string
	GraphURL      string        // FACEBOOK_GRAPH_URL: another Graph host (tests, proxies)
	Source        fbsync.Source // FACEBOOK_SOURCE: posts (default) or events
	// PostsWindow is how far back the posts source reads (FACEBOOK_POSTS_DAYS,
	// default 365 days; zero means the default).
	PostsWindow time.Duration
	// Spec is the sync's cron spec in Europe/London time (FACEBOOK_SYNC,
	// default every 30 minutes; set empty to sync only on demand).
	Spec        string
	VerifyToken string // FACEBOOK_VERIFY_TOKEN
	AppSecret   string // FACEBOOK_APP_SECRET
	// WebhookDelay gathers a burst of webhook deliveries into one sync.
	WebhookDelay time.Duration
}

// notConfigured is said once, at start, when there is nothing to sync from.
const notConfigured = "facebook sync: not configured (set FACEBOOK_PAGE_ID and FACEBOOK_ACCESS_TOKEN); events come only from the dashboard"

var errNotConfigured = errors.New(notConfigured)

// cronParser reads 5-field specs and descriptors such as @hourly.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func facebookFromEnv() (FacebookConfig, error) {
	c := FacebookConfig{
		PageID:       os.Getenv("FACEBOOK_PAGE_ID"),
		Token:        os.Getenv("FACEBOOK_ACCESS_TOKEN"),
		GraphURL:     os.Getenv("FACEBOOK_GRAPH_URL"),
		Source:       fbsync.Source(os.Getenv("FACEBOOK_SOURCE")),
		Spec:         "@every 30m",
		VerifyToken:  os.Getenv("FACEBOOK_VERIFY_TOKEN"),
		AppSecret:    os.Getenv("FACEBOOK_APP_SECRET"),
		WebhookDelay: 10 * time.Second,
	}
	if v, ok := os.LookupEnv("FACEBOOK_SYNC"); ok {
		c.Spec = v
	}
	if c.Source == "" {
		c.Source = fbsync.Posts
	}
	if c.Source != fbsync.Posts && c.Source != fbsync.Events {
		return c, fmt.Errorf("FACEBOOK_SOURCE must be posts or events, got %q", c.Source)
	}
	if v := os.Getenv("FACEBOOK_POSTS_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 36500 {
			return c, fmt.Errorf("FACEBOOK_POSTS_DAYS must be a whole number of days from 1 to 36500, got %q", v)
		}
		c.PostsWindow = time.Duration(n) * 24 * time.Hour
	}
	if c.Spec != "" {
		if _, err := cronParser.Parse(c.Spec); err != nil {
			return c, fmt.Errorf("FACEBOOK_SYNC: %w", err)
		}
	}
	return c, nil
}

// syncer builds the sync, or nil when no page or token is configured.
func (c FacebookConfig) syncer(app core.App, alert func(subject, text string)) (*fbsync.Syncer, error) {
	if c.PageID == "" || c.Token == "" {
		return nil, nil
	}
	client, err := fbgraph.New(fbgraph.Config{BaseURL: c.GraphURL, PageID: c.PageID, Token: c.Token})
	if err != nil {
		return nil, err
	}
	return &fbsync.Syncer{App: app, Graph: client, Source: c.Source, PostsWindow: c.PostsWindow, Now: time.Now, Alert: alert}, nil
}

// facebook runs the sync on its schedule and on webhook deliveries, and
// serves the webhook, the manual sync route and the events page.
type facebook struct {
	app      core.App
	cfg      FacebookConfig
	syncer   *fbsync.Syncer // nil when not configured
	cron     *cron.Cron
	ctx      context.Context
	cancel   context.CancelFunc
	trigger  func()
	stopHook func()
}

func newFacebook(app core.App, cfg FacebookConfig, alert func(subject, text string)) (*facebook, error) {
	s, err := cfg.syncer(app, alert)
	if err != nil {
		return nil, err
	}
	f := &facebook{app: app, cfg: cfg, syncer: s}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.trigger, f.stopHook = fbsync.Debounce(cfg.WebhookDelay, func() { f.run(fbsync.TriggerWebhook) })
	return f, nil
}

// start begins the scheduled syncs, or says once that there are none.
func (f *facebook) start() error {
	if f.syncer == nil {
		f.app.Logger().Info(notConfigured)
		return nil
	}
	if f.cfg.Spec == "" {
		return nil
	}
	f.cron = cron.New(cron.WithParser(cronParser), cron.WithLocation(tz.London),
		cron.WithChain(cron.Recover(cron.DefaultLogger), cron.SkipIfStillRunning(cron.DefaultLogger)))
	if _, err := f.cron.AddFunc(f.cfg.Spec, func() { f.run(fbsync.TriggerCron) }); err != nil {
		return err
	}
	f.cron.Start()
	return nil
}

// stop cancels a sync in flight (its fetched events are kept; the next run
// fetches again) and waits for the schedule to wind down.
func (f *facebook) stop() {
	f.stopHook()
	f.cancel()
	if f.cron != nil {
		<-f.cron.Stop().Done()
	}
}

// run syncs and logs the outcome; errors never carry the token.
func (f *facebook) run(trigger string) {
	if f.syncer == nil {
		return
	}
	res, err := f.syncer.Run(f.ctx, trigger)
	switch {
	case errors.Is(err, fbsync.ErrBusy), errors.Is(err, fbsync.ErrBackingOff):
		f.app.Logger().Info("facebook sync skipped", "trigger", trigger, "reason", err.Error())
	case err != nil:
		f.app.Logger().Error("facebook sync failed", "trigger", trigger, "error", err.Error(), "fetched", res.Fetched)
	default:
		f.app.Logger().Info("facebook sync", "trigger", trigger, "fetched", res.Fetched, "created", res.Created, "updated", res.Updated, "removed", res.Removed)
	}
}

// syncNow serves POST /api/facebook/sync (superusers): a sync now, with
// its counts or its error.
func (f *facebook) syncNow(e *core.RequestEvent) error {
	if f.syncer == nil {
		return e.Error(http.StatusServiceUnavailable, notConfigured, nil)
	}
	res, err := f.syncer.Run(e.Request.Context(), fbsync.TriggerAdmin)
	if errors.Is(err, fbsync.ErrBusy) {
		return e.Error(http.StatusConflict, err.Error(), nil)
	}
	body := map[string]any{"fetched": res.Fetched, "created": res.Created, "updated": res.Updated, "removed": res.Removed}
	if err != nil {
		body["error"] = err.Error()
		return e.JSON(http.StatusBadGateway, body)
	}
	return e.JSON(http.StatusOK, body)
}

func (f *facebook) routes(se *core.ServeEvent) {
	hook := &fbsync.Webhook{VerifyToken: f.cfg.VerifyToken, AppSecret: f.cfg.AppSecret, Trigger: f.trigger}
	se.Router.GET("/api/webhooks/facebook", hook.Verify)
	se.Router.POST("/api/webhooks/facebook", hook.Receive)
	se.Router.POST("/api/facebook/sync", f.syncNow).Bind(apis.RequireSuperuserAuth())
}

// command is `facebook sync`: one sync from the command line, for cron on
// the host or a first import.
func (f *facebook) command() *cobra.Command {
	fb := &cobra.Command{Use: "facebook", Short: "Facebook Page events"}
	fb.AddCommand(&cobra.Command{
		Use:          "sync",
		Short:        "Fetch the Page's event posts (or events) into the events collection now",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.syncer == nil {
				return errNotConfigured
			}
			if err := f.app.RunAllMigrations(); err != nil { // as serve does, for a fresh data dir
				return err
			}
			res, err := f.syncer.Run(cmd.Context(), fbsync.TriggerCLI)
			fmt.Fprintf(cmd.OutOrStdout(), "fetched %d, created %d, updated %d, removed %d\n", res.Fetched, res.Created, res.Updated, res.Removed)
			return err
		},
	})
	return fb
}
