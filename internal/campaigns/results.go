package campaigns

import (
	"context"
	"database/sql"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// write collects results and records them in batches: one transaction per
// FlushEvery results or FlushInterval, not one per message, so the single
// SQLite writer stays free for signups and the dashboard.
func (r *runner) write() {
	batch := make([]result, 0, r.e.Config.FlushEvery)
	tick := time.NewTicker(r.e.Config.FlushInterval)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		r.recordBatch(batch)
		for range batch {
			r.pending.Done()
		}
		batch = batch[:0]
	}
	for {
		select {
		case res, ok := <-r.results:
			if !ok {
				flush()
				return
			}
			batch = append(batch, res)
			if len(batch) >= r.e.Config.FlushEvery {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// recordTries is how many failed writes of a batch pause the campaign.
const recordTries = 5

// recordBatch writes a batch, trying again until it is recorded: a message
// sent but not recorded would go again. While it tries, the results channel
// fills and the senders wait on it, so no more than InFlightLimit messages
// go out unrecorded; after recordTries failures the campaign pauses with the
// reason and staff are alerted. Only the engine stopping ends the tries
// (the process is going: those rows stay queued and are sent again).
func (r *runner) recordBatch(batch []result) {
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := r.record(batch)
		if err == nil {
			return
		}
		r.e.App.Logger().Error("campaigns: failed to record results", "campaign", r.id, "error", err.Error(), "attempt", attempt)
		if attempt == recordTries {
			r.pause("paused: sending stopped because its results could not be recorded: "+err.Error(),
				"A campaign has paused: its results could not be recorded",
				"Sending campaign "+r.id+" paused itself because the database refused to record which messages were sent (error: "+err.Error()+
					"). Nothing more goes out until the results are recorded; the engine keeps trying. "+
					"Once the database accepts writes again (check the disk space and the data directory's permissions), "+
					"set the campaign's status back to \"sending\" in the dashboard to resume.")
		}
		if r.stopping.Err() != nil {
			r.e.App.Logger().Warn("campaigns: results left unrecorded at stop; those messages will be sent again", "campaign", r.id, "results", len(batch))
			return
		}
		sleep(r.stopping, wait)
		wait = min(2*wait, 5*time.Second)
	}
}

// Statements of record, in the deliveries table's and the campaigns
// table's own names. A delivery is written only while still queued, and a
// supporter marked bounced only from subscribed: a result never undoes what
// happened meanwhile (an unsubscribe, an erasure).
var (
	updateDeliverySQL = "UPDATE " + vocab.Deliveries + " SET status = ?, attempts = ?, last_error = ?, message_id = ?, sent_at = ?, " +
		"next_attempt_at = ?, updated = ? WHERE rowid = ? AND id = ? AND status = '" + vocab.DeliveryQueued + "'"
	updateByIDSQL = "UPDATE " + vocab.Deliveries + " SET status = ?, attempts = ?, last_error = ?, message_id = ?, sent_at = ?, " +
		"next_attempt_at = ?, updated = ? WHERE id = ? AND status = '" + vocab.DeliveryQueued + "'"
	updateCountersSQL = "UPDATE " + vocab.Campaigns + " SET sent = sent + ?, failed = failed + ?, bounced = bounced + ?, " +
		"skipped = skipped + ?, updated = ? WHERE id = ?"
	bounceSupporterSQL = "UPDATE " + vocab.Supporters + " SET status = ?, bounce_count = bounce_count + 1, updated = ? " +
		"WHERE id = ? AND status = '" + vocab.StatusSubscribed + "'"
	suppressSQL = "INSERT OR IGNORE INTO " + vocab.Suppressions + " (id, email_hash, reason, note, created) " +
		"VALUES (substr(lower(hex(randomblob(8))), 1, 15), ?, ?, ?, ?)"
)

// record writes one batch in one transaction on the app's single writer
// connection: each delivery's new state through an UPDATE prepared once per
// run (no record saves, no named-parameter maps), the campaign's counters,
// and for hard bounces a suppression and the supporter's status.
func (r *runner) record(batch []result) (err error) {
	db, err := rawDB(r.e.App.NonconcurrentDB())
	if err != nil {
		return err
	}
	updateStmt, err := prepareOnce(db, &r.updateStmt, updateDeliverySQL)
	if err != nil {
		return err
	}
	byIDStmt, err := prepareOnce(db, &r.byIDStmt, updateByIDSQL)
	if err != nil {
		return err
	}
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	update := tx.StmtContext(ctx, updateStmt)
	defer update.Close()
	var byID *sql.Stmt // prepared on the transaction when first needed
	defer func() {
		if byID != nil {
			byID.Close()
		}
	}()
	now := types.NowDateTime().String()
	var counts struct{ sent, failed, bounced, skipped int }
	for _, res := range batch {
		status, sentAt, next := vocab.DeliveryQueued, "", ""
		var count *int
		switch res.kind {
		case untouched:
			continue
		case sent:
			status, sentAt, count = vocab.DeliverySent, now, &counts.sent
			res.Attempts++
		case retry:
			next = res.next.UTC().Format(types.DefaultDateLayout)
		case failed:
			status, count = vocab.DeliveryFailed, &counts.failed
		case bounced:
			status, count = vocab.DeliveryBounced, &counts.bounced
		case skipped:
			status, count = vocab.DeliverySkipped, &counts.skipped
		}
		var done sql.Result
		if done, err = update.ExecContext(ctx, status, res.Attempts, res.err, res.messageID, sentAt, next, now, res.RowID, res.ID); err != nil {
			return err
		}
		n, _ := done.RowsAffected()
		if n == 0 { // the row moved (VACUUM renumbers rowids), or is gone or done
			if byID == nil {
				byID = tx.StmtContext(ctx, byIDStmt)
			}
			if done, err = byID.ExecContext(ctx, status, res.Attempts, res.err, res.messageID, sentAt, next, now, res.ID); err != nil {
				return err
			}
			if n, _ = done.RowsAffected(); n == 0 {
				continue // nothing to count: another result was written first
			}
		}
		if count != nil {
			*count++
		}
		if res.hard {
			if _, err = tx.ExecContext(ctx, bounceSupporterSQL, vocab.StatusBounced, now, res.Supporter); err != nil {
				return err
			}
			if r.e.Hash != nil {
				note := "campaign " + r.id + ": " + res.note // codes only: the server's text names the recipient
				if _, err = tx.ExecContext(ctx, suppressSQL, r.e.Hash(res.Email), vocab.SuppressHardBounce, note, now); err != nil {
					return err
				}
			}
		}
	}
	if counts != (struct{ sent, failed, bounced, skipped int }{}) {
		_, err = tx.ExecContext(ctx, updateCountersSQL, counts.sent, counts.failed, counts.bounced, counts.skipped, now, r.id)
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// CountUnsubscribe adds an unsubscribe to the campaign whose message's link
// was used, if that delivery went to this supporter (so a link can't be
// edited to count against another campaign).
func CountUnsubscribe(tx core.App, supporterID, deliveryID string) error {
	if deliveryID == "" {
		return nil
	}
	_, err := tx.DB().NewQuery(`UPDATE {{campaigns}} SET unsubscribed = unsubscribed + 1
		WHERE id = (SELECT campaign FROM {{deliveries}} WHERE id = {:d} AND supporter = {:s})`).
		Bind(dbx.Params{"d": deliveryID, "s": supporterID}).Execute()
	return err
}
