package bounces

import (
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
		if err := a.bounceDelivery(); err != nil {
			return err
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

// bounceDelivery marks the delivery bounced and moves its count. A
// delivery still queued was handed to the relay but its result is not yet
// written (the engine records results in batches, and a local relay can
// bounce at once): the engine will find it bounced and count nothing, so
// only the bounce is counted here.
func (a *applier) bounceDelivery() error {
	var status string
	if err := a.tx.DB().Select("status").From(vocab.Deliveries).Where(dbx.HashExp{"id": a.t.delivery}).Row(&status); err != nil {
		return err
	}
	if status != vocab.DeliverySent && status != vocab.DeliveryQueued {
		return nil // bounced already at send time, failed or skipped
	}
	if _, err := a.exec("UPDATE {{"+vocab.Deliveries+"}} SET [[status]] = {:bounced}, [[last_error]] = {:why}, [[updated]] = {:now} WHERE [[id]] = {:id}",
		dbx.Params{"bounced": vocab.DeliveryBounced, "why": "bounced after sending: " + a.r.Status, "now": a.now, "id": a.t.delivery}); err != nil {
		return err
	}
	sent := "[[sent]]"
	if status == vocab.DeliverySent {
		sent = "max([[sent]] - 1, 0)"
	}
	if _, err := a.exec("UPDATE {{"+vocab.Campaigns+"}} SET [[sent]] = "+sent+", [[bounced]] = [[bounced]] + 1, [[updated]] = {:now} WHERE [[id]] = {:id}",
		dbx.Params{"now": a.now, "id": a.t.campaign}); err != nil {
		return err
	}
	a.effects = append(a.effects, "delivery bounced")
	return nil
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
