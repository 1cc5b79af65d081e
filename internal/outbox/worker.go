package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/mail"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/groupcommit"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/vocab"
)

// ErrNotConfigured means no SMTP relay is set up yet; mail waits in the outbox.
var ErrNotConfigured = errors.New("smtp is not configured (dashboard: Settings > Mail settings)")

// DialFunc opens a connection to the relay. It is called once per connection's run of messages (at most Batch), so
// changes to the mail settings apply without a restart.
type DialFunc func(ctx context.Context) (mailsend.Sender, error)

// Config tunes the worker. Zero values take the defaults.
type Config struct {
	PollInterval time.Duration // how often to look for due mail (2s)
	RetryBase    time.Duration // first retry delay for one message (15s)
	RetryMax     time.Duration // longest delay between retries (15m)
	DialMax      time.Duration // longest pause while the relay is unreachable (1m)
	GiveUpAfter  time.Duration // a message still failing after this is marked failed (72h)
	Batch        int           // messages per connection (50)
	// Connections is how many connections send at once (1). More keep confirmations prompt under a burst of
	// signups: each message's claim waits its turn at the database's one
	// writer, and several senders share those turns (see Writes).
	Connections int
	// Writes, when set, runs the worker's claims and outcomes in the
	// signups' group commit, so concurrent senders' writes share commits
	// with them instead of each waiting for a transaction of its own.
	Writes *groupcommit.Committer
	// Suppressed, when set, is asked before each send; a suppressed address
	// is never mailed, whatever was queued for it.
	Suppressed func(app core.App, email string) (bool, error)
	// UnsubscribeMailto, when set, adds a mailto to the List-Unsubscribe of
	// mail that has an unsubscribe link, as campaigns do (CRM_UNSUBSCRIBE_MAILTO).
	UnsubscribeMailto string
	// ReturnPath, when set, gives a message's envelope sender (VERP), so its
	// bounces name it; "" keeps the From address.
	ReturnPath func(outboxID string) string
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PollInterval, 2*time.Second)
	def(&c.RetryBase, 15*time.Second)
	def(&c.RetryMax, 15*time.Minute)
	def(&c.DialMax, time.Minute)
	def(&c.GiveUpAfter, 72*time.Hour)
	if c.Batch <= 0 {
		c.Batch = 50
	}
	if c.Connections <= 0 {
		c.Connections = 1
	}
	return c
}

// minBatch is the least mail RunOnce gives a connection of its own.
const minBatch = 10

// claimFor is how long a claim on a message lasts: far longer than one send
// can take (go-mail gives up on a silent relay after 15 s a command), so it
// runs out only when the worker holding it has died, and another attempt
// takes the message over.
const claimFor = 5 * time.Minute

// Worker sends queued mail. One runs per serving process.
type Worker struct {
	app  core.App
	cfg  Config
	dial DialFunc
	wake chan struct{}
	down atomic.Bool // relay unreachable: log once, not every poll
}

// NewWorker returns a worker that sends through dial.
func NewWorker(app core.App, cfg Config, dial DialFunc) *Worker {
	return &Worker{app: app, cfg: cfg.withDefaults(), dial: dial, wake: make(chan struct{}, 1)}
}

// Wake asks the worker to look for mail now, e.g. right after a signup.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx is cancelled. A message being sent when ctx ends is
// finished and recorded first.
func (w *Worker) Run(ctx context.Context) {
	pause := time.Duration(0)
	for {
		_, err := w.RunOnce(ctx)
		wait := w.cfg.PollInterval
		if err != nil {
			pause = min(max(2*pause, w.cfg.PollInterval), w.cfg.DialMax)
			wait = pause
		} else {
			pause = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// RunOnce sends every message due now, and any that fall due meanwhile,
// over up to Connections connections at once, and returns how many were
// sent. An error means the relay could not be reached, or an outcome could
// not be written.
//
// The due messages stream to the connections: each takes the next one as
// soon as it has recorded the last, and new mail joins the stream when the
// list read so far is handed out, so a burst of signups never waits for the
// slowest connection of an earlier round. A backlog opens one connection
// for every minBatch messages, up to Connections (a few confirmations go
// out over one, as a dial costs more than they do); each connection carries
// at most Batch messages, then another takes over.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	var (
		ids     = make(chan string) // unbuffered: an id leaves only when a connection is ready for it
		exited  = make(chan struct{}, w.cfg.Connections)
		wg      sync.WaitGroup
		mu      sync.Mutex
		sent    int
		errs    []error
		running int
	)
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(errs) > 0
	}
	start := func() {
		running++
		wg.Go(func() {
			n, err := w.sendFrom(ctx, ids)
			mu.Lock()
			sent += n
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
			exited <- struct{}{}
		})
	}
	// handed holds the ids of the last list handed out: a connection may
	// have taken one and not yet claimed it, so the next read still finds
	// it due. Older ones are claimed, or no longer due.
	var handed map[string]bool
feed:
	for ctx.Err() == nil && !failed() {
		due, err := w.due(handed)
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			break
		}
		if len(due) == 0 {
			break
		}
		want := min(w.cfg.Connections, (len(due)+minBatch-1)/minBatch)
		for running < want {
			start()
		}
		handed = make(map[string]bool, len(due))
		for _, id := range due {
			handed[id] = true
			for taken := false; !taken; {
				select {
				case ids <- id:
					taken = true
				case <-exited:
					running--
					if failed() {
						break feed
					}
					if running < want {
						start()
					}
				case <-ctx.Done():
					break feed
				}
			}
		}
	}
	close(ids)
	wg.Wait()
	return sent, errors.Join(errs...)
}

// due reads the ids of up to Batch × Connections messages due now, oldest
// first, leaving out those already handed to a connection.
func (w *Worker) due(handed map[string]bool) ([]string, error) {
	var ids []string
	err := w.app.DB().Select("id").From(vocab.Outbox).
		Where(dbx.And(Waiting(), dbx.NewExp("next_attempt_at <= {:now}", dbx.Params{"now": types.NowDateTime().String()}))).
		OrderBy("next_attempt_at").Limit(int64(w.cfg.Batch * w.cfg.Connections)).Column(&ids)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ids, func(id string) bool { return handed[id] }), nil
}

// sendFrom sends the messages whose ids it takes from ids, up to Batch of
// them, over one connection, dialled once the first id is in hand.
func (w *Worker) sendFrom(ctx context.Context, ids <-chan string) (sent int, err error) {
	first, ok := <-ids
	if !ok {
		return 0, nil
	}
	conn, err := w.dial(ctx)
	if err != nil {
		w.relayDown(err)
		return 0, err
	}
	defer conn.Close()
	if w.down.Swap(false) {
		w.app.Logger().Info("outbox: smtp relay reachable again, sending")
	}
	meta := w.app.Settings().Meta
	from := mail.Address{Name: meta.SenderName, Address: meta.SenderAddress}
	links := linksTo(meta.AppURL)
	// owed is the last message's outcome, not yet written: it is written in
	// one transaction with the next claim (the database has one writer, and
	// signups queue for it too), or on its own before sendFrom returns. So
	// every outcome is still recorded before the next message is handed over.
	var owed func(db dbx.Builder) error
	settle := func(err error) (int, error) {
		if owed != nil {
			err = errors.Join(err, owed(w.app.DB()))
		}
		return sent, err
	}
	for i, id := 0, first; ctx.Err() == nil; i++ {
		if i > 0 {
			if i == w.cfg.Batch {
				break
			}
			var ok bool
			if id, ok = <-ids; !ok {
				break
			}
		}
		// The claim reads the message in the same statement, so what is sent
		// is what the row held when this worker took it; a row cancelled or
		// taken since its id was read is not claimed.
		c, err := w.claimAfter(owed, id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return settle(err) // the transaction, owed outcome and all, was rolled back
		}
		owed = nil
		if err != nil {
			continue
		}
		if w.cfg.Suppressed != nil {
			suppressed, err := w.cfg.Suppressed(w.app, c.To)
			if err != nil {
				return sent, errors.Join(err, w.release(w.app.DB(), c))
			}
			if suppressed {
				owed = func(db dbx.Builder) error {
					return w.write(db, c, dbx.Params{"status": vocab.OutboxCancelled, "last_error": "cancelled: address is suppressed"})
				}
				continue
			}
		}
		msg := c.message(from, links, w.cfg.UnsubscribeMailto)
		if w.cfg.ReturnPath != nil {
			msg.EnvelopeFrom = w.cfg.ReturnPath(c.ID)
		}
		// Send with a context that outlives shutdown so an in-flight message
		// is finished and recorded.
		sendErr := conn.Send(context.WithoutCancel(ctx), msg)
		if mailsend.Classify(sendErr).NotSent {
			// The relay could not be reached even after a redial: the
			// message goes back as it was and the worker backs off.
			w.relayDown(sendErr)
			return sent, errors.Join(sendErr, w.release(w.app.DB(), c))
		}
		set := w.outcome(c, sendErr)
		if sendErr == nil {
			set["message_id"] = msg.MessageID
			sent++
		}
		owed = func(db dbx.Builder) error { return w.write(db, c, set) }
	}
	return settle(nil)
}

// claimAfter writes owed (when set) and claims message id in one
// transaction (through Writes, when set). The outcome is kept even when the
// message is no longer due.
func (w *Worker) claimAfter(owed func(db dbx.Builder) error, id string) (*claimed, error) {
	var c *claimed
	var claimErr error
	job := func(tx core.App) error {
		if owed != nil {
			if err := owed(tx.DB()); err != nil {
				return err
			}
		}
		c, claimErr = w.claim(tx.DB(), id)
		if errors.Is(claimErr, sql.ErrNoRows) {
			return nil
		}
		return claimErr
	}
	var err error
	if w.cfg.Writes != nil {
		err = w.cfg.Writes.Do(job)
	} else {
		err = w.app.RunInTransaction(job)
	}
	if err != nil {
		return nil, err
	}
	return c, claimErr
}

// relayDown logs, once until the relay is reachable again, that mail waits.
// The error is from before any message was handed over, so it names no
// recipient.
func (w *Worker) relayDown(err error) {
	if !w.down.Swap(true) {
		w.app.Logger().Warn("outbox: mail is waiting, the smtp relay is unreachable", "error", err.Error())
	}
}

// claimed is a message a worker has claimed, as it was when claimed.
type claimed struct {
	ID          string        `db:"id"`
	To          string        `db:"to"`
	ToName      string        `db:"to_name"`
	Kind        string        `db:"kind"`
	Subject     string        `db:"subject"`
	HTML        string        `db:"html"`
	Text        string        `db:"text"`
	Headers     types.JSONRaw `db:"headers"`
	Unsubscribe string        `db:"unsubscribe_url"`
	Attempts    int           `db:"attempts"`
	Created     string        `db:"created"`
}

// claim marks a due message as being sent by this worker, for claimFor, and
// returns it; sql.ErrNoRows means it is no longer due.
func (w *Worker) claim(db dbx.Builder, id string) (*claimed, error) {
	now := time.Now()
	c := &claimed{}
	err := db.NewQuery("UPDATE {{" + vocab.Outbox + "}} SET [[status]] = {:sending}, [[next_attempt_at]] = {:until}, [[updated]] = {:now}" +
		" WHERE [[id]] = {:id} AND [[status]] IN ({:queued}, {:sending}) AND [[next_attempt_at]] <= {:now}" +
		" RETURNING [[id]], [[to]], [[to_name]], [[kind]], [[subject]], [[html]], [[text]], [[headers]], [[unsubscribe_url]], [[attempts]], [[created]]").
		Bind(dbx.Params{"id": id, "queued": vocab.OutboxQueued, "sending": vocab.OutboxSending, "now": stamp(now), "until": stamp(now.Add(claimFor))}).
		One(c)
	return c, err
}

// message builds the mail to send, its links completed with the Application
// URL as it is now.
func (c *claimed) message(from mail.Address, l links, mailto string) *mailsend.Message {
	m := &mailsend.Message{
		From:      from,
		To:        mail.Address{Name: c.ToName, Address: c.To},
		Subject:   c.Subject,
		HTML:      l.html.Replace(c.HTML),
		Text:      l.text.Replace(c.Text),
		MessageID: mailsend.NewMessageID(from.Address),
	}
	_ = json.Unmarshal(c.Headers, &m.Headers) // written by Enqueue: a list, or null
	for i := range m.Headers {
		m.Headers[i].Value = l.text.Replace(m.Headers[i].Value)
	}
	if c.Unsubscribe != "" {
		list := "<" + l.text.Replace(c.Unsubscribe) + ">"
		if mailto != "" {
			list += ", <mailto:" + mailto + "?subject=unsubscribe>"
		}
		m.Headers = append(m.Headers,
			mailsend.Header{Name: "List-Unsubscribe", Value: list},
			mailsend.Header{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"})
	}
	return m
}

// write sets outcome columns of a claimed message, and only those: the row
// may have been changed since it was claimed (an erasure clears what it
// said and to whom), and a copy read earlier must never be written back.
// The guard on status makes the claim's holder the only writer.
func (w *Worker) write(db dbx.Builder, c *claimed, set dbx.Params) error {
	set["updated"] = types.NowDateTime().String()
	_, err := db.Update(vocab.Outbox, set, dbx.HashExp{"id": c.ID, "status": vocab.OutboxSending}).Execute()
	return err
}

// release gives a claimed message back, unsent and due at once, without
// counting an attempt.
func (w *Worker) release(db dbx.Builder, c *claimed) error {
	return w.write(db, c, dbx.Params{"status": vocab.OutboxQueued, "next_attempt_at": types.NowDateTime().String()})
}

// outcome is what to record of one attempt that reached the relay: a
// message it accepted is sent (the caller adds its message_id), whatever
// became of the connection afterwards; one that cannot go (Unsendable) or
// was refused for good fails at once, and the rest of the batch goes on; a
// temporary refusal is retried with backoff until GiveUpAfter.
func (w *Worker) outcome(c *claimed, sendErr error) dbx.Params {
	now := time.Now()
	attempts := c.Attempts + 1
	if sendErr == nil {
		return dbx.Params{"status": vocab.OutboxSent, "attempts": attempts, "sent_at": stamp(now), "last_error": ""}
	}
	f := mailsend.Classify(sendErr)
	set := dbx.Params{"attempts": attempts, "last_error": reason(f)}
	created, _ := types.ParseDateTime(c.Created)
	if !f.Temporary || f.Unsendable || now.Sub(created.Time()) > w.cfg.GiveUpAfter {
		set["status"] = vocab.OutboxFailed
		w.app.Logger().Warn("outbox: giving up on a message", "id", c.ID, "kind", c.Kind, "reason", set["last_error"])
	} else {
		set["status"] = vocab.OutboxQueued
		set["next_attempt_at"] = stamp(now.Add(w.retryDelay(attempts)))
	}
	return set
}

// reason is why an attempt failed, for last_error: the reply codes or
// mailsend's own reason, never the server's text, which names the recipient
// (and a row erased while it was being sent must stay without its address).
func reason(f mailsend.Failure) string {
	note := f.Note()
	switch {
	case f.Unsendable && note != "":
		return "this message cannot be sent: " + note
	case f.Unsendable:
		return "this message cannot be sent"
	case f.Code != 0 && f.Temporary:
		return "refused for now by the relay: " + note
	case f.Code != 0:
		return "refused by the relay: " + note
	case note != "":
		return note
	}
	return "the connection to the relay failed during the send"
}

// stamp is t as PocketBase stores dates.
func stamp(t time.Time) string {
	d, _ := types.ParseDateTime(t)
	return d.String()
}

// retryDelay doubles from RetryBase up to RetryMax, with jitter so messages
// refused together don't retry together.
func (w *Worker) retryDelay(attempt int) time.Duration {
	d := w.cfg.RetryBase
	for i := 1; i < attempt && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, w.cfg.RetryMax)
	return d/2 + rand.N(d/2+1)
}
