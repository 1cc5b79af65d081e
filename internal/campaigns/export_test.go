package campaigns

import (
	"math"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// RecordSentForTest writes one "sent" result through the writer's own
// statements, as if the delivery had been read at rowid.
func RecordSentForTest(app core.App, campaignID, deliveryID string, rowid int64, messageID string) error {
	r := &runner{e: &Engine{App: app}, id: campaignID}
	defer func() {
		for _, s := range []interface{ Close() error }{r.updateStmt, r.byIDStmt} {
			if s != nil {
				s.Close()
			}
		}
	}()
	return r.record([]result{{job: job{ID: deliveryID, RowID: rowid}, kind: sent, messageID: messageID}})
}

// SnapshotForTest writes the deliveries of c's whole audience (its segment
// included) in one transaction, through the snapshot's own insert, without
// the engine (c may be a draft, which the engine leaves alone).
func SnapshotForTest(app core.App, c *core.Record) (int64, error) {
	a, err := audienceIn(app, c)
	if err != nil {
		return 0, err
	}
	var n int64
	err = app.RunInTransaction(func(tx core.App) error {
		prefix, err := deliveryPrefix(tx)
		if err != nil {
			return err
		}
		n, err = insertChunk(tx, c.Id, prefix, a, 0, math.MaxInt64, dbTime(time.Now()))
		return err
	})
	return n, err
}
