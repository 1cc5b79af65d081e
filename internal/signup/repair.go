package signup

import (
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/clip"
	"supportercrm/internal/vocab"
)

// CheckAddressTag is the tag on a supporter whose stored address reads as
// another address, for staff to correct it (or erase the row).
const CheckAddressTag = "check-address"

// RepairReport says what RepairMisreadAddresses found and did.
type RepairReport struct {
	// Stopped supporters reach an address that must not be mailed (or one
	// nobody can tell): their stored address is now suppressed too.
	Stopped int `json:"stopped"`
	// Flagged supporters reach another address that may be mailed; mail
	// goes on, and staff are asked to correct the address.
	Flagged int `json:"flagged"`
	// Cancelled is the queued outbox messages cancelled.
	Cancelled int `json:"cancelled"`
	// Suppressed is the stored shapes added to the suppression list
	// (campaign deliveries queued to them are then skipped at send time).
	Suppressed int `json:"suppressed"`
}

// Suppression notes and outbox reasons the repair writes; no address.
const (
	repairSuppressionNote = "Added by the address check: a stored address that reads as another address, which must not be mailed."
	repairCancelReason    = "cancelled: the address reads as another address, which must not be mailed"
)

// RepairMisreadAddresses finds the addresses stored before NormalizeEmail
// refused their shape (encoded words, display names, comments, quotes,
// capitals, invisible characters: see misread), in supporters and in mail
// still queued to them, and works out the address each really reaches
// (reaches). Where that address is suppressed, was erased, or belongs to a
// supporter who unsubscribed, bounced or complained, or can't be told, the
// stored shape is suppressed too and queued outbox mail to it cancelled,
// so it is never mailed. Every such supporter keeps its status and gets the
// CheckAddressTag and a note saying what was found, for staff. It writes
// with targeted updates (no record hooks), so app may be a migration's
// transaction. Running it again changes nothing.
func RepairMisreadAddresses(app core.App, now time.Time) (RepairReport, error) {
	r := &repair{app: app, now: types.NowDateTime().String(), day: now.UTC().Format(time.DateOnly)}
	if err := r.supporters(); err != nil {
		return r.rep, err
	}
	if err := r.outbox(); err != nil {
		return r.rep, err
	}
	return r.rep, r.deliveries()
}

type repair struct {
	app      core.App
	now, day string
	rep      RepairReport
}

// oddExp preselects, in SQL, addresses with a character outside the usual
// ones; misread then judges them exactly.
func oddExp(col string) dbx.Expression {
	return dbx.NewExp("[[" + col + "]] GLOB '*[^a-z0-9.@_+-]*'")
}

func (r *repair) supporters() error {
	var rows []struct {
		ID     string `db:"id"`
		Email  string `db:"email"`
		Tags   string `db:"tags"`
		Notes  string `db:"notes"`
		Status string `db:"status"`
	}
	err := r.app.DB().Select("id", "email", "tags", "notes", "status").From(vocab.Supporters).
		Where(dbx.And(oddExp("email"), dbx.Not(dbx.HashExp{"status": vocab.StatusErased}))).All(&rows)
	if err != nil {
		return err
	}
	for _, s := range rows {
		if !misread(s.Email) {
			continue
		}
		stop, why, err := r.judge(s.Email)
		if err != nil {
			return err
		}
		note := "Address check " + r.day + ": this address is written in a form (an encoded word, a name, a comment, quotes or capitals) that mail software may read as another address"
		if stop {
			if err := r.stop(s.Email, s.ID); err != nil {
				return err
			}
			r.rep.Stopped++
			note += ", and " + why + ". It is now suppressed and mail queued to it was cancelled. Correct the address, or erase this supporter."
		} else {
			r.rep.Flagged++
			note += "; " + why + ". Mail to it goes on: correct it to the plain address."
		}
		if err := r.mark(s.ID, s.Tags, s.Notes, note); err != nil {
			return err
		}
	}
	return nil
}

// judge says whether mail to a misread address must stop, and why.
func (r *repair) judge(stored string) (bool, string, error) {
	addr, ok := reaches(stored)
	if !ok {
		return true, "nobody can tell which address mail to it reaches", nil
	}
	suppressed, err := IsSuppressed(r.app, addr)
	if err != nil {
		return false, "", err
	}
	if suppressed {
		return true, "the address it reads as is suppressed (erased, complained, bounced or added by staff)", nil
	}
	var status string
	err = r.app.DB().Select("status").From(vocab.Supporters).Where(dbx.HashExp{"email": addr}).Row(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, "no other supporter has the address it reads as", nil
	case err != nil:
		return false, "", err
	case status == vocab.StatusSubscribed || status == vocab.StatusPending:
		return false, "another supporter has the address it reads as (merge the two)", nil
	}
	return true, "the address it reads as belongs to a supporter who is " + status, nil
}

// stop suppresses a stored shape and cancels outbox mail queued to it.
func (r *repair) stop(stored, supporterID string) error {
	if err := r.suppress(stored); err != nil {
		return err
	}
	where := dbx.HashExp{"to": stored}
	if supporterID != "" {
		return r.cancel(dbx.And(dbx.HashExp{"status": vocab.OutboxQueued}, dbx.Or(where, dbx.HashExp{"supporter": supporterID})))
	}
	return r.cancel(dbx.And(dbx.HashExp{"status": vocab.OutboxQueued}, where))
}

func (r *repair) suppress(stored string) error {
	res, err := r.app.DB().NewQuery("INSERT OR IGNORE INTO {{" + vocab.Suppressions + "}} (id, email_hash, reason, note, created) VALUES ({:id}, {:hash}, {:reason}, {:note}, {:now})").
		Bind(dbx.Params{"id": core.GenerateDefaultRandomId(), "hash": HashEmail(stored), "reason": vocab.SuppressManual, "note": repairSuppressionNote, "now": r.now}).Execute()
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	r.rep.Suppressed += int(n)
	return nil
}

func (r *repair) cancel(where dbx.Expression) error {
	res, err := r.app.DB().Update(vocab.Outbox, dbx.Params{"status": vocab.OutboxCancelled, "last_error": repairCancelReason, "updated": r.now}, where).Execute()
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	r.rep.Cancelled += int(n)
	return nil
}

// mark tags a supporter for staff and adds the note, once.
func (r *repair) mark(id, tagsJSON, notes, note string) error {
	var tags []string
	_ = json.Unmarshal([]byte(tagsJSON), &tags) // a cell that isn't a list is replaced
	if slices.Contains(tags, CheckAddressTag) {
		return nil
	}
	raw, _ := json.Marshal(append(tags, CheckAddressTag))
	if notes = strings.TrimSpace(notes); notes != "" {
		note = notes + "\n\n" + note
	}
	_, err := r.app.DB().Update(vocab.Supporters, dbx.Params{"tags": string(raw), "notes": clip.Runes(note, 10000), "updated": r.now}, dbx.HashExp{"id": id}).Execute()
	return err
}

// outbox stops queued messages to a misread address not on file as a
// supporter's (staff alerts, or a supporter's address changed since).
func (r *repair) outbox() error {
	var rows []struct {
		ID string `db:"id"`
		To string `db:"to"`
	}
	err := r.app.DB().Select("id", "to").From(vocab.Outbox).Where(dbx.And(dbx.HashExp{"status": vocab.OutboxQueued}, oddExp("to"))).All(&rows)
	if err != nil {
		return err
	}
	for _, m := range rows {
		if !misread(m.To) {
			continue
		}
		if stop, _, err := r.judge(m.To); err != nil {
			return err
		} else if stop {
			if err := r.cancel(dbx.HashExp{"id": m.ID, "status": vocab.OutboxQueued}); err != nil {
				return err
			}
		}
	}
	return nil
}

// deliveries suppresses misread addresses that campaigns not yet finished
// still have queued, so the engine's send-time check skips (and counts) them.
func (r *repair) deliveries() error {
	var emails []string
	err := r.app.DB().Select("email").Distinct(true).From(vocab.Deliveries).Where(dbx.And(
		dbx.NewExp("campaign IN (SELECT id FROM {{"+vocab.Campaigns+"}} WHERE status IN ({:scheduled}, {:sending}, {:paused}))",
			dbx.Params{"scheduled": vocab.CampaignScheduled, "sending": vocab.CampaignSending, "paused": vocab.CampaignPaused}),
		dbx.HashExp{"status": vocab.DeliveryQueued}, oddExp("email"),
	)).Column(&emails)
	if err != nil {
		return err
	}
	for _, e := range emails {
		if !misread(e) {
			continue
		}
		if stop, _, err := r.judge(e); err != nil {
			return err
		} else if stop {
			if err := r.suppress(e); err != nil {
				return err
			}
		}
	}
	return nil
}
