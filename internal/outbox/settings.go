package outbox

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/mailsend"
)

// Connections are the settings of SMTP connections kept outside the
// dashboard: DKIM signing and the relay's limits.
type Connections struct {
	DKIM *mailsend.DKIM
	// IdleTimeout replaces a connection unused for longer (env
	// CRM_SMTP_IDLE_TIMEOUT, a Go duration, default 30s).
	IdleTimeout time.Duration
	// MaxMessages per connection (env CRM_SMTP_MESSAGES_PER_CONNECTION,
	// default 0: no limit).
	MaxMessages int
}

// ConnectionsFromEnv reads the connection limits; DKIM is left unset.
func ConnectionsFromEnv() (Connections, error) {
	c := Connections{IdleTimeout: 30 * time.Second}
	if v := os.Getenv("CRM_SMTP_IDLE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("CRM_SMTP_IDLE_TIMEOUT must be a positive duration such as 30s or 2m, got %q", v)
		}
		c.IdleTimeout = d
	}
	if v := os.Getenv("CRM_SMTP_MESSAGES_PER_CONNECTION"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("CRM_SMTP_MESSAGES_PER_CONNECTION must be a whole number of at least 1 (leave it unset for no limit), got %q", v)
		}
		c.MaxMessages = n
	}
	return c, nil
}

// SMTPConfig maps the dashboard's mail settings onto mailsend's Config. It
// returns false when SMTP is switched off there.
func SMTPConfig(s *core.Settings) (mailsend.Config, bool) {
	return smtpConfig(s, nil)
}

func smtpConfig(s *core.Settings, conns *Connections) (mailsend.Config, bool) {
	if !s.SMTP.Enabled || s.SMTP.Host == "" {
		return mailsend.Config{}, false
	}
	cfg := mailsend.Config{
		Host:        s.SMTP.Host,
		Port:        s.SMTP.Port,
		ImplicitTLS: s.SMTP.TLS,
		Username:    s.SMTP.Username,
		Password:    s.SMTP.Password,
		AuthMethod:  s.SMTP.AuthMethod,
		HELO:        s.SMTP.LocalName,
	}
	if conns != nil {
		cfg.DKIM, cfg.IdleTimeout, cfg.MaxMessages = conns.DKIM, conns.IdleTimeout, conns.MaxMessages
	}
	return cfg, true
}

// DialSettings dials the relay currently configured in the dashboard, with
// conns (nil: no DKIM, default limits).
func DialSettings(app core.App, conns *Connections) DialFunc {
	return func(ctx context.Context) (mailsend.Sender, error) {
		cfg, ok := smtpConfig(app.Settings(), conns)
		if !ok {
			return nil, ErrNotConfigured
		}
		return mailsend.Dial(ctx, cfg)
	}
}

// BindSenderCheck refuses mail settings whose sender name and address
// cannot make a From header (mailsend.CheckSender), so every message is not
// found unbuildable later. It runs on every save of the settings, from the
// dashboard, the API or Go.
func BindSenderCheck(app core.App) {
	app.OnModelValidate(settingsTable).BindFunc(func(e *core.ModelEvent) error {
		s, ok := e.Model.(*core.Settings)
		if !ok {
			return e.Next()
		}
		if err := mailsend.CheckSender(s.Meta.SenderName, s.Meta.SenderAddress); err != nil {
			field := "senderName"
			if mailsend.CheckSender("", s.Meta.SenderAddress) != nil {
				field = "senderAddress"
			}
			return validation.Errors{"meta": validation.Errors{field: validation.NewError("validation_invalid_sender", err.Error())}}
		}
		return e.Next()
	})
}

// settingsTable is where PocketBase keeps its settings (core.Settings).
const settingsTable = "_params"
