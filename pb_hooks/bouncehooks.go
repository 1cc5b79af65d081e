package pb_hooks

import (
	"context"
	"encoding/json"
	"errors"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"supportercrm/internal/bouncehooks"
	"supportercrm/internal/console"
	"supportercrm/internal/doctor"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// bindBounceHooks adds the providers' bounce and complaint webhooks,
// POST /api/webhooks/{ses,postmark,mailgun,sendgrid}.
func bindBounceHooks(app core.App, cfg bouncehooks.Config) {
	h := bouncehooks.New(app, cfg)
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		limit := apis.BodyLimit(bouncehooks.BodyLimit)
		se.Router.POST("/api/webhooks/"+bouncehooks.SES, h.SES).Bind(limit)
		se.Router.POST("/api/webhooks/"+bouncehooks.Postmark, h.Postmark).Bind(limit)
		se.Router.POST("/api/webhooks/"+bouncehooks.Mailgun, h.Mailgun).Bind(limit)
		se.Router.POST("/api/webhooks/"+bouncehooks.SendGrid, h.SendGrid).Bind(limit)
		return se.Next()
	})
}

// doctorConfig is what `doctor` checks for app: the sender and DKIM
// domains, the bounce domain, and an unsubscribe link to POST to. The link
// is for a supporter already unsubscribed (or erased), so the check changes
// nothing; with none, it names no supporter and only a redirect fails.
func (c Config) doctorConfig(app core.App) (doctor.Config, error) {
	s := app.Settings().Meta
	dc := doctor.Config{AppURL: strings.TrimRight(s.AppURL, "/"), BounceDomain: c.Bounces.Domain, Resolver: os.Getenv("CRM_DNS_RESOLVER")}
	if a, err := mail.ParseAddress(s.SenderAddress); err == nil {
		dc.FromDomain = a.Address[strings.LastIndexByte(a.Address, '@')+1:]
	}
	if d := c.SMTP.DKIM; d != nil {
		dc.DKIMDomain, dc.DKIMSelector, dc.DKIMKey = d.Domain, d.Selector, d.Key.Public()
	} else {
		// A relay that signs for the domain: its selector, to read the key.
		dc.DKIMDomain, dc.DKIMSelector = os.Getenv("CRM_DKIM_DOMAIN"), os.Getenv("CRM_DKIM_SELECTOR")
	}
	signer, err := c.signer(app.DataDir())
	if err != nil {
		return dc, err
	}
	subject := "no-supporter" // never a record id: ids have no hyphen
	sup, err := app.FindFirstRecordByFilter(vocab.Supporters, "status = {:u} || status = {:e}", map[string]any{"u": vocab.StatusUnsubscribed, "e": vocab.StatusErased})
	if err == nil {
		subject, dc.OneClickNoop = sup.Id, true
	}
	dc.OneClickURL = dc.AppURL + "/unsubscribe?token=" + url.QueryEscape(signer.Sign(tokens.Unsubscribe, subject, time.Hour))
	return dc, nil
}

// Doctor runs the deliverability check for app (resolver, when set,
// overrides CRM_DNS_RESOLVER): for the CLI and the console's admins.
func (c Config) Doctor(ctx context.Context, app core.App, resolver string) (doctor.Report, error) {
	dc, err := c.doctorConfig(app)
	if err != nil {
		return doctor.Report{}, err
	}
	if resolver != "" {
		dc.Resolver = resolver
	}
	return doctor.Run(ctx, dc), nil
}

// doctorCommand is `doctor`: the deliverability check, printed, or as JSON.
// It exits non-zero when a check fails, for scripts.
func doctorCommand(app core.App, cfg Config) *cobra.Command {
	var resolver string
	var asJSON bool
	cmd := &cobra.Command{
		Use:          "doctor",
		Short:        "Check SPF, DKIM, DMARC, the bounce MX, TLS and one-click unsubscribe against Gmail, Yahoo and Outlook's bulk-sender rules",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			rep, err := cfg.Doctor(ctx, app, resolver)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = rep.Write(cmd.OutOrStdout())
			}
			if err == nil && rep.Failed() {
				err = errors.New("some checks failed: see above")
			}
			return err
		},
	}
	cmd.Flags().StringVar(&resolver, "resolver", "", "DNS server to ask, host:port (env CRM_DNS_RESOLVER; default the first of /etc/resolv.conf)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// bindDeliverabilityPage shows the deliverability check to admins in the
// staff console, after the console's own routes are mounted.
func bindDeliverabilityPage(app core.App, c *console.Console, cfg Config) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		c.Deliverability(func(ctx context.Context) (doctor.Report, error) { return cfg.Doctor(ctx, app, "") })
		return se.Next()
	})
}
