// Package erasure carries out a supporter's right to erasure (UK GDPR
// Art. 17) the way the ICO expects of a mailing list: the profile's personal
// data goes, the evidence rows stay without it, and the address's hash goes
// on the suppression list so no later signup or import mails it again.
//
// Gift Aid declarations are the exception: HMRC requires a charity to keep
// the declaration behind every claimed donation for 6 years after that
// donation (compliance.md §3), a legal obligation that Art. 17(3)(b) puts
// before erasure. Declarations of a supporter with a donation claimed in the
// last 6 years are kept whole, and the result says until when; otherwise
// they are deleted, and donations not yet claimed stop counting as Gift Aid
// eligible (there is no declaration left to claim them with).
package erasure

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/outbox"
	"supportercrm/internal/vocab"
)

// ErrNotFound means no supporter has the id or address given.
var ErrNotFound = errors.New("no supporter with that id or email address")

// HMRCRetention is how long a declaration is kept after the last donation
// claimed on it.
const HMRCRetention = 6

// Eraser erases supporters.
type Eraser struct {
	App core.App
	// Hash is the suppression list's key for a normalised address.
	Hash func(normalized string) string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Result says what an erasure did.
type Result struct {
	Supporter            string `json:"supporter"`
	AlreadyErased        bool   `json:"already_erased"`
	ConsentsAnonymised   int    `json:"consents_anonymised"`
	DeliveriesAnonymised int    `json:"deliveries_anonymised"`
	EmailsAnonymised     int    `json:"emails_anonymised"`
	EmailsCancelled      int    `json:"emails_cancelled"`
	TrackingDeleted      int    `json:"tracking_events_deleted"`
	DeclarationsDeleted  int    `json:"gift_aid_declarations_deleted"`
	DeclarationsKept     int    `json:"gift_aid_declarations_kept"`
	// KeptUntil is the day the kept declarations may be deleted (YYYY-MM-DD).
	KeptUntil string `json:"gift_aid_kept_until"`
}

// Placeholder is the address an erased supporter is left with: unique (the
// email index), valid (the field's validator) and never deliverable.
func Placeholder(supporterID string) string {
	return "erased-" + supporterID + "@invalid.example"
}

// EraseEmailOrID erases the supporter with that id, or that address. An
// address that is no longer on file but was erased before is a success
// that changes nothing, so a repeated request gets the same answer.
func (x *Eraser) EraseEmailOrID(s string) (Result, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "@") {
		return x.Erase(s)
	}
	email := strings.ToLower(s)
	sup, err := x.App.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err == nil {
		return x.Erase(sup.Id)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Result{}, err
	}
	n, err := x.App.CountRecords(vocab.Suppressions, dbx.HashExp{"email_hash": x.Hash(email), "reason": vocab.SuppressErased})
	if err != nil {
		return Result{}, err
	}
	if n == 0 {
		return Result{}, ErrNotFound
	}
	return Result{AlreadyErased: true}, nil
}

// Erase erases the supporter with id, in one transaction. Erasing an erased
// supporter is a success that changes nothing.
func (x *Eraser) Erase(id string) (Result, error) {
	res := Result{Supporter: id}
	err := x.App.RunInTransaction(func(tx core.App) error {
		res = Result{Supporter: id}
		sup, err := tx.FindRecordById(vocab.Supporters, id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if sup.GetString("status") == vocab.StatusErased {
			res.AlreadyErased = true
			return nil
		}
		return x.erase(tx, sup, &res)
	})
	if err != nil {
		return Result{}, err
	}
	if !res.AlreadyErased {
		x.App.Logger().Info("supporter erased", "supporter", id, "gift_aid_kept_until", res.KeptUntil)
	}
	return res, nil
}

func (x *Eraser) erase(tx core.App, sup *core.Record, res *Result) error {
	now := time.Now()
	if x.Now != nil {
		now = x.Now()
	}
	email := sup.GetString("email")
	if err := x.suppress(tx, email, now); err != nil {
		return err
	}
	consents, err := tx.FindAllRecords(vocab.Consents, dbx.HashExp{"supporter": sup.Id})
	if err != nil {
		return err
	}
	for _, c := range consents {
		if err := Anonymise(tx, c); err != nil {
			return err
		}
	}
	res.ConsentsAnonymised = len(consents)
	if res.DeliveriesAnonymised, err = update(tx, vocab.Deliveries, dbx.Params{"email": "", "last_error": ""}, dbx.HashExp{"supporter": sup.Id}); err != nil {
		return err
	}
	if res.TrackingDeleted, err = deleteRows(tx, vocab.TrackingEvents, dbx.HashExp{"supporter": sup.Id}); err != nil {
		return err
	}
	if res.EmailsCancelled, res.EmailsAnonymised, err = clearOutbox(tx, sup.Id, email); err != nil {
		return err
	}
	for _, coll := range []string{vocab.Donations, vocab.Pledges} {
		if _, err := update(tx, coll, dbx.Params{"notes": ""}, dbx.HashExp{"supporter": sup.Id}); err != nil {
			return err
		}
	}
	note := "Erased on request on " + now.UTC().Format(time.DateOnly) + "."
	if err := x.declarations(tx, sup.Id, now, res); err != nil {
		return err
	}
	if res.KeptUntil != "" {
		note += fmt.Sprintf(" %d Gift Aid declaration(s) kept for HMRC until %s.", res.DeclarationsKept, res.KeptUntil)
	}
	sup.Set("email", Placeholder(sup.Id))
	for _, f := range []string{"first_name", "last_name", "address", "postcode", "tags", "topics"} {
		sup.Set(f, nil)
	}
	sup.Set("notes", note)
	sup.Set("status", vocab.StatusErased)
	return tx.Save(sup)
}

// suppress adds the address's hash to the suppression list, unless it is
// there already (complained, say): suppressions are never edited.
func (x *Eraser) suppress(tx core.App, email string, now time.Time) error {
	hash := x.Hash(email)
	n, err := tx.CountRecords(vocab.Suppressions, dbx.HashExp{"email_hash": hash})
	if err != nil || n > 0 {
		return err
	}
	col, err := tx.FindCachedCollectionByNameOrId(vocab.Suppressions)
	if err != nil {
		return err
	}
	r := core.NewRecord(col)
	r.Set("email_hash", hash)
	r.Set("reason", vocab.SuppressErased)
	r.Set("note", "Erased on request on "+now.UTC().Format(time.DateOnly)+".")
	return tx.Save(r)
}

// Anonymise clears a consent row's personal data: the address, the names
// given, IP and user agent. What was agreed to, when and how stays. The
// consent guard allows this change and no other.
func Anonymise(tx core.App, consent *core.Record) error {
	consent.Set("email", "")
	consent.Set("details", nil)
	consent.Set("ip", "")
	consent.Set("user_agent", "")
	return tx.Save(consent)
}

// clearOutbox keeps the record that mail was sent (kind, status, times) and
// drops what it said and to whom; mail not yet handed to SMTP is cancelled.
// A message being sent meanwhile goes, and its worker records that it did,
// writing only the outcome, never what was cleared here.
func clearOutbox(tx core.App, supporterID, email string) (cancelled, cleared int, err error) {
	placeholder := Placeholder(supporterID)
	cleared, err = update(tx, vocab.Outbox, dbx.Params{
		"to": placeholder, "to_name": "", "subject": "(erased)", "html": "", "text": "", "headers": nil, "unsubscribe_url": "", "last_error": "",
		"updated": types.NowDateTime().String(),
	}, dbx.Or(dbx.HashExp{"supporter": supporterID}, dbx.HashExp{"to": email}))
	if err != nil {
		return 0, 0, err
	}
	cancelled, err = update(tx, vocab.Outbox,
		dbx.Params{"status": vocab.OutboxCancelled, "last_error": "cancelled: supporter erased"},
		dbx.And(dbx.HashExp{"to": placeholder}, outbox.Waiting()))
	return cancelled, cleared, err
}

// declarations keeps a supporter's Gift Aid declarations while HMRC needs
// them, and deletes them otherwise.
func (x *Eraser) declarations(tx core.App, supporterID string, now time.Time, res *Result) error {
	since := now.AddDate(-HMRCRetention, 0, 0).UTC().Format(types.DefaultDateLayout)
	var last string
	err := tx.DB().Select("coalesce(max(donated_on), '')").From(vocab.Donations).
		Where(dbx.HashExp{"supporter": supporterID}).
		AndWhere(dbx.NewExp("gift_aid_claim != '' AND donated_on >= {:since}", dbx.Params{"since": since})).
		Row(&last)
	if err != nil {
		return err
	}
	decls, err := tx.FindAllRecords(vocab.Declarations, dbx.HashExp{"supporter": supporterID})
	if err != nil || len(decls) == 0 {
		return err
	}
	if last != "" {
		lastClaimed, err := types.ParseDateTime(last)
		if err != nil {
			return err
		}
		res.DeclarationsKept = len(decls)
		res.KeptUntil = lastClaimed.Time().AddDate(HMRCRetention, 0, 0).Format(time.DateOnly)
		return nil
	}
	for _, d := range decls {
		if err := tx.Delete(d); err != nil {
			return err
		}
	}
	res.DeclarationsDeleted = len(decls)
	_, err = update(tx, vocab.Donations, dbx.Params{"gift_aid_eligible": false}, dbx.HashExp{"supporter": supporterID, "gift_aid_claim": ""})
	return err
}

func update(tx core.App, table string, set dbx.Params, where dbx.Expression) (int, error) {
	r, err := tx.DB().Update(table, set, where).Execute()
	if err != nil {
		return 0, fmt.Errorf("failed to update %s: %w", table, err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}

func deleteRows(tx core.App, table string, where dbx.Expression) (int, error) {
	r, err := tx.DB().Delete(table, where).Execute()
	if err != nil {
		return 0, fmt.Errorf("failed to delete from %s: %w", table, err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
