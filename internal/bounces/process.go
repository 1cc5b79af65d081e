package bounces

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

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

// byMessageID matches a report's Message-ID. Asking for a non-empty message_id
// lets SQLite use the partial indexes on it (without that term, it scans).
func byMessageID(tx core.App, id string) (target, error) {
	withID := dbx.NewExp("message_id != ''")
	var d deliveryRow
	err := tx.DB().Select("id", "campaign", "supporter", "email").From(vocab.Deliveries).Where(dbx.HashExp{"message_id": id}).AndWhere(withID).Limit(1).One(&d)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return d.target(), err
	}
	var o outboxRow
	err = tx.DB().Select("id", "supporter", "to").From(vocab.Outbox).Where(dbx.HashExp{"message_id": id}).AndWhere(withID).Limit(1).One(&o)
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
