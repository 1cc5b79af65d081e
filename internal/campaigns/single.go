package campaigns

import (
	"context"
	"fmt"
	"net/mail"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/mailsend"
	"supportercrm/internal/vocab"
)

// A Single sends one piece of content to supporters one at a time, outside
// a campaign run: a journey's step. It is the engine's own path, not a copy
// of it: the same rendering and links, the same list headers (runner.message),
// the same send-time check (runner.stale), the same reading of a failure
// into retry, fail or bounce (runner.failure) and the same bounce handling.
type Single struct {
	r     *runner
	check *checker
}

// Addressee is one supporter's copy. ID names the message: it is the
// subject of its view-in-browser link (see ViewElse) and of the unsubscribe
// link's attribution, which counts only campaign deliveries.
type Addressee struct {
	ID, Supporter, Email, FirstName, LastName string
	Attempts                                  int // attempts made before this one
}

// Outcome is what became of one message, as a delivery status: sent,
// queued (a temporary failure: try again at Next), failed, bounced, or
// skipped (the send-time check said no, and why).
type Outcome struct {
	Status    string
	Attempts  int
	MessageID string
	Err       string // never the address
	Next      time.Time
	Hard      bool   // a bounce that should suppress the address (RecordHardBounce)
	Note      string // a bounce's reply codes
}

// NewSingle compiles c for sending. Each supporter must still be in one of
// audience (ids) when their message goes; listTopics names the list in
// List-Id (the first topic; none: "news").
func (e *Engine) NewSingle(c Content, audience, listTopics []string) (*Single, error) {
	compiled, err := e.compileContent(c)
	if err != nil {
		return nil, err
	}
	identity, err := e.Identity()
	if err != nil {
		return nil, err
	}
	s := e.App.Settings().Meta
	r := &runner{e: e, compiled: compiled, identity: identity,
		from:   mail.Address{Name: s.SenderName, Address: s.SenderAddress},
		listID: listID(e.App, identity, listTopics, s.SenderAddress)}
	check, err := r.prepareCheck(Audience{Topics: audience})
	if err != nil {
		return nil, fmt.Errorf("failed to prepare the send-time check: %w", err)
	}
	return &Single{r: r, check: check}, nil
}

// Close releases the prepared checks.
func (s *Single) Close() { s.check.Close() }

// Send checks, renders and sends a's copy over conn. A non-nil error means
// nothing happened (the check could not run, or the relay could not be
// reached): the message is as it was, no attempt used. conn must be closed
// and dialled again when broken says so.
func (s *Single) Send(ctx context.Context, conn mailsend.Sender, a Addressee) (out Outcome, broken bool, err error) {
	j := job{ID: a.ID, Supporter: a.Supporter, Email: a.Email, FirstName: a.FirstName, LastName: a.LastName, Attempts: a.Attempts}
	verdicts, err := s.r.stale(s.check, []prepared{{job: j}})
	if err != nil {
		return Outcome{}, false, err
	}
	if reason := verdicts[j.Supporter]; reason != "" {
		return Outcome{Status: vocab.DeliverySkipped, Attempts: a.Attempts, Err: reason}, false, nil
	}
	bufs := msgBufPool.Get().(*msgBufs)
	defer msgBufPool.Put(bufs)
	msg, err := s.r.message(j, bufs)
	if err != nil {
		return Outcome{Status: vocab.DeliveryFailed, Attempts: a.Attempts, Err: err.Error()}, false, nil
	}
	sendErr := conn.Send(context.WithoutCancel(ctx), msg)
	if sendErr == nil {
		return Outcome{Status: vocab.DeliverySent, Attempts: a.Attempts + 1, MessageID: msg.MessageID}, false, nil
	}
	f := mailsend.Classify(sendErr)
	if f.NotSent {
		return Outcome{}, true, sendErr
	}
	why := withoutAddress(sendErr.Error(), j.Email)
	res := s.r.failure(j, f, why)
	out = Outcome{Attempts: res.Attempts, Err: res.err, Next: res.next, Hard: res.hard, Note: res.note}
	switch res.kind {
	case retry:
		out.Status = vocab.DeliveryQueued
	case bounced:
		out.Status = vocab.DeliveryBounced
	default:
		out.Status = vocab.DeliveryFailed
	}
	return out, !f.Unsendable && mailsend.IsConnectionError(sendErr), nil
}

// Render is a's copy as the message would carry it, for a view in the browser.
func (s *Single) Render(a Addressee) (Message, error) {
	return s.r.compiled.Render(s.r.e.recipient(s.r.identity, job{ID: a.ID, Supporter: a.Supporter, Email: a.Email, FirstName: a.FirstName, LastName: a.LastName}))
}

// RecordHardBounce does in tx what the engine's writer does for a
// campaign's hard bounce (record, with bounceSupporterSQL and suppressSQL):
// the supporter, if still subscribed, is marked bounced, and the address is
// suppressed with what bounced (e.g. "journey step x") and the reply codes.
func (e *Engine) RecordHardBounce(tx core.App, what, supporterID, email, codes string) error {
	now := types.NowDateTime().String()
	_, err := tx.DB().NewQuery(`UPDATE {{supporters}} SET status = {:bounced}, bounce_count = bounce_count + 1, updated = {:now}
		WHERE id = {:id} AND status = {:subscribed}`).
		Bind(dbx.Params{"bounced": vocab.StatusBounced, "subscribed": vocab.StatusSubscribed, "now": now, "id": supporterID}).Execute()
	if err != nil || e.Hash == nil {
		return err
	}
	_, err = tx.DB().NewQuery(`INSERT OR IGNORE INTO {{suppressions}} (id, email_hash, reason, note, created)
		VALUES (substr(lower(hex(randomblob(8))), 1, 15), {:hash}, {:reason}, {:note}, {:now})`).
		Bind(dbx.Params{"hash": e.Hash(email), "reason": vocab.SuppressHardBounce, "note": what + ": " + codes, "now": now}).Execute()
	return err
}

// ServeCopy answers a view-in-browser link with a's copy of c, as ViewPage
// serves a campaign's.
func (e *Engine) ServeCopy(ev *core.RequestEvent, c Content, a Addressee) error {
	identity, err := e.Identity()
	if err != nil {
		return err
	}
	compiled, err := e.compileContent(c)
	var m Message
	if err == nil {
		m, err = compiled.Render(e.recipient(identity, job{ID: a.ID, Supporter: a.Supporter, Email: a.Email, FirstName: a.FirstName, LastName: a.LastName}))
	}
	if err != nil { // staff's to fix: the reader gets no template internals
		e.App.Logger().Error("campaigns: a view in the browser failed to render", "message", a.ID, "error", err.Error())
		return ev.InternalServerError("This email can't be shown at the moment.", nil)
	}
	return e.page(ev, m.HTML)
}
