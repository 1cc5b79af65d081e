package bounces

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/clip"
	"supportercrm/internal/outbox"
	"supportercrm/internal/vocab"
)

// ErrNotConfigured means Configure was not called on the app.
var ErrNotConfigured = errors.New("bounces: not configured (pb_hooks sets it up at start)")

// Process applies one report, in one transaction, and says what it did:
//
//   - hard: the delivery (or outbox row) and the supporter become bounced,
//     the address is suppressed, the campaign counts a bounce;
//   - soft: counted; SoftLimit of them about different messages within
//     SoftWindow make the supporter bounced;
//   - complaint: the supporter becomes complained, a consent withdrawal
//     (method complaint) is written, the address is suppressed, the
//     campaign counts a complaint and alerts admins once when its
//     complaint rate passes ComplaintRate.
//
// Each applied report is kept in bounce_reports, which puts it on the
// supporter's timeline. The same report again (by source and EventID), or a
// second one of the same kind about the same message, changes nothing. A
// report about a supporter since erased writes nothing: the erasure's
// suppression stays as it is. A report that names no message we sent is
// Unmatched and changes nothing.
func Process(app core.App, r Report) (Outcome, error) {
	if err := r.validate(); err != nil {
		return Outcome{}, err
	}
	s, ok := settingsOf(app)
	if !ok {
		return Outcome{}, ErrNotConfigured
	}
	if r.At.IsZero() {
		r.At = s.Now()
	}
	var out Outcome
	err := app.RunInTransaction(func(tx core.App) error {
		var err error
		out, err = apply(tx, s, r)
		return err
	})
	if err != nil {
		return Outcome{}, err
	}
	if out.Action == Unmatched {
		// No address: a report we can't place may still name someone.
		app.Logger().Info("bounces: a report names no message we sent", "source", r.Source, "kind", string(r.Kind))
	}
	return out, nil
}

// target is the message a report is about.
type target struct {
	ref       string // "d" + delivery id or "o" + outbox id
	delivery  string
	outbox    string
	campaign  string
	supporter string
	email     string // the address the message went to
}

// find places a report: by its VERP token, then its Message-ID, then (from
// an authenticated source only) its recipient's latest message.
func find(tx core.App, s Settings, r Report) (target, error) {
	if r.Token != "" {
		if ref, ok := s.Addresses.Ref(r.Token); ok {
			t, err := byRef(tx, ref)
			if err == nil || !errors.Is(err, sql.ErrNoRows) {
				return t, err
			}
		}
	}
	if id := strings.Trim(strings.TrimSpace(r.MessageID), "<>"); id != "" {
		t, err := byMessageID(tx, id)
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return t, err
		}
	}
	if addr := strings.ToLower(strings.TrimSpace(r.Recipient)); addr != "" && !unauthenticated(r.Source) {
		return byRecipient(tx, addr)
	}
	return target{}, sql.ErrNoRows
}

// unauthenticated says a source is mail that anyone can send (the bounce
// mailbox, the SMTP listener): its reports must name the message by its
// signed VERP token or its Message-ID, which only the recipient's own
// mail carries, so nobody can bounce or unsubscribe an address by naming
// it in a forged report.
func unauthenticated(source string) bool { return source == "imap" || source == "smtp" }

type deliveryRow struct {
	ID        string `db:"id"`
	Campaign  string `db:"campaign"`
	Supporter string `db:"supporter"`
	Email     string `db:"email"`
}

type outboxRow struct {
	ID        string `db:"id"`
	Supporter string `db:"supporter"`
	To        string `db:"to"`
}

func (d deliveryRow) target() target {
	return target{ref: "d" + d.ID, delivery: d.ID, campaign: d.Campaign, supporter: d.Supporter, email: d.Email}
}

func (o outboxRow) target() target {
	return target{ref: "o" + o.ID, outbox: o.ID, supporter: o.Supporter, email: strings.ToLower(strings.TrimSpace(o.To))}
}

func byRef(tx core.App, ref string) (target, error) {
	if ref[0] == 'd' {
		var d deliveryRow
		err := tx.DB().Select("id", "campaign", "supporter", "email").From(vocab.Deliveries).Where(dbx.HashExp{"id": ref[1:]}).One(&d)
		return d.target(), err
	}
	var o outboxRow
	err := tx.DB().Select("id", "supporter", "to").From(vocab.Outbox).Where(dbx.HashExp{"id": ref[1:]}).One(&o)
	return o.target(), err
}

func byMessageID(tx core.App, id string) (target, error) {
	var d deliveryRow
	err := tx.DB().Select("id", "campaign", "supporter", "email").From(vocab.Deliveries).Where(dbx.HashExp{"message_id": id}).Limit(1).One(&d)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return d.target(), err
	}
	var o outboxRow
	err = tx.DB().Select("id", "supporter", "to").From(vocab.Outbox).Where(dbx.HashExp{"message_id": id}).Limit(1).One(&o)
	return o.target(), err
}

// byRecipient is the last resort, for a report that names only an address:
// the latest campaign message sent to it, else the latest outbox message.
func byRecipient(tx core.App, addr string) (target, error) {
	var d deliveryRow
	err := tx.DB().Select("id", "campaign", "supporter", "email").From(vocab.Deliveries).
		Where(dbx.HashExp{"email": addr, "status": []any{vocab.DeliverySent, vocab.DeliveryBounced}}).
		OrderBy("sent_at DESC").Limit(1).One(&d)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return d.target(), err
	}
	var o outboxRow
	err = tx.DB().Select("id", "supporter", "to").From(vocab.Outbox).
		Where(dbx.And(dbx.NewExp("lower([[to]]) = {:to}", dbx.Params{"to": addr}), dbx.HashExp{"status": vocab.OutboxSent})).
		OrderBy("sent_at DESC").Limit(1).One(&o)
	return o.target(), err
}

// eventKey names a report at its source, for idempotence: the source's own
// id, or else a digest of what the report says.
func eventKey(r Report) string {
	if r.EventID != "" {
		return r.Source + ":" + r.EventID
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{string(r.Kind), r.Token, r.MessageID, strings.ToLower(r.Recipient), r.Status}, "\x00")))
	return r.Source + ":sha256:" + hex.EncodeToString(sum[:16])
}

// apply does the work of Process inside its transaction.
func apply(tx core.App, s Settings, r Report) (Outcome, error) {
	t, err := find(tx, s, r)
	if errors.Is(err, sql.ErrNoRows) {
		return Outcome{Action: Unmatched}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Delivery: t.delivery, Outbox: t.outbox, Supporter: t.supporter, Campaign: t.campaign}
	var sup *core.Record
	if t.supporter != "" {
		if sup, err = tx.FindRecordById(vocab.Supporters, t.supporter); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Outcome{}, err
		}
	}
	if sup != nil {
		out.SupporterStatus = sup.GetString("status")
		if out.SupporterStatus == vocab.StatusErased {
			out.Action = Erased
			out.Suppressed = true // by the erasure
			return out, nil
		}
	}
	key := eventKey(r)
	seen, err := tx.CountRecords(vocab.BounceReports, dbx.Or(dbx.HashExp{"event_key": key}, dbx.HashExp{"ref": t.ref, "kind": string(r.Kind)}))
	if err != nil {
		return Outcome{}, err
	}
	if seen > 0 {
		out.Action = Duplicate
		out.Suppressed, err = suppressed(tx, s, t.email)
		return out, err
	}

	a := &applier{tx: tx, s: s, r: r, t: t, sup: sup, now: types.NowDateTime().String()}
	switch r.Kind {
	case Hard:
		err = a.hard()
	case Soft:
		err = a.soft()
	case Complaint:
		err = a.complaint()
	}
	if err != nil {
		return Outcome{}, err
	}
	if err := a.keep(key); err != nil {
		return Outcome{}, err
	}
	out.Action = Applied
	out.Alerted = a.alerted
	if sup != nil {
		if err := tx.DB().Select("status").From(vocab.Supporters).Where(dbx.HashExp{"id": sup.Id}).Row(&out.SupporterStatus); err != nil {
			return Outcome{}, err
		}
	}
	out.Suppressed, err = suppressed(tx, s, t.email)
	return out, err
}

func suppressed(tx core.App, s Settings, email string) (bool, error) {
	if email == "" {
		return false, nil
	}
	n, err := tx.CountRecords(vocab.Suppressions, dbx.HashExp{"email_hash": s.Hash(email)})
	return n > 0, err
}

// applier holds one report being applied; effects says what it changed,
// for its row in bounce_reports.
type applier struct {
	tx      core.App
	s       Settings
	r       Report
	t       target
	sup     *core.Record
	now     string
	effects []string
	alerted bool
}

func (a *applier) exec(q string, p dbx.Params) (int64, error) {
	res, err := a.tx.DB().NewQuery(q).Bind(p).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// note is what the suppression list and last_error keep: codes only, as
// the engine does for bounces at send time.
func (a *applier) note() string {
	where := "outbox " + a.t.outbox
	if a.t.campaign != "" {
		where = "campaign " + a.t.campaign
	}
	n := where + ": " + string(a.r.Kind) + " (" + a.r.Source + ")"
	if a.r.Status != "" {
		n += " " + a.r.Status
	}
	return n
}

func (a *applier) hard() error {
	if a.t.delivery != "" {
		n, err := a.exec("UPDATE {{"+vocab.Deliveries+"}} SET [[status]] = {:bounced}, [[last_error]] = {:why}, [[updated]] = {:now} WHERE [[id]] = {:id} AND [[status]] = {:sent}",
			dbx.Params{"bounced": vocab.DeliveryBounced, "sent": vocab.DeliverySent, "why": "bounced after sending: " + a.r.Status, "now": a.now, "id": a.t.delivery})
		if err != nil {
			return err
		}
		if n > 0 {
			// The delivery moves from sent to bounced, and so does its count.
			if _, err := a.exec("UPDATE {{"+vocab.Campaigns+"}} SET [[sent]] = max([[sent]] - 1, 0), [[bounced]] = [[bounced]] + 1, [[updated]] = {:now} WHERE [[id]] = {:id}",
				dbx.Params{"now": a.now, "id": a.t.campaign}); err != nil {
				return err
			}
			a.effects = append(a.effects, "delivery bounced")
		}
	}
	if a.t.outbox != "" {
		n, err := a.exec("UPDATE {{"+vocab.Outbox+"}} SET [[status]] = {:failed}, [[last_error]] = {:why}, [[updated]] = {:now} WHERE [[id]] = {:id} AND [[status]] = {:sent}",
			dbx.Params{"failed": vocab.OutboxFailed, "sent": vocab.OutboxSent, "why": "bounced after sending: " + a.r.Status, "now": a.now, "id": a.t.outbox})
		if err != nil {
			return err
		}
		if n > 0 {
			a.effects = append(a.effects, "message bounced")
		}
	}
	if err := a.countBounce(); err != nil {
		return err
	}
	if err := a.markBounced(); err != nil {
		return err
	}
	return a.suppress(vocab.SuppressHardBounce)
}

// countBounce adds one to the supporter's bounce count.
func (a *applier) countBounce() error {
	if a.sup == nil {
		return nil
	}
	_, err := a.exec("UPDATE {{"+vocab.Supporters+"}} SET [[bounce_count]] = [[bounce_count]] + 1, [[updated]] = {:now} WHERE [[id]] = {:id}",
		dbx.Params{"now": a.now, "id": a.sup.Id})
	return err
}

// markBounced makes a subscribed (or pending) supporter bounced: a bounce
// never undoes an unsubscribe or a complaint.
func (a *applier) markBounced() error {
	if a.sup == nil {
		return nil
	}
	n, err := a.exec("UPDATE {{"+vocab.Supporters+"}} SET [[status]] = {:bounced}, [[updated]] = {:now} WHERE [[id]] = {:id} AND [[status]] IN ({:subscribed}, {:pending})",
		dbx.Params{"subscribed": vocab.StatusSubscribed, "pending": vocab.StatusPending, "bounced": vocab.StatusBounced, "now": a.now, "id": a.sup.Id})
	if err != nil {
		return err
	}
	if n > 0 {
		a.effects = append(a.effects, "supporter bounced")
	}
	return nil
}

// suppress puts the address the message went to on the suppression list,
// unless it is there already (suppressions are never edited).
func (a *applier) suppress(reason string) error {
	if a.t.email == "" {
		return nil
	}
	n, err := a.exec("INSERT OR IGNORE INTO {{"+vocab.Suppressions+"}} ([[id]], [[email_hash]], [[reason]], [[note]], [[created]]) "+
		"SELECT {:id}, {:hash}, {:reason}, {:note}, {:now} WHERE NOT EXISTS (SELECT 1 FROM {{"+vocab.Suppressions+"}} WHERE [[email_hash]] = {:hash})",
		dbx.Params{"id": core.GenerateDefaultRandomId(), "hash": a.s.Hash(a.t.email), "reason": reason, "note": a.note(), "now": a.now})
	if err != nil {
		return err
	}
	if n > 0 {
		a.effects = append(a.effects, "address suppressed")
	}
	return nil
}

// soft counts a temporary failure; SoftLimit of them, each about a
// different message, within SoftWindow of this one make the supporter
// bounced (retries of one message are one problem, not several).
func (a *applier) soft() error {
	if a.sup == nil {
		return nil
	}
	if err := a.countBounce(); err != nil {
		return err
	}
	var others int
	err := a.tx.DB().NewQuery("SELECT count(DISTINCT [[ref]]) FROM {{" + vocab.BounceReports + "}} WHERE [[supporter]] = {:s} AND [[kind]] = {:soft} AND [[ref]] != {:ref} AND [[reported_at]] > {:since}").
		Bind(dbx.Params{"s": a.sup.Id, "soft": string(Soft), "ref": a.t.ref, "since": stamp(a.r.At.Add(-a.s.SoftWindow))}).Row(&others)
	if err != nil {
		return err
	}
	a.effects = append(a.effects, fmt.Sprintf("soft bounce %d of %d", min(others+1, a.s.SoftLimit), a.s.SoftLimit))
	if others+1 < a.s.SoftLimit {
		return nil
	}
	return a.markBounced()
}

// complaint withdraws the supporter's consent (the complaint is their
// objection, PECR and UK GDPR alike), suppresses the address, stops their
// queued mail and counts the complaint on the campaign.
func (a *applier) complaint() error {
	if a.sup != nil && a.sup.GetString("status") != vocab.StatusComplained {
		if err := a.withdraw(); err != nil {
			return err
		}
	}
	if err := a.suppress(vocab.SuppressComplained); err != nil {
		return err
	}
	if a.t.campaign == "" {
		return nil
	}
	if _, err := a.exec("UPDATE {{"+vocab.Campaigns+"}} SET [[complaints]] = [[complaints]] + 1, [[updated]] = {:now} WHERE [[id]] = {:id}",
		dbx.Params{"now": a.now, "id": a.t.campaign}); err != nil {
		return err
	}
	return a.checkRate()
}

func (a *applier) withdraw() error {
	sup := a.sup
	topics := sup.GetStringSlice("topics")
	sup.Set("status", vocab.StatusComplained)
	if sup.GetDateTime("unsubscribed_at").IsZero() {
		sup.Set("unsubscribed_at", a.now)
	}
	if err := a.tx.Save(sup); err != nil {
		return err
	}
	col, err := a.tx.FindCachedCollectionByNameOrId(vocab.Consents)
	if err != nil {
		return err
	}
	slugs := []string{}
	if len(topics) > 0 {
		if err := a.tx.DB().Select("slug").From(vocab.Topics).Where(dbx.HashExp{"id": list(topics)}).OrderBy("slug").Column(&slugs); err != nil {
			return err
		}
	}
	basis := vocab.BasisConsent // the basis the supporter's last grant rested on
	_ = a.tx.DB().Select("basis").From(vocab.Consents).Where(dbx.HashExp{"supporter": sup.Id, "action": vocab.ActionGrant}).
		OrderBy("created DESC").Limit(1).Row(&basis)
	c := core.NewRecord(col)
	c.Set("supporter", sup.Id)
	c.Set("email", sup.GetString("email"))
	c.Set("action", vocab.ActionWithdraw)
	c.Set("basis", basis)
	c.Set("topics", topics)
	c.Set("topic_slugs", slugs)
	c.Set("method", vocab.MethodComplaint)
	c.Set("wording", "Reported our email as spam ("+a.r.Source+").")
	if err := a.tx.Save(c); err != nil {
		return fmt.Errorf("failed to record the complaint's withdrawal: %w", err)
	}
	if _, err := outbox.CancelQueued(a.tx, sup.Id); err != nil {
		return err
	}
	a.effects = append(a.effects, "supporter complained", "consent withdrawn")
	return nil
}

// checkRate tells the admins, once per campaign, when its complaints pass
// ComplaintRate of the messages it delivered.
func (a *applier) checkRate() error {
	var c struct {
		Name       string `db:"name"`
		Sent       int    `db:"sent"`
		Complaints int    `db:"complaints"`
		Alerted    string `db:"complaint_alerted_at"`
	}
	if err := a.tx.DB().Select("name", "sent", "complaints", "complaint_alerted_at").From(vocab.Campaigns).Where(dbx.HashExp{"id": a.t.campaign}).One(&c); err != nil {
		return err
	}
	if c.Alerted != "" || float64(c.Complaints) <= a.s.ComplaintRate*float64(c.Sent) {
		return nil
	}
	if _, err := a.exec("UPDATE {{"+vocab.Campaigns+"}} SET [[complaint_alerted_at]] = {:now} WHERE [[id]] = {:id}", dbx.Params{"now": a.now, "id": a.t.campaign}); err != nil {
		return err
	}
	subject := fmt.Sprintf("Complaints about %q passed %.1f%%", clip.Runes(c.Name, 100), 100*a.s.ComplaintRate)
	text := fmt.Sprintf("%d of the %d people who received the campaign %q have reported it as spam (%.2f%%).\n\n"+
		"Gmail, Yahoo and Outlook start to refuse a sender's mail when complaints pass 0.3%%. Each person who complained "+
		"is unsubscribed and will not be mailed again. Before the next send, check that everyone on the list asked for this "+
		"mail, and that the unsubscribe link is easy to find.\n", c.Complaints, c.Sent, c.Name, 100*float64(c.Complaints)/float64(max(c.Sent, 1)))
	if a.s.Alert != nil {
		a.s.Alert(a.tx, subject, text)
	}
	a.alerted = true
	a.effects = append(a.effects, "admins alerted")
	return nil
}

func list(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// stamp is t as PocketBase stores dates.
func stamp(t time.Time) string {
	return t.UTC().Format(types.DefaultDateLayout)
}

// keep stores the report, without addresses, in bounce_reports.
func (a *applier) keep(key string) error {
	col, err := a.tx.FindCachedCollectionByNameOrId(vocab.BounceReports)
	if err != nil {
		return err
	}
	rec := core.NewRecord(col)
	rec.Set("event_key", clip.Runes(key, maxField))
	rec.Set("source", a.r.Source)
	rec.Set("kind", string(a.r.Kind))
	rec.Set("status", clip.Runes(a.r.Status, 20))
	rec.Set("diagnostic", clip.Runes(withoutAddresses(a.r.Diagnostic), maxDiagnostic))
	rec.Set("ref", a.t.ref)
	rec.Set("supporter", a.t.supporter)
	rec.Set("delivery", a.t.delivery)
	rec.Set("outbox", a.t.outbox)
	rec.Set("campaign", a.t.campaign)
	rec.Set("effect", clip.Runes(strings.Join(a.effects, ", "), 300))
	rec.Set("reported_at", a.r.At)
	return a.tx.SaveNoValidate(rec)
}
