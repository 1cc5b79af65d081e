package campaigns

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// Snapshot fixes a campaign's audience: one queued delivery for every
// subscribed supporter in any of its topics (and, when it has tags, with one
// of them), written by a single INSERT ... SELECT in the caller's
// transaction. Running it twice adds no one twice (the unique
// campaign+supporter index). It returns the audience size.
func Snapshot(tx core.App, campaignID string, topicIDs, tags []string) (int, error) {
	if len(topicIDs) == 0 {
		return 0, fmt.Errorf("campaign %s has no topics", campaignID)
	}
	now := time.Now().UTC().Format(types.DefaultDateLayout)
	prefix, err := deliveryPrefix(tx)
	if err != nil {
		return 0, err
	}
	// Delivery ids are a prefix of the campaign's own, unused by any other
	// delivery, and the supporter's rowid in 9 hex digits: unique, and rising
	// in the order the rows are written, so sending in id order is sending
	// in storage order and each batch of results rewrites a few neighbouring
	// pages instead of one page a row.
	_, err = tx.DB().NewQuery(`
		INSERT OR IGNORE INTO {{deliveries}} (id, campaign, supporter, email, status, created, updated)
		SELECT {:prefix} || printf('%09x', s.rowid), {:campaign}, s.id, s.email, {:queued}, {:now}, {:now}
		FROM {{supporters}} s
		WHERE s.status = {:subscribed}
		  AND EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(s.topics) THEN s.topics ELSE '[]' END) t
		              WHERE t.value IN (SELECT value FROM json_each({:topics})))
		  AND ({:tags} = '[]' OR EXISTS (
		      SELECT 1 FROM json_each(CASE WHEN json_valid(s.tags) THEN s.tags ELSE '[]' END) g
		      WHERE g.value IN (SELECT value FROM json_each({:tags}))))`).
		Bind(dbx.Params{
			"campaign": campaignID, "queued": vocab.DeliveryQueued, "now": now, "prefix": prefix,
			"subscribed": vocab.StatusSubscribed, "topics": jsonList(topicIDs), "tags": jsonList(tags),
		}).Execute()
	if err != nil {
		return 0, fmt.Errorf("failed to snapshot the audience: %w", err)
	}
	var total int
	err = tx.DB().Select("count(*)").From(vocab.Deliveries).Where(dbx.HashExp{"campaign": campaignID}).Row(&total)
	return total, err
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
