// Package outbox is the durable queue for transactional mail (confirmations,
// welcomes, staff alerts). Messages are rendered when queued and written in
// the same transaction as the change that caused them, so a signup and its
// confirmation email are saved together or not at all; a Worker sends them
// later, retrying with backoff while SMTP is down.
package outbox

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/mailsend"
	"supportercrm/internal/vocab"
)

// Mail is one message to queue.
type Mail struct {
	To          string
	ToName      string
	SupporterID string // optional; lets an unsubscribe cancel what is queued
	Kind        string
	Subject     string
	HTML        string
	Text        string
	Headers     []mailsend.Header
}

// Enqueue stores m as queued and due now. Pass the transaction's app to queue
// atomically with other writes.
func Enqueue(app core.App, m Mail) (*core.Record, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	col, err := app.FindCachedCollectionByNameOrId(vocab.Outbox)
	if err != nil {
		return nil, err
	}
	r := core.NewRecord(col)
	r.Set("to", m.To)
	r.Set("to_name", m.ToName)
	r.Set("supporter", m.SupporterID)
	r.Set("kind", m.Kind)
	r.Set("subject", m.Subject)
	r.Set("html", m.HTML)
	r.Set("text", m.Text)
	if len(m.Headers) > 0 {
		r.Set("headers", m.Headers)
	}
	r.Set("status", vocab.OutboxQueued)
	r.Set("next_attempt_at", types.NowDateTime())
	// Rendered by our own templates; hooks run, field validators are skipped
	// to keep the signup transaction short.
	if err := app.SaveNoValidate(r); err != nil {
		return nil, fmt.Errorf("failed to queue %s mail: %w", m.Kind, err)
	}
	return r, nil
}

// validate checks what the field validators would, without their queries, so
// Enqueue can skip them inside a signup's transaction.
func (m Mail) validate() error {
	if a, err := mail.ParseAddress(m.To); err != nil || a.Address != m.To {
		return fmt.Errorf("outbox mail: invalid recipient %q", m.To)
	}
	if !slices.Contains(vocab.OutboxKinds, m.Kind) {
		return fmt.Errorf("outbox mail: unknown kind %q", m.Kind)
	}
	if m.Subject == "" || len(m.Subject) > 300 || strings.ContainsAny(m.Subject, "\r\n") {
		return errors.New("outbox mail: the subject must be one line of 1 to 300 characters")
	}
	if len(m.HTML) > 1<<20 || len(m.Text) > 1<<20 || len(m.ToName) > 200 {
		return errors.New("outbox mail: message too large")
	}
	return nil
}

// CancelQueued cancels every queued message to a supporter, so an unsubscribe
// stops mail not yet handed to SMTP. It returns how many were cancelled.
func CancelQueued(app core.App, supporterID string) (int, error) {
	if supporterID == "" {
		return 0, errors.New("cancel queued mail: no supporter given")
	}
	res, err := app.DB().Update(vocab.Outbox,
		dbx.Params{"status": vocab.OutboxCancelled, "last_error": "cancelled: supporter unsubscribed", "updated": types.NowDateTime().String()},
		dbx.HashExp{"supporter": supporterID, "status": vocab.OutboxQueued},
	).Execute()
	if err != nil {
		return 0, fmt.Errorf("failed to cancel queued mail: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// QueuedSince reports whether a message of kind to address was queued after
// since. Signup uses it so a form can't be used to flood someone's inbox.
func QueuedSince(app core.App, to, kind string, since time.Time) (bool, error) {
	n, err := app.CountRecords(vocab.Outbox,
		dbx.HashExp{"to": to, "kind": kind},
		dbx.NewExp("created > {:since}", dbx.Params{"since": since.UTC().Format(types.DefaultDateLayout)}),
	)
	if err != nil {
		return false, fmt.Errorf("failed to check recent mail: %w", err)
	}
	return n > 0, nil
}
