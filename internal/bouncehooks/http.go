package bouncehooks

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/bounces"
)

// BodyLimit caps a webhook body: SNS messages are at most 256 KB, and
// SendGrid posts events in batches well under this.
const BodyLimit = 4 << 20

// Hooks serves the providers' webhooks.
type Hooks struct {
	App    core.App
	Config Config
	// Now is the clock (Mailgun's replay window, certificate validity).
	Now   func() time.Time
	certs certCache
}

// New returns the hooks for app.
func New(app core.App, cfg Config) *Hooks {
	if cfg.SES.Client == nil {
		cfg.SES.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Mailgun.Window == 0 {
		cfg.Mailgun.Window = DefaultMailgunWindow
	}
	return &Hooks{App: app, Config: cfg, Now: time.Now}
}

// hookError is a refusal with its status and a message safe to show.
type hookError struct {
	status int
	msg    string
}

func (e *hookError) Error() string { return e.msg }

// answer writes the refusal in PocketBase's error shape, but verbatim:
// PocketBase would capitalise the message, and so the field names in it.
func (he *hookError) answer(e *core.RequestEvent) error {
	return e.JSON(he.status, map[string]any{"status": he.status, "message": he.msg, "data": map[string]any{}})
}

func unauthorized(format string, a ...any) error {
	return &hookError{http.StatusUnauthorized, fmt.Sprintf(format, a...)}
}

func malformed(format string, a ...any) error {
	return &hookError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// Tally is what became of a request's reports: the 200 answer's body.
type Tally struct {
	Applied   int `json:"applied"`
	Duplicate int `json:"duplicate"`
	Unmatched int `json:"unmatched"`
	Erased    int `json:"erased"`
	// Ignored counts events that are not bounces or complaints
	// (deliveries, opens, auto-replies).
	Ignored int `json:"ignored"`
}

func (t *Tally) add(a bounces.Action) {
	switch a {
	case bounces.Applied:
		t.Applied++
	case bounces.Duplicate:
		t.Duplicate++
	case bounces.Unmatched:
		t.Unmatched++
	case bounces.Erased:
		t.Erased++
	}
}

// batch is what a provider's parser makes of one request.
type batch struct {
	reports []bounces.Report
	ignored int
	// claim, when set, runs first in the transaction (Mailgun's token).
	claim func(tx core.App) error
	// answered means the request needed no reports (an SNS subscription).
	answered string
}

// serve runs one provider's parser over the request body and applies what
// it found. parse does the signature check before it trusts anything.
func (h *Hooks) serve(e *core.RequestEvent, provider string, parse func(r *http.Request, body []byte) (batch, error)) error {
	if !h.Config.configured(provider) {
		h.App.Logger().Warn("bounce webhook posted to a provider that is not configured", "provider", provider)
		e.Response.Header().Set("Retry-After", "3600")
		return e.Error(http.StatusServiceUnavailable, "This webhook is not configured on this server yet.", nil)
	}
	body, err := io.ReadAll(e.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return e.Error(http.StatusRequestEntityTooLarge, "The body is too large.", nil)
		}
		return e.BadRequestError("Failed to read the body.", nil)
	}
	b, err := parse(e.Request, body)
	var he *hookError
	if errors.As(err, &he) {
		if he.status == http.StatusUnauthorized {
			h.App.Logger().Warn("bounce webhook refused: bad signature", "provider", provider, "reason", he.msg)
		}
		return he.answer(e)
	}
	if err != nil {
		return err
	}
	if b.answered != "" {
		return e.String(http.StatusOK, b.answered)
	}
	t, err := h.apply(b)
	if err != nil {
		if errors.As(err, &he) {
			return he.answer(e)
		}
		return fmt.Errorf("failed to apply %s reports: %w", provider, err)
	}
	return e.JSON(http.StatusOK, t)
}

// apply processes a batch's reports in one transaction.
func (h *Hooks) apply(b batch) (Tally, error) {
	var t Tally
	err := h.App.RunInTransaction(func(tx core.App) error {
		t = Tally{Ignored: b.ignored}
		if b.claim != nil {
			if err := b.claim(tx); err != nil {
				return err
			}
		}
		for _, r := range b.reports {
			out, err := bounces.Process(tx, r)
			if err != nil {
				return err
			}
			t.add(out.Action)
		}
		return nil
	})
	return t, err
}

// SES serves POST /api/webhooks/ses.
func (h *Hooks) SES(e *core.RequestEvent) error { return h.serve(e, SES, h.parseSNS) }

// Postmark serves POST /api/webhooks/postmark.
func (h *Hooks) Postmark(e *core.RequestEvent) error { return h.serve(e, Postmark, h.parsePostmark) }

// Mailgun serves POST /api/webhooks/mailgun.
func (h *Hooks) Mailgun(e *core.RequestEvent) error { return h.serve(e, Mailgun, h.parseMailgun) }

// SendGrid serves POST /api/webhooks/sendgrid.
func (h *Hooks) SendGrid(e *core.RequestEvent) error { return h.serve(e, SendGrid, h.parseSendGrid) }
