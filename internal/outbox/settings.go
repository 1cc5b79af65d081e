package outbox

import (
	"context"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/mailsend"
)

// SMTPConfig maps the dashboard's mail settings onto mailsend's Config. It
// returns false when SMTP is switched off there.
func SMTPConfig(s *core.Settings) (mailsend.Config, bool) {
	return smtpConfig(s, nil)
}

func smtpConfig(s *core.Settings, dkim *mailsend.DKIM) (mailsend.Config, bool) {
	if !s.SMTP.Enabled || s.SMTP.Host == "" {
		return mailsend.Config{}, false
	}
	return mailsend.Config{
		Host:        s.SMTP.Host,
		Port:        s.SMTP.Port,
		ImplicitTLS: s.SMTP.TLS,
		Username:    s.SMTP.Username,
		Password:    s.SMTP.Password,
		AuthMethod:  s.SMTP.AuthMethod,
		HELO:        s.SMTP.LocalName,
		DKIM:        dkim,
	}, true
}

// DialSettings dials the relay currently configured in the dashboard,
// signing with dkim when it is set.
func DialSettings(app core.App, dkim *mailsend.DKIM) DialFunc {
	return func(ctx context.Context) (mailsend.Sender, error) {
		cfg, ok := smtpConfig(app.Settings(), dkim)
		if !ok {
			return nil, ErrNotConfigured
		}
		return mailsend.Dial(ctx, cfg)
	}
}
