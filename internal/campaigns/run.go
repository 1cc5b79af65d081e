package campaigns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	"golang.org/x/time/rate"

	"supportercrm/internal/charity"
	"supportercrm/internal/clip"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// job is one delivery to attempt.
type job struct {
	ID        string `db:"id"`
	Supporter string `db:"supporter"`
	Email     string `db:"email"`
	Attempts  int    `db:"attempts"`
	FirstName string `db:"first_name"`
	LastName  string `db:"last_name"`
}

// outcome kinds of one attempt.
const (
	untouched = iota // not attempted (stopping): stays queued as it was
	sent
	retry   // temporary failure: queued again later
	failed  // temporary failures exhausted, or unrenderable
	bounced // permanent refusal (5xx)
	skipped // unsubscribed or suppressed since the snapshot
)

type result struct {
	job
	kind      int
	messageID string
	err       string
	hard      bool // 5.1.x: suppress the address
	next      time.Time
}

// runner sends one campaign.
type runner struct {
	e        *Engine
	id       string
	compiled *Compiled
	identity charity.Identity
	from     mail.Address
	listID   string
	limiter  *rate.Limiter
	jobs     chan job
	results  chan result
	pending  sync.WaitGroup // dispatched, not yet written
	cancel   context.CancelFunc
	downNS   atomic.Int64 // when the relay became unreachable (unix ns), 0 when fine
	paused   atomic.Bool
}

func (e *Engine) run(parent context.Context, id string) error {
	c, err := e.App.FindRecordById(vocab.Campaigns, id)
	if err != nil {
		return err
	}
	compiled, err := e.compile(c)
	if err != nil {
		return e.finish(id, vocab.CampaignFailed, "it no longer renders: "+err.Error())
	}
	identity, err := e.Identity()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	s := e.App.Settings().Meta
	r := &runner{
		e: e, id: id, compiled: compiled, identity: identity, cancel: cancel,
		from:    mail.Address{Name: s.SenderName, Address: s.SenderAddress},
		jobs:    make(chan job, e.Config.Connections),
		results: make(chan result, 4*e.Config.Connections),
	}
	r.listID = listID(e.App, identity, c.GetStringSlice("topics"), s.SenderAddress)
	if e.Config.PerSecond > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(e.Config.PerSecond), max(1, min(e.Config.Connections, int(e.Config.PerSecond))))
	}

	var workers, writer sync.WaitGroup
	writer.Go(r.write)
	for range e.Config.Connections {
		workers.Go(func() { r.work(ctx) })
	}
	go r.watch(ctx)
	err = r.dispatch(ctx)
	close(r.jobs)
	workers.Wait()
	close(r.results)
	writer.Wait()
	return err
}

// dispatch feeds due deliveries to the workers in passes over the campaign
// (keyset pages by id), until none is left queued or the run is stopped.
func (r *runner) dispatch(ctx context.Context) error {
	for ctx.Err() == nil {
		last, dispatched := "", 0
		for ctx.Err() == nil {
			var page []job
			err := r.e.App.DB().NewQuery(`
				SELECT d.id, d.supporter, d.email, d.attempts, s.first_name, s.last_name
				FROM {{deliveries}} d JOIN {{supporters}} s ON s.id = d.supporter
				WHERE d.campaign = {:c} AND d.status = {:queued} AND d.next_attempt_at <= {:now} AND d.id > {:last}
				ORDER BY d.id LIMIT {:n}`).
				Bind(dbx.Params{"c": r.id, "queued": vocab.DeliveryQueued, "now": types.NowDateTime().String(), "last": last, "n": r.e.Config.PageSize}).
				All(&page)
			if err != nil {
				return fmt.Errorf("failed to read deliveries: %w", err)
			}
			if len(page) == 0 {
				break
			}
			for _, j := range page {
				r.pending.Add(1)
				select {
				case r.jobs <- j:
				case <-ctx.Done():
					r.pending.Done()
					return nil
				}
			}
			last, dispatched = page[len(page)-1].ID, dispatched+len(page)
		}
		r.pending.Wait() // this pass's results are written before the next pass reads
		if ctx.Err() != nil {
			return nil
		}
		var left struct {
			N    int    `db:"n"`
			Next string `db:"next"`
		}
		err := r.e.App.DB().NewQuery(`SELECT count(*) AS n, ifnull(min(next_attempt_at), '') AS next FROM {{deliveries}} WHERE campaign = {:c} AND status = {:queued}`).
			Bind(dbx.Params{"c": r.id, "queued": vocab.DeliveryQueued}).One(&left)
		if err != nil {
			return err
		}
		if left.N == 0 {
			return r.e.finish(r.id, vocab.CampaignSent, "")
		}
		if dispatched == 0 { // everything left waits for a retry time
			wait := time.Second
			if next, err := types.ParseDateTime(left.Next); err == nil && !next.IsZero() {
				wait = min(max(time.Until(next.Time()), 10*time.Millisecond), time.Second)
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
	return nil
}

// watch stops the run within WatchInterval of staff pausing or cancelling it.
func (r *runner) watch(ctx context.Context) {
	t := time.NewTicker(r.e.Config.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var status string
		err := r.e.App.DB().Select("status").From(vocab.Campaigns).Where(dbx.HashExp{"id": r.id}).Row(&status)
		if err == nil && status != vocab.CampaignSending {
			r.cancel()
			return
		}
	}
}

// work sends jobs over one SMTP connection, reconnecting after errors.
func (r *runner) work(ctx context.Context) {
	var conn mailsend.Sender
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	// The staleness check runs once per message, so it is a plain prepared
	// statement (no query builder) per connection.
	check, err := r.prepareCheck()
	if err != nil {
		r.e.App.Logger().Error("campaigns: failed to prepare the send-time check", "error", err.Error())
		for j := range r.jobs {
			r.results <- result{job: j, kind: untouched}
		}
		return
	}
	defer check.Close()
	backoff := 100 * time.Millisecond
	for j := range r.jobs {
		if ctx.Err() != nil {
			r.results <- result{job: j, kind: untouched}
			continue
		}
		if r.limiter != nil && r.limiter.Wait(ctx) != nil {
			r.results <- result{job: j, kind: untouched}
			continue
		}
		// Checked after any wait for the rate limit, just before the send.
		if reason := r.stale(check, j); reason != "" {
			r.results <- result{job: j, kind: skipped, err: reason}
			continue
		}
		msg, err := r.message(j)
		if err != nil {
			r.results <- result{job: j, kind: failed, err: err.Error()}
			continue
		}
		if conn == nil {
			if conn, err = r.e.Dial(ctx); err != nil {
				conn = nil
				r.relayDown(err)
				r.results <- result{job: j, kind: untouched}
				sleep(ctx, backoff)
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
		}
		err = conn.Send(context.WithoutCancel(ctx), msg)
		if err == nil {
			r.downNS.Store(0)
			backoff = 100 * time.Millisecond
			r.results <- result{job: j, kind: sent, messageID: msg.MessageID}
			continue
		}
		if mailsend.IsConnectionError(err) {
			conn.Close()
			conn = nil
			r.relayDown(err)
		}
		r.results <- r.failure(j, err)
	}
}

// stale reports why a delivery must not go out now: the supporter
// unsubscribed (or bounced, complained, was erased) or the address was
// suppressed after the snapshot.
func (r *runner) stale(check *sql.Stmt, j job) string {
	hash := ""
	if r.e.Hash != nil {
		hash = r.e.Hash(j.Email)
	}
	var status string
	var suppressed bool
	if err := check.QueryRow(hash, j.Supporter).Scan(&status, &suppressed); err != nil {
		return "supporter not found"
	}
	if status != vocab.StatusSubscribed {
		return "supporter is " + status
	}
	if suppressed {
		return "address is suppressed"
	}
	return ""
}

// prepareCheck prepares the send-time check on the read pool.
func (r *runner) prepareCheck() (*sql.Stmt, error) {
	db, ok := r.e.App.ConcurrentDB().(*dbx.DB)
	if !ok {
		return nil, errors.New("the read pool is not a *dbx.DB")
	}
	return db.DB().Prepare("SELECT s.status, EXISTS(SELECT 1 FROM " + vocab.Suppressions + " WHERE email_hash = ?) FROM " +
		vocab.Supporters + " s WHERE s.id = ?")
}

// relayDown counts how long the relay has been unreachable and pauses the
// campaign, alerting staff, once that passes MaxConnDown.
func (r *runner) relayDown(err error) {
	now := time.Now().UnixNano()
	r.downNS.CompareAndSwap(0, now)
	if time.Duration(now-r.downNS.Load()) < r.e.Config.MaxConnDown || !r.paused.CompareAndSwap(false, true) {
		return
	}
	note := "paused: the SMTP relay has been unreachable for " + r.e.Config.MaxConnDown.String() + ": " + err.Error()
	if ferr := r.e.finish(r.id, vocab.CampaignPaused, note); ferr != nil {
		r.e.App.Logger().Error("campaigns: failed to pause", "campaign", r.id, "error", ferr.Error())
	}
	if r.e.Alert != nil {
		r.e.Alert("A campaign has paused: the mail relay is unreachable",
			"Sending campaign "+r.id+" paused itself because the SMTP relay could not be reached for "+r.e.Config.MaxConnDown.String()+
				" (last error: "+err.Error()+"). Nothing was lost: when the relay works again, set the campaign's status back to \"sending\" in the dashboard to resume.")
	}
	r.cancel()
}

// failure turns a send error into the delivery's next state.
func (r *runner) failure(j job, err error) result {
	f := mailsend.Classify(err)
	res := result{job: j, err: clip.Runes(err.Error(), 2000)}
	res.Attempts++
	switch {
	case !f.Temporary:
		res.kind, res.hard = bounced, f.HardBounce()
	case res.Attempts >= r.e.Config.MaxAttempts:
		res.kind = failed
	default:
		res.kind = retry
		d := r.e.Config.RetryBase
		for i := 1; i < res.Attempts; i++ {
			d *= 2
		}
		res.next = time.Now().Add(d)
	}
	return res
}

// recipient is a delivery's template data: its supporter's names and the
// signed links in the message (unsubscribe, preferences, view in browser).
func (e *Engine) recipient(id charity.Identity, j job) Recipient {
	link := func(path string, p tokens.Purpose, subject string, ttl time.Duration) string {
		return id.AppURL + path + "?token=" + url.QueryEscape(e.Signer.Sign(p, subject, ttl))
	}
	return Recipient{
		FirstName: j.FirstName, LastName: j.LastName, Email: j.Email,
		UnsubscribeURL: link("/unsubscribe", tokens.Unsubscribe, j.Supporter, tokens.UnsubscribeTTL) + "&d=" + j.ID,
		PreferencesURL: link("/preferences", tokens.Preferences, j.Supporter, tokens.PreferencesTTL),
		WebURL:         link("/view", tokens.View, j.ID, tokens.ViewTTL),
	}
}

// message renders one delivery with its links and list headers.
func (r *runner) message(j job) (*mailsend.Message, error) {
	rcpt := r.e.recipient(r.identity, j)
	m, err := r.compiled.Render(rcpt)
	if err != nil {
		return nil, err
	}
	listUnsub := "<" + rcpt.UnsubscribeURL + ">"
	if r.e.Config.UnsubscribeMailto != "" {
		listUnsub += ", <mailto:" + r.e.Config.UnsubscribeMailto + "?subject=unsubscribe>"
	}
	return &mailsend.Message{
		From:      r.from,
		To:        mail.Address{Name: strings.TrimSpace(j.FirstName + " " + j.LastName), Address: j.Email},
		Subject:   m.Subject,
		HTML:      m.HTML,
		Text:      m.Text,
		MessageID: mailsend.NewMessageID(r.from.Address),
		Headers: []mailsend.Header{
			{Name: "List-Unsubscribe", Value: listUnsub},
			{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
			{Name: "List-Id", Value: r.listID},
			{Name: "Precedence", Value: "bulk"},
		},
	}, nil
}

// listID names the campaign's list (RFC 2919) after its first topic, in the
// sender's domain: "Lanternhouse Trust: Our newsletter <newsletter.lanternhouse.org.uk>".
func listID(app core.App, id charity.Identity, topicIDs []string, sender string) string {
	slug, name := "news", "news"
	if len(topicIDs) > 0 {
		if t, err := app.FindRecordById(vocab.Topics, topicIDs[0]); err == nil {
			slug, name = t.GetString("slug"), t.GetString("name")
		}
	}
	domain := "localhost"
	if at := strings.LastIndexByte(sender, '@'); at >= 0 {
		domain = sender[at+1:]
	}
	return id.Name + ": " + name + " <" + slug + "." + domain + ">"
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
