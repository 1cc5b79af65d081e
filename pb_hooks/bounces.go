package pb_hooks

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/robfig/cron/v3"

	"supportercrm/internal/bounces"
	"supportercrm/internal/signup"
	"supportercrm/internal/tokens"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// BounceConfig is the bounce handling of issue 11 (env CRM_BOUNCE_*).
type BounceConfig struct {
	// Domain is the bounce domain of the VERP envelope senders
	// (CRM_BOUNCE_DOMAIN); empty keeps the sender's address as the
	// envelope sender, and reports match by Message-ID.
	Domain string
	// SoftLimit soft bounces within SoftWindow make a supporter bounced
	// (CRM_BOUNCE_SOFT_LIMIT, default 3; CRM_BOUNCE_SOFT_DAYS, default 30).
	SoftLimit  int
	SoftWindow time.Duration
	// IMAP is the bounce mailbox (CRM_BOUNCE_IMAP_*); no Addr, no reader.
	IMAP bounces.IMAPConfig
	// IMAPSpec is when the mailbox is read (CRM_BOUNCE_IMAP_SPEC, cron,
	// Europe/London; default every 5 minutes).
	IMAPSpec string
	// SMTPAddr, when set, is where the inbound SMTP listener for the
	// bounce domain listens (CRM_BOUNCE_SMTP_ADDR, e.g. :25).
	SMTPAddr string
}

var domainRe = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

func bounceConfigFromEnv() (BounceConfig, error) {
	c := BounceConfig{
		Domain:   os.Getenv("CRM_BOUNCE_DOMAIN"),
		IMAPSpec: "@every 5m",
		SMTPAddr: os.Getenv("CRM_BOUNCE_SMTP_ADDR"),
		IMAP: bounces.IMAPConfig{
			Addr: os.Getenv("CRM_BOUNCE_IMAP_ADDR"), Security: os.Getenv("CRM_BOUNCE_IMAP_SECURITY"),
			Username: os.Getenv("CRM_BOUNCE_IMAP_USERNAME"), Password: os.Getenv("CRM_BOUNCE_IMAP_PASSWORD"),
			Mailbox: os.Getenv("CRM_BOUNCE_IMAP_MAILBOX"), MoveTo: "Processed",
		},
	}
	if c.Domain != "" && !domainRe.MatchString(c.Domain) {
		return c, fmt.Errorf("CRM_BOUNCE_DOMAIN must be a domain name such as bounces.example.org, got %q", c.Domain)
	}
	if v, ok := os.LookupEnv("CRM_BOUNCE_IMAP_MOVE_TO"); ok {
		c.IMAP.MoveTo = v // empty: flag processed mail seen instead
	}
	if c.IMAP.Addr != "" {
		if err := c.IMAP.Validate(); err != nil {
			return c, err
		}
	}
	if v := os.Getenv("CRM_BOUNCE_IMAP_SPEC"); v != "" {
		if _, err := cronParser.Parse(v); err != nil {
			return c, fmt.Errorf("CRM_BOUNCE_IMAP_SPEC must be a cron spec such as @every 5m or */10 * * * *: %v", err)
		}
		c.IMAPSpec = v
	}
	if c.SMTPAddr != "" && c.Domain == "" {
		return c, fmt.Errorf("CRM_BOUNCE_SMTP_ADDR needs CRM_BOUNCE_DOMAIN: the listener takes mail for the bounce domain only")
	}
	if v := os.Getenv("CRM_BOUNCE_SOFT_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return c, fmt.Errorf("CRM_BOUNCE_SOFT_LIMIT must be a whole number from 1 to 100, got %q", v)
		}
		c.SoftLimit = n
	}
	if v := os.Getenv("CRM_BOUNCE_SOFT_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 365 {
			return c, fmt.Errorf("CRM_BOUNCE_SOFT_DAYS must be a whole number of days from 1 to 365, got %q", v)
		}
		c.SoftWindow = time.Duration(n) * 24 * time.Hour
	}
	return c, nil
}

// bindBounces sets up bounce processing on app, starts the mailbox reader
// and the SMTP listener with the server, and returns the envelope senders
// for the outbox and the campaign engine.
func bindBounces(app core.App, cfg BounceConfig, signer *tokens.Signer) bounces.Addresses {
	addrs := bounces.Addresses{Signer: signer, Domain: cfg.Domain}
	bounces.Configure(app, bounces.Settings{
		Addresses: addrs, Hash: signup.HashEmail,
		SoftLimit: cfg.SoftLimit, SoftWindow: cfg.SoftWindow,
		Alert: alertStaff,
	})
	bindErasedReports(app)

	var (
		once     sync.Once
		ticks    *cron.Cron
		listener *bounces.Listener
		ctx, end = context.WithCancel(context.Background())
	)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		var err error
		once.Do(func() {
			if cfg.IMAP.Addr != "" {
				rd := &bounces.Reader{App: app, Config: cfg.IMAP}
				ticks = cron.New(cron.WithParser(cronParser), cron.WithLocation(tz.London),
					cron.WithChain(cron.Recover(cron.DefaultLogger), cron.SkipIfStillRunning(cron.DefaultLogger)))
				if _, err = ticks.AddFunc(cfg.IMAPSpec, func() { readMailbox(ctx, app, rd) }); err != nil {
					return
				}
				ticks.Start()
			}
			if cfg.SMTPAddr != "" {
				listener = &bounces.Listener{App: app, Addresses: addrs}
				at, lerr := listener.Listen(cfg.SMTPAddr)
				if err = lerr; err != nil {
					err = fmt.Errorf("CRM_BOUNCE_SMTP_ADDR: %w", err)
					return
				}
				app.Logger().Info("bounces: taking bounce mail by SMTP", "addr", at.String(), "domain", cfg.Domain)
			}
		})
		if err != nil {
			return err
		}
		return se.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		end()
		if ticks != nil {
			<-ticks.Stop().Done()
		}
		if listener != nil {
			listener.Close()
		}
		return e.Next()
	})
	return addrs
}

// readMailbox is one scheduled read of the bounce mailbox; errors never
// carry the password or an address.
func readMailbox(ctx context.Context, app core.App, rd *bounces.Reader) {
	run, err := rd.RunOnce(ctx)
	if err != nil {
		app.Logger().Error("bounces: reading the bounce mailbox failed", "error", err.Error(), "read", run.Messages, "left", run.Left)
		return
	}
	if run.Messages > 0 {
		app.Logger().Info("bounces: read the bounce mailbox", "read", run.Messages,
			"applied", run.Actions[bounces.Applied], "duplicates", run.Actions[bounces.Duplicate], "unmatched", run.Actions[bounces.Unmatched])
	}
}

// bindErasedReports clears what the receiving servers said from the bounce
// reports of a supporter being erased, in the erasure's transaction: the
// reports stay (as deliveries do), their codes only.
func bindErasedReports(app core.App) {
	app.OnRecordUpdate(vocab.Supporters).BindFunc(func(e *core.RecordEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		if e.Record.GetString("status") != vocab.StatusErased {
			return nil
		}
		_, err := e.App.DB().Update(vocab.BounceReports, dbx.Params{"diagnostic": ""}, dbx.HashExp{"supporter": e.Record.Id}).Execute()
		return err
	})
}
