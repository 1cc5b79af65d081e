package console

import (
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/outbox"
	"supportercrm/internal/vocab"
)

// staffMail is what the staff emails (templates/emails/staff_*.html, .txt)
// render with. The two URL fields are the shared email layout's and stay
// empty: these are not list mail.
type staffMail struct {
	Charity        charity.Identity
	Name           string
	Code           string
	Minutes        int
	InviteURL      string
	InvitedBy      string
	Role           string
	PreferencesURL string
	UnsubscribeURL string
}

// queueCode mails a one-time sign-in code through the outbox (so it is
// retried while the relay is down, like every other message) and records
// where it went on the OTP, as PocketBase's own sender does.
func (c *Console) queueCode(app core.App, rec *core.Record, otp *core.OTP, code string) error {
	ttl := rec.Collection().OTP.DurationTime()
	if err := c.queue(app, rec, vocab.KindStaffCode, "staff_code", staffMail{Code: code, Minutes: int(ttl / time.Minute)}); err != nil {
		return err
	}
	otp.SetSentTo(rec.Email())
	return app.Save(otp)
}

// queue renders a staff email and queues it to rec.
func (c *Console) queue(app core.App, rec *core.Record, kind, template string, d staffMail) error {
	id, err := c.cfg.Identity()
	if err != nil {
		return err
	}
	d.Charity = outbox.LinksAtSend(id)
	d.Name = rec.GetString("name")
	m, err := c.cfg.Mail.Email(template, d)
	if err != nil {
		return err
	}
	if _, err := outbox.Enqueue(app, outbox.Mail{To: rec.Email(), ToName: d.Name, Kind: kind, Subject: m.Subject, HTML: m.HTML, Text: m.Text}); err != nil {
		return err
	}
	if c.cfg.Wake == nil {
		return nil
	}
	// Queued inside a transaction, the worker can see it once that commits.
	if info := app.TxInfo(); info != nil {
		info.OnComplete(func(txErr error) error {
			if txErr == nil {
				c.cfg.Wake()
			}
			return nil
		})
	} else {
		c.cfg.Wake()
	}
	return nil
}

// bindStaffMail sends the codes PocketBase makes for the REST API's staff
// sign-in (request-otp) through the outbox too, instead of its own mailer.
func bindStaffMail(c *Console) {
	c.app.OnMailerRecordOTPSend(vocab.Staff).BindFunc(func(e *core.MailerRecordEvent) error {
		otpID, _ := e.Meta["otpId"].(string)
		code, _ := e.Meta["password"].(string)
		otp, err := e.App.FindOTPById(otpID)
		if err != nil {
			return err
		}
		return c.queueCode(e.App, e.Record, otp, code)
	})
}
