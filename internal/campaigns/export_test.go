package campaigns

import "github.com/pocketbase/pocketbase/core"

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
