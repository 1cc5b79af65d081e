package campaigns

import (
	"context"
	"database/sql"
	"errors"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/clip"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// Send-time checks: deliveries are checked a batch at a time (one read
// transaction, not eight), and checked again just before the send if the
// verdict is older than checkFresh (e.g. after waiting for the rate limit).
const (
	checkBatch = 8
	checkFresh = 50 * time.Millisecond
)

// prepared is a delivery checked and rendered, waiting for its connection.
type prepared struct {
	job
	msg     *mailsend.Message
	checked time.Time
}

// work sends jobs over one SMTP connection, reconnecting after errors. A
// companion goroutine checks and renders the next messages while this one
// waits on the SMTP server, so the connection is never idle for rendering.
func (r *runner) work(ctx context.Context) {
	check, err := r.prepareCheck()
	if err != nil {
		r.e.App.Logger().Error("campaigns: failed to prepare the send-time check", "error", err.Error())
		for batch := range r.jobs {
			for _, j := range batch {
				r.results <- result{job: j, kind: untouched}
			}
		}
		return
	}
	defer check.Close()
	ready := make(chan prepared, 2)
	go r.prepare(ctx, check, ready)
	r.send(ctx, check, ready)
}

// prepare checks and renders the jobs that may go. Verdicts are shared by
// a batch while fresh; the rest of a batch is checked again once they age
// (the connection may be slow to take the next message).
func (r *runner) prepare(ctx context.Context, check *sql.Stmt, ready chan<- prepared) {
	defer close(ready)
	for batch := range r.jobs {
		var verdicts map[string]string
		var checked time.Time
		for i, j := range batch {
			if ctx.Err() != nil {
				r.results <- result{job: j, kind: untouched}
				continue
			}
			if verdicts == nil || time.Since(checked) > checkFresh/2 {
				var err error
				if verdicts, err = r.stale(check, batch[i:]); err != nil {
					r.e.App.Logger().Error("campaigns: send-time check failed", "campaign", r.id, "error", err.Error())
					verdicts = nil
					r.results <- result{job: j, kind: untouched} // sent on a later pass or run
					continue
				}
				checked = time.Now()
			}
			if reason := verdicts[j.Supporter]; reason != "" {
				r.results <- result{job: j, kind: skipped, err: reason}
				continue
			}
			msg, err := r.message(j)
			if err != nil {
				r.results <- result{job: j, kind: failed, err: err.Error()}
				continue
			}
			ready <- prepared{job: j, msg: msg, checked: checked}
		}
	}
}

// send delivers prepared messages over one connection.
func (r *runner) send(ctx context.Context, check *sql.Stmt, ready <-chan prepared) {
	var conn mailsend.Sender
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := 100 * time.Millisecond
	for p := range ready {
		j := p.job
		if ctx.Err() != nil || (r.limiter != nil && r.limiter.Wait(ctx) != nil) {
			r.results <- result{job: j, kind: untouched}
			continue
		}
		if time.Since(p.checked) > checkFresh {
			verdicts, err := r.stale(check, []job{j})
			if err != nil {
				r.results <- result{job: j, kind: untouched}
				continue
			}
			if reason := verdicts[j.Supporter]; reason != "" {
				r.results <- result{job: j, kind: skipped, err: reason}
				continue
			}
		}
		if conn == nil {
			var err error
			if conn, err = r.e.Dial(ctx); err != nil {
				conn = nil
				r.relayDown(err)
				r.results <- result{job: j, kind: untouched}
				sleep(ctx, backoff)
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
		}
		err := conn.Send(context.WithoutCancel(ctx), p.msg)
		if err == nil {
			r.downNS.Store(0)
			backoff = 100 * time.Millisecond
			r.results <- result{job: j, kind: sent, messageID: p.msg.MessageID}
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

// stale returns, by supporter, why each delivery must not go out now: the
// supporter unsubscribed (or bounced, complained, was erased) or the address
// was suppressed after the snapshot. Deliveries that may go are absent.
func (r *runner) stale(check *sql.Stmt, jobs []job) (map[string]string, error) {
	args := make([]any, 0, 2*checkBatch)
	for i := range checkBatch {
		j := jobs[min(i, len(jobs)-1)] // a short batch repeats its last
		hash := ""
		if r.e.Hash != nil {
			hash = r.e.Hash(j.Email)
		}
		args = append(args, j.Supporter, hash)
	}
	rows, err := check.Query(args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	verdicts := make(map[string]string, len(jobs))
	for rows.Next() {
		var id, status string
		var suppressed bool
		if err := rows.Scan(&id, &status, &suppressed); err != nil {
			return nil, err
		}
		switch {
		case status == "":
			verdicts[id] = "supporter not found"
		case status != vocab.StatusSubscribed:
			verdicts[id] = "supporter is " + status
		case suppressed:
			verdicts[id] = "address is suppressed"
		}
	}
	return verdicts, rows.Err()
}

// prepareCheck prepares the send-time check of checkBatch deliveries on the
// read pool.
func (r *runner) prepareCheck() (*sql.Stmt, error) {
	db, ok := r.e.App.ConcurrentDB().(*dbx.DB)
	if !ok {
		return nil, errors.New("the read pool is not a *dbx.DB")
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?), ", checkBatch), ", ")
	return db.DB().Prepare("WITH j(sid, hash) AS (VALUES " + values + ") " +
		"SELECT j.sid, ifnull(s.status, ''), EXISTS(SELECT 1 FROM " + vocab.Suppressions + " x WHERE x.email_hash = j.hash) " +
		"FROM j LEFT JOIN " + vocab.Supporters + " s ON s.id = j.sid")
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
