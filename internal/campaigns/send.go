package campaigns

import (
	"context"
	"database/sql"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/tokens"
	"supportercrm/internal/tracking"
	"supportercrm/internal/vocab"
)

// Send-time checks: rendered deliveries are checked together, as many as
// are ready up to checkMax, by one query on the read pool, and handed to the
// connections straight after. A verdict older than checkFresh/2 is renewed
// before its message is handed over, and one older than checkFresh (e.g.
// after waiting for the rate limit) is renewed again just before the send.
const (
	checkMax    = 64
	checkFresh  = 50 * time.Millisecond
	renderChunk = 16 // deliveries per hand-off from dispatch to the renderers
)

// checkSizes are the row counts of the prepared check statements: a batch
// uses the smallest that holds it, repeating its last row to fill it.
var checkSizes = [...]int{1, 4, 16, checkMax}

// checker holds the prepared send-time checks, one per size in checkSizes,
// and the campaign's audience they test (JSON lists).
type checker struct {
	stmts        [len(checkSizes)]*sql.Stmt
	topics, tags string
}

func (c *checker) Close() {
	for _, s := range c.stmts {
		if s != nil {
			s.Close()
		}
	}
}

// prepared is a delivery rendered (and then checked), waiting for a connection.
type prepared struct {
	job
	msg     *mailsend.Message
	bufs    *msgBufs // msg's parts: released once msg is sent or dropped
	checked time.Time
}

// done reports p's result and releases its message's buffers: nothing may
// use p.msg after.
func (r *runner) done(p prepared, res result) {
	if p.bufs != nil {
		msgBufPool.Put(p.bufs)
	}
	r.results <- res
}

// render renders deliveries for the checker. Several run at once.
func (r *runner) render(ctx context.Context) {
	for batch := range r.jobs {
		for _, j := range batch {
			if ctx.Err() != nil {
				r.results <- result{job: j, kind: untouched}
				continue
			}
			bufs := msgBufPool.Get().(*msgBufs)
			msg, err := r.message(j, bufs)
			if err != nil {
				r.done(prepared{bufs: bufs}, result{job: j, kind: failed, err: err.Error()})
				continue
			}
			r.rendered <- prepared{job: j, msg: msg, bufs: bufs}
		}
	}
}

// check takes the rendered deliveries that are ready (up to checkMax at a
// time), checks them in one query and hands those that may go to the
// connections. Until the renderers are done.
func (r *runner) check(ctx context.Context, check *checker) {
	batch := make([]prepared, 0, checkMax)
	for p := range r.rendered {
		batch = append(batch[:0], p)
	more:
		for len(batch) < checkMax {
			select {
			case p, ok := <-r.rendered:
				if !ok {
					break more
				}
				batch = append(batch, p)
			default:
				break more
			}
		}
		r.checkAndHand(ctx, check, batch)
	}
}

// checkAndHand checks a batch and hands it to the connections, renewing the
// verdicts of those not yet handed over once they are checkFresh/2 old (the
// connections may be slow to take them).
func (r *runner) checkAndHand(ctx context.Context, check *checker, batch []prepared) {
	var verdicts map[string]string
	var checked time.Time
	for i, p := range batch {
		if ctx.Err() != nil {
			r.done(p, result{job: p.job, kind: untouched})
			continue
		}
		if verdicts == nil || time.Since(checked) > checkFresh/2 {
			var err error
			if verdicts, err = r.stale(check, batch[i:]); err != nil {
				r.e.App.Logger().Error("campaigns: send-time check failed", "campaign", r.id, "error", err.Error())
				verdicts = nil
				r.done(p, result{job: p.job, kind: untouched}) // sent on a later pass or run
				continue
			}
			checked = time.Now()
		}
		if reason := verdicts[p.Supporter]; reason != "" {
			r.done(p, result{job: p.job, kind: skipped, err: reason})
			continue
		}
		p.checked = checked
		r.ready <- p
	}
}

// send delivers checked messages over one connection, reconnecting after
// errors.
func (r *runner) send(ctx context.Context, check *checker) {
	var conn mailsend.Sender
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := 100 * time.Millisecond
	for p := range r.ready {
		j := p.job
		if ctx.Err() != nil || (r.limiter != nil && r.limiter.Wait(ctx) != nil) {
			r.done(p, result{job: j, kind: untouched})
			continue
		}
		if time.Since(p.checked) > checkFresh {
			verdicts, err := r.stale(check, []prepared{p})
			if err != nil {
				r.done(p, result{job: j, kind: untouched})
				continue
			}
			if reason := verdicts[j.Supporter]; reason != "" {
				r.done(p, result{job: j, kind: skipped, err: reason})
				continue
			}
		}
		if conn == nil {
			var err error
			if conn, err = r.e.Dial(ctx); err != nil {
				conn = nil
				r.notSent(ctx, p, err, &backoff)
				continue
			}
		}
		err := conn.Send(context.WithoutCancel(ctx), p.msg)
		if err == nil { // the relay accepted it, whatever became of the connection after
			r.downNS.Store(0)
			r.refusals.accepted()
			backoff = 100 * time.Millisecond
			r.done(p, result{job: j, kind: sent, messageID: p.msg.MessageID})
			continue
		}
		f := mailsend.Classify(err)
		if f.NotSent {
			conn.Close()
			conn = nil
			r.notSent(ctx, p, err, &backoff)
			continue
		}
		why := withoutAddress(err.Error(), j.Email)
		if !f.Unsendable && mailsend.IsConnectionError(err) {
			conn.Close()
			conn = nil
			r.relayDown(why)
		}
		res := r.failure(j, f, why)
		if res.kind == retry || (res.kind == failed && !f.Unsendable) {
			r.refused(j.ID, why)
			if r.paused.Load() {
				// The campaign paused over the relay's trouble: this
				// refusal doesn't use up one of the delivery's attempts.
				res = result{job: j, kind: untouched}
			}
		}
		r.done(p, res)
	}
}

// notSent handles a message that never reached the relay (it could not be
// dialled, or the session failed before the message was handed over): the
// delivery stays queued as it was, using no attempt, the relay counts as
// down, and this connection waits a little longer each time before its next
// try.
func (r *runner) notSent(ctx context.Context, p prepared, err error, backoff *time.Duration) {
	r.relayDown(err.Error())
	r.done(p, result{job: p.job, kind: untouched})
	sleep(ctx, *backoff)
	*backoff = min(2**backoff, 5*time.Second)
}

// stale returns, by supporter, why each delivery must not go out now: the
// supporter unsubscribed (or bounced, complained, was erased), left the
// campaign's topics or lost its tags, or the address was suppressed after
// the snapshot. Deliveries that may go are absent. Every delivery given is
// checked, checkMax to a query.
func (r *runner) stale(check *checker, ps []prepared) (map[string]string, error) {
	verdicts := make(map[string]string)
	var args [2 + 2*checkMax]any
	args[0], args[1] = check.topics, check.tags
	for len(ps) > 0 {
		chunk := ps[:min(len(ps), checkMax)]
		ps = ps[len(chunk):]
		k := 0
		for k < len(checkSizes)-1 && checkSizes[k] < len(chunk) {
			k++
		}
		size := checkSizes[k]
		for i := range size {
			j := chunk[min(i, len(chunk)-1)] // a short batch repeats its last
			hash := ""
			if r.e.Hash != nil {
				hash = r.e.Hash(j.Email)
			}
			args[2+2*i], args[3+2*i] = j.Supporter, hash
		}
		if err := r.staleQuery(check.stmts[k], args[:2+2*size], verdicts); err != nil {
			return nil, err
		}
	}
	return verdicts, nil
}

func (r *runner) staleQuery(stmt *sql.Stmt, args []any, verdicts map[string]string) error {
	rows, err := stmt.Query(args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, status string
		var suppressed, inTopics, tagged bool
		if err := rows.Scan(&id, &status, &suppressed, &inTopics, &tagged); err != nil {
			return err
		}
		switch {
		case status == "":
			verdicts[id] = "supporter not found"
		case status != vocab.StatusSubscribed:
			verdicts[id] = "supporter is " + status
		case suppressed:
			verdicts[id] = "address is suppressed"
		case !inTopics:
			verdicts[id] = "supporter left the campaign's topics"
		case !tagged:
			verdicts[id] = "supporter no longer has the campaign's tags"
		}
	}
	return rows.Err()
}

// checkSQL is the send-time check of n deliveries (supporter id and address
// hash each, after the campaign's topics and tags as JSON lists): status,
// suppression, and the audience test of the snapshot (one of the topics
// and, when the campaign has tags, one of them).
func checkSQL(n int) string {
	values := strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ")
	return "WITH c(topics, tags) AS (VALUES (?, ?)), j(sid, hash) AS (VALUES " + values + ") " +
		"SELECT j.sid, ifnull(s.status, ''), " +
		"EXISTS(SELECT 1 FROM " + vocab.Suppressions + " x WHERE x.email_hash = j.hash), " +
		inTopicsSQL("(SELECT topics FROM c)") + ", " + taggedSQL("(SELECT tags FROM c)") + " " +
		"FROM j LEFT JOIN " + vocab.Supporters + " s ON s.id = j.sid"
}

// prepareCheck prepares the send-time checks on the read pool for a
// campaign's topics and tags.
func (r *runner) prepareCheck(a Audience) (*checker, error) {
	db, err := rawDB(r.e.App.ConcurrentDB())
	if err != nil {
		return nil, err
	}
	c := &checker{topics: jsonList(a.Topics), tags: jsonList(a.Tags)}
	for k, n := range checkSizes {
		stmt, err := db.Prepare(checkSQL(n))
		if err != nil {
			c.Close()
			return nil, err
		}
		c.stmts[k] = stmt
	}
	return c, nil
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

// message renders one delivery with its links and list headers into bufs:
// the message is valid until bufs is released.
func (r *runner) message(j job, bufs *msgBufs) (*mailsend.Message, error) {
	rcpt := r.e.recipient(r.identity, j)
	m, err := r.compiled.renderInto(rcpt, bufs)
	if err != nil {
		return nil, err
	}
	if r.tracking {
		m.HTML = tracking.Rewrite(r.e.Signer, r.identity.AppURL, j.ID, m.HTML, rcpt.UnsubscribeURL, rcpt.PreferencesURL, rcpt.WebURL)
	}
	listUnsub := "<" + rcpt.UnsubscribeURL + ">"
	if r.e.Config.UnsubscribeMailto != "" {
		listUnsub += ", <mailto:" + r.e.Config.UnsubscribeMailto + "?subject=unsubscribe>"
	}
	var returnPath string
	if r.e.ReturnPath != nil {
		returnPath = r.e.ReturnPath(j.ID)
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
		EnvelopeFrom: returnPath,
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
