package outbox

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/mail"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/clip"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/vocab"
)

// ErrNotConfigured means no SMTP relay is set up yet; mail waits in the outbox.
var ErrNotConfigured = errors.New("smtp is not configured (dashboard: Settings > Mail settings)")

// DialFunc opens a connection to the relay. It is called once per batch, so
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
	// Suppressed, when set, is asked before each send; a suppressed address
	// is never mailed, whatever was queued for it.
	Suppressed func(app core.App, email string) (bool, error)
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
	return c
}

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

// RunOnce sends every message due now, one batch per connection, and returns
// how many were sent. An error means the relay could not be reached.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	sent := 0
	for ctx.Err() == nil {
		due, err := w.app.FindRecordsByFilter(vocab.Outbox,
			"status = {:queued} && next_attempt_at <= {:now}", "next_attempt_at", w.cfg.Batch, 0,
			dbx.Params{"queued": vocab.OutboxQueued, "now": types.NowDateTime().String()})
		if err != nil || len(due) == 0 {
			return sent, err
		}
		n, err := w.sendBatch(ctx, due)
		sent += n
		if err != nil {
			return sent, err
		}
		if len(due) < w.cfg.Batch {
			return sent, nil
		}
	}
	return sent, nil
}

// flushEvery bounds how many sent messages may go unrecorded: results are
// written in batches (one commit each, not one per message), and after a
// crash at most this many transactional messages are sent twice.
const flushEvery = 20

func (w *Worker) sendBatch(ctx context.Context, due []*core.Record) (sent int, err error) {
	conn, err := w.dial(ctx)
	if err != nil {
		if !w.down.Swap(true) {
			w.app.Logger().Warn("outbox: mail is waiting, the smtp relay is unreachable", "error", err.Error(), "waiting", len(due))
		}
		return 0, err
	}
	defer conn.Close()
	if w.down.Swap(false) {
		w.app.Logger().Info("outbox: smtp relay reachable again, sending")
	}
	var done []*core.Record
	defer func() {
		if ferr := w.save(done); ferr != nil && err == nil {
			err = ferr
		}
	}()
	from := mail.Address{Name: w.app.Settings().Meta.SenderName, Address: w.app.Settings().Meta.SenderAddress}
	for _, r := range due {
		if len(done) >= flushEvery {
			if err := w.save(done); err != nil {
				return sent, err
			}
			done = done[:0]
		}
		// The row may have been cancelled (unsubscribe) since the batch was read.
		fresh, err := w.app.FindRecordById(vocab.Outbox, r.Id)
		if err != nil || fresh.GetString("status") != vocab.OutboxQueued {
			continue
		}
		if w.cfg.Suppressed != nil {
			suppressed, err := w.cfg.Suppressed(w.app, fresh.GetString("to"))
			if err != nil {
				return sent, err
			}
			if suppressed {
				fresh.Set("status", vocab.OutboxCancelled)
				fresh.Set("last_error", "cancelled: address is suppressed")
				done = append(done, fresh)
				continue
			}
		}
		msg := &mailsend.Message{
			From:    from,
			To:      mail.Address{Name: fresh.GetString("to_name"), Address: fresh.GetString("to")},
			Subject: fresh.GetString("subject"),
			HTML:    fresh.GetString("html"),
			Text:    fresh.GetString("text"),
		}
		_ = fresh.UnmarshalJSONField("headers", &msg.Headers)
		msg.MessageID = mailsend.NewMessageID(from.Address)
		// Send with a context that outlives shutdown so an in-flight message
		// is finished and recorded.
		sendErr := conn.Send(context.WithoutCancel(ctx), msg)
		w.outcome(fresh, msg.MessageID, sendErr)
		done = append(done, fresh)
		if sendErr == nil {
			sent++
		} else if mailsend.IsConnectionError(sendErr) {
			return sent, sendErr
		}
		if ctx.Err() != nil {
			break
		}
	}
	return sent, nil
}

// save writes attempt outcomes in one transaction. Only our own values
// changed, so the field validators are skipped.
func (w *Worker) save(recs []*core.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return w.app.RunInTransaction(func(tx core.App) error {
		for _, r := range recs {
			if err := tx.SaveNoValidate(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// outcome sets the result of one attempt on r.
func (w *Worker) outcome(r *core.Record, messageID string, sendErr error) {
	now := time.Now()
	attempts := r.GetInt("attempts") + 1
	r.Set("attempts", attempts)
	if sendErr == nil {
		r.Set("status", vocab.OutboxSent)
		r.Set("sent_at", now)
		r.Set("message_id", messageID)
		r.Set("last_error", "")
		return
	}
	f := mailsend.Classify(sendErr)
	r.Set("last_error", clip.Runes(sendErr.Error(), 2000))
	age := now.Sub(r.GetDateTime("created").Time())
	if !f.Temporary || age > w.cfg.GiveUpAfter {
		r.Set("status", vocab.OutboxFailed)
		w.app.Logger().Warn("outbox: giving up on a message", "id", r.Id, "kind", r.GetString("kind"), "error", sendErr.Error())
	} else {
		r.Set("next_attempt_at", now.Add(w.retryDelay(attempts)))
	}
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
