package campaigns

import (
	"encoding/json"
	"fmt"
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
	// The rows go in in the order of their (random) ids, so the table's
	// storage order is the order they are sent in: each batch of results
	// then rewrites a few neighbouring pages instead of one page a row.
	_, err := tx.DB().NewQuery(`
		INSERT OR IGNORE INTO {{deliveries}} (id, campaign, supporter, email, status, created, updated)
		WITH audience AS MATERIALIZED (
		    SELECT substr(lower(hex(randomblob(8))), 1, 15) AS id, s.id AS supporter, s.email AS email
		    FROM {{supporters}} s
		    WHERE s.status = {:subscribed}
		      AND EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(s.topics) THEN s.topics ELSE '[]' END) t
		                  WHERE t.value IN (SELECT value FROM json_each({:topics})))
		      AND ({:tags} = '[]' OR EXISTS (
		          SELECT 1 FROM json_each(CASE WHEN json_valid(s.tags) THEN s.tags ELSE '[]' END) g
		          WHERE g.value IN (SELECT value FROM json_each({:tags})))))
		SELECT id, {:campaign}, supporter, email, {:queued}, {:now}, {:now} FROM audience ORDER BY id`).
		Bind(dbx.Params{
			"campaign": campaignID, "queued": vocab.DeliveryQueued, "now": now,
			"subscribed": vocab.StatusSubscribed, "topics": jsonList(topicIDs), "tags": jsonList(tags),
		}).Execute()
	if err != nil {
		return 0, fmt.Errorf("failed to snapshot the audience: %w", err)
	}
	var total int
	err = tx.DB().Select("count(*)").From(vocab.Deliveries).Where(dbx.HashExp{"campaign": campaignID}).Row(&total)
	return total, err
}

func jsonList(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
