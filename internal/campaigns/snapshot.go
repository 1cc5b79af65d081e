package campaigns

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// The snapshot fixes a campaign's audience: one queued delivery for every
// subscribed supporter in any of its topics (and, when it has tags, with one
// of them). It is written in chunks of supporters (keyset by supporter
// rowid), one short write transaction each (see nextChunk), so that signups
// and unsubscribes get the database's single writer between them. Each chunk
// moves the cursor stored on the campaign (snapshot_cursor, the last rowid
// done) in the same transaction as its rows, so a crash loses no chunk and
// repeats none: the next process resumes from the cursor. The campaign
// shows as "preparing" meanwhile, its total growing, then "sending"; the
// run sends each chunk once it is committed (see snapshotProgress).
//
// A supporter who subscribes while the cursor is short of their row is
// included; one whose row it has passed is not. The send-time check (run.go)
// still drops anyone who unsubscribes after their chunk.

// prepare writes a preparing campaign's audience, chunk by chunk, until it
// is done (ready: the campaign is now sending, or already was), ctx ends,
// or the campaign is no longer this process's to prepare.
// chunked is called after each chunk is committed.
func (e *Engine) prepare(ctx context.Context, id string, chunked func()) (ready bool, err error) {
	size := min(250, e.Config.SnapshotChunk) // then sized by how long chunks take
	for ctx.Err() == nil {
		began := time.Now()
		state, err := e.snapshotChunk(id, size)
		if err != nil || state != chunkMore {
			return state == chunkReady, err
		}
		chunked()
		size = nextChunk(size, time.Since(began), e.Config.SnapshotChunk)
		sleep(ctx, e.Config.SnapshotPause)
	}
	return false, nil
}

// chunkBudget is how long one chunk should hold the writer: what a signup
// or unsubscribe that arrives meanwhile waits, at most, for it.
const chunkBudget = 20 * time.Millisecond

// nextChunk sizes the next chunk from how long the last one took, so that
// each takes about chunkBudget on this machine under its load: halved when
// it took longer, doubled when it took under half, between 50 rows and most.
func nextChunk(size int, took time.Duration, most int) int {
	switch {
	case took > chunkBudget:
		return max(min(50, most), size/2)
	case took < chunkBudget/2:
		return min(most, size*2)
	}
	return size
}

// What a chunk leaves to do.
const (
	chunkMore  = iota // more supporters to read
	chunkReady        // the audience is complete: send
	chunkStop         // not ours to work on (cancelled, failed, another's lease)
)

// snapshotChunk writes the deliveries of the next size supporters after the
// campaign's cursor, in one transaction.
func (e *Engine) snapshotChunk(id string, size int) (state int, err error) {
	err = e.App.RunInTransaction(func(tx core.App) error {
		now := dbTime(time.Now())
		// The first statement writes, so the transaction holds the writer
		// from its start and reads the latest rows (another process may
		// write the same database).
		res, err := tx.DB().NewQuery(`UPDATE {{campaigns}} SET updated = {:now} WHERE id = {:id} AND lease_holder = {:me} AND status IN ({:preparing}, {:sending})`).
			Bind(dbx.Params{"id": id, "me": e.holder, "now": now, "preparing": vocab.CampaignPreparing, "sending": vocab.CampaignSending}).Execute()
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			state = chunkStop
			return err
		}
		c, err := tx.FindRecordById(vocab.Campaigns, id)
		if err != nil {
			return err
		}
		if c.GetString("status") == vocab.CampaignSending {
			state = chunkReady
			return nil
		}
		a, err := AudienceOf(c)
		if err != nil {
			state = chunkStop
			return finishIn(tx, id, vocab.CampaignFailed, "its audience can't be read, so it was not sent to anyone: "+err.Error())
		}
		from := int64(c.GetInt("snapshot_cursor"))
		var to sql.NullInt64
		err = tx.DB().NewQuery(`SELECT max(rowid) FROM (SELECT rowid FROM {{supporters}} WHERE rowid > {:from} ORDER BY rowid LIMIT {:n})`).
			Bind(dbx.Params{"from": from, "n": size}).Row(&to)
		if err != nil {
			return err
		}
		if !to.Valid { // no supporter after the cursor: done
			state = chunkReady
			_, err = tx.DB().NewQuery(`UPDATE {{campaigns}} SET status = {:sending}, updated = {:now} WHERE id = {:id}`).
				Bind(dbx.Params{"id": id, "now": now, "sending": vocab.CampaignSending}).Execute()
			return err
		}
		prefix := c.GetString("snapshot_prefix")
		if prefix == "" { // the first chunk
			if prefix, err = deliveryPrefix(tx); err != nil {
				return err
			}
		}
		added, err := insertChunk(tx, c.Id, prefix, a, from, to.Int64, now)
		if err != nil {
			return err
		}
		state = chunkMore
		_, err = tx.DB().NewQuery(`UPDATE {{campaigns}} SET snapshot_prefix = {:prefix}, snapshot_cursor = {:to}, total = total + {:added} WHERE id = {:id}`).
			Bind(dbx.Params{"id": id, "prefix": prefix, "to": to.Int64, "added": added}).Execute()
		return err
	})
	if err != nil {
		return chunkStop, fmt.Errorf("failed to snapshot the audience: %w", err)
	}
	return state, nil
}

// insertChunk writes the deliveries of the audience's supporters with
// rowids in (from, to] and returns how many it wrote. Running it twice adds
// no one twice (the unique campaign+supporter index).
//
// Delivery ids are the campaign's prefix, unused by any other delivery, and
// the supporter's rowid in 9 hex digits: unique, and rising in the order the
// rows are written, so sending in id order is sending in storage order and
// each batch of results rewrites a few neighbouring pages instead of one
// page a row.
func insertChunk(tx core.App, campaignID, prefix string, a Audience, from, to int64, now string) (int64, error) {
	if len(prefix) != 6 {
		return 0, errors.New("the campaign has no delivery prefix")
	}
	res, err := tx.DB().NewQuery(`
		INSERT OR IGNORE INTO {{deliveries}} (id, campaign, supporter, email, status, created, updated)
		SELECT {:prefix} || printf('%09x', s.rowid), {:campaign}, s.id, s.email, {:queued}, {:now}, {:now}
		FROM {{supporters}} s
		WHERE s.rowid > {:from} AND s.rowid <= {:to} AND ` + audienceSQL).
		Bind(a.params(dbx.Params{
			"campaign": campaignID, "queued": vocab.DeliveryQueued, "now": now, "prefix": prefix, "from": from, "to": to,
		})).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// deliveryPrefix picks 6 random characters that start no delivery id yet
// (36^6 of them: a clash is rare, and checked in the caller's transaction).
func deliveryPrefix(tx core.App) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for range 10 {
		b := make([]byte, 6)
		for i := range b {
			b[i] = alphabet[rand.IntN(len(alphabet))]
		}
		prefix := string(b)
		var taken int
		err := tx.DB().NewQuery(`SELECT count(*) FROM (SELECT 1 FROM {{deliveries}} WHERE id >= {:lo} AND id < {:hi} LIMIT 1)`).
			Bind(dbx.Params{"lo": prefix, "hi": prefix + "~"}).Row(&taken)
		if err != nil {
			return "", fmt.Errorf("failed to pick delivery ids: %w", err)
		}
		if taken == 0 {
			return prefix, nil
		}
	}
	return "", errors.New("failed to pick delivery ids: every prefix tried is in use")
}

func jsonList(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
