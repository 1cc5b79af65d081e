// Package outbox is the durable queue for transactional mail (confirmations,
// welcomes, staff alerts). Messages are rendered when queued and written in
// the same transaction as the change that caused them, so a signup and its
// confirmation email are saved together or not at all; a Worker sends them
// later, retrying with backoff while SMTP is down. Their links are completed
// when they are sent (see LinkOrigin).
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
	// Unsubscribe is the one-click unsubscribe link (starting with
	// LinkOrigin) of mail that belongs to a subscription, such as the
	// welcome: the worker sends it as List-Unsubscribe, with
	// List-Unsubscribe-Post, completed at send time like the other links.
	Unsubscribe string
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
	r.Set("unsubscribe_url", m.Unsubscribe)
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
	if m.Unsubscribe != "" && (!strings.HasPrefix(m.Unsubscribe, LinkOrigin+"/") || len(m.Unsubscribe) > 2000 || strings.ContainsAny(m.Unsubscribe, "\r\n<>, ")) {
		return errors.New("outbox mail: the unsubscribe link must be one URL starting with outbox.LinkOrigin")
	}
	return nil
}

// CancelQueued cancels every message to a supporter not yet handed to SMTP,
// so an unsubscribe stops it. It returns how many were cancelled.
func CancelQueued(app core.App, supporterID string) (int, error) {
	if supporterID == "" {
		return 0, errors.New("cancel queued mail: no supporter given")
	}
	res, err := app.DB().Update(vocab.Outbox,
		dbx.Params{"status": vocab.OutboxCancelled, "last_error": "cancelled: supporter unsubscribed", "updated": types.NowDateTime().String()},
		dbx.And(dbx.HashExp{"supporter": supporterID}, Waiting()),
	).Execute()
	if err != nil {
		return 0, fmt.Errorf("failed to cancel queued mail: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Waiting matches the messages not yet handed to SMTP: queued ones, and
// those claimed by a worker that stopped before it finished (its claim has
// run out). A message a worker is sending now is not waiting: it is too late
// to stop it, and the worker records what became of it.
func Waiting() dbx.Expression {
	return dbx.Or(
		dbx.HashExp{"status": vocab.OutboxQueued},
		dbx.And(dbx.HashExp{"status": vocab.OutboxSending}, dbx.NewExp("next_attempt_at <= {:now}", dbx.Params{"now": types.NowDateTime().String()})),
	)
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
