package signup

import (
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
	"github.com/pocketbase/pocketbase/tools/router"

	"supportercrm/internal/vocab"
)

// bindAPIGuards binds what API rules can't say, because superusers bypass
// rules (and the dashboard is the API): consent rows and the suppression
// list stay as the app wrote them, and a topic anything refers to stays.
func bindAPIGuards(app core.App) {
	// Consent rows are written only by the app's own Go code (signup,
	// confirm, preferences, unsubscribe, import, erasure); through the API a
	// row could be forged, altered or removed.
	refuseConsent := func(e *core.RecordRequestEvent) error {
		return e.ForbiddenError("Consent records are evidence written by the app itself: they can't be created, edited or deleted through the API or the dashboard.", nil)
	}
	app.OnRecordCreateRequest(vocab.Consents).BindFunc(refuseConsent)
	app.OnRecordUpdateRequest(vocab.Consents).BindFunc(refuseConsent)
	app.OnRecordDeleteRequest(vocab.Consents).BindFunc(refuseConsent)
	// An erased, complained or hard-bounced address must never be mailed
	// again; removing its suppression would let the next import bring it back.
	app.OnRecordDeleteRequest(vocab.Suppressions).BindFunc(func(e *core.RecordRequestEvent) error {
		return e.ForbiddenError("Suppressed addresses stay suppressed: a suppression can't be deleted.", nil)
	})
	app.OnRecordDelete(vocab.Topics).BindFunc(func(e *core.RecordEvent) error {
		if err := checkTopicUnused(e.App, e.Record); err != nil {
			return err
		}
		return e.Next()
	})
}

// checkTopicUnused refuses to delete a topic that any record refers to:
// PocketBase would silently drop it from supporters' choices, and consent
// rows, campaigns and schedules would lose their audience. Unticking public
// retires a topic instead.
func checkTopicUnused(app core.App, topic *core.Record) error {
	refs, err := app.FindCollectionReferences(topic.Collection())
	if err != nil {
		return err
	}
	var users []string
	for coll, fields := range refs {
		if coll.IsView() {
			continue
		}
		for _, f := range fields {
			// As PocketBase itself finds the records a delete cascades to.
			var n int
			err := app.DB().Select("count(*)").From(coll.Name).
				AndWhere(dbx.Exists(dbx.NewExp("SELECT 1 FROM "+dbutils.JSONEach(coll.Name+"."+f.GetName())+" {{__je__}} WHERE [[__je__.value]]={:id}", dbx.Params{"id": topic.Id}))).
				Row(&n)
			if err != nil {
				return err
			}
			if n > 0 {
				users = append(users, fmt.Sprintf("%d %s", n, coll.Name))
			}
		}
	}
	if len(users) == 0 {
		return nil
	}
	return router.NewBadRequestError(fmt.Sprintf("This topic is in use (%s), so it can't be deleted: untick public to take it off the forms instead.", strings.Join(users, ", ")), nil)
}
