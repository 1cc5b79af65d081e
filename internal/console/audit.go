package console

import (
	"errors"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/clip"
	"supportercrm/internal/vocab"
)

// The audit trail: one row per staff action that matters (sent, paused or
// cancelled a campaign; erased, imported or exported; invited, changed a
// role, disabled). Rows are only ever added. The API rules let admins read
// them and nobody write them, and the guard below refuses an update or a
// delete from any code path, superusers' included, so the trail can't be
// tidied after the fact. Rows name records by collection/id, never by a
// supporter's address, so erasing a supporter leaves nothing here to erase.

// ErrAuditAppendOnly is the guard's refusal.
var ErrAuditAppendOnly = errors.New("the audit trail is append-only: rows can't be changed or deleted")

// Audit records that staff did action (e.g. "campaign.send") to target
// (e.g. "campaigns/<id>"), with a short detail for people. Pass the
// transaction's app to record it atomically with the action. staff may be
// nil for the app's own actions.
func Audit(app core.App, staff *core.Record, action, target, detail string) error {
	return audit(app, staff, action, target, detail, "")
}

// AuditRequest is Audit for a console handler: the signed-in member, and
// the address the request came from. app is e.App, or the transaction's.
func AuditRequest(app core.App, e *core.RequestEvent, action, target, detail string) error {
	var rec *core.Record
	if m := Staff(e); m != nil {
		rec = m.Record
	}
	return audit(app, rec, action, target, detail, e.RealIP())
}

func audit(app core.App, staff *core.Record, action, target, detail, ip string) error {
	coll, err := app.FindCachedCollectionByNameOrId(vocab.Audit)
	if err != nil {
		return err
	}
	r := core.NewRecord(coll)
	if staff != nil {
		r.Set("staff", staff.Id)
		r.Set("staff_email", staff.Email())
	}
	r.Set("action", clip.Runes(action, 100))
	r.Set("target", clip.Runes(target, 300))
	r.Set("detail", clip.Runes(detail, 2000))
	r.Set("ip", ip)
	return app.Save(r)
}

// bindAuditGuard refuses every update and delete of an audit row, and
// rows offered through the REST API (superusers' too): only the app's own
// code writes the trail.
func bindAuditGuard(app core.App) {
	app.OnRecordCreateRequest(vocab.Audit).BindFunc(func(e *core.RecordRequestEvent) error {
		return e.ForbiddenError("Audit rows are written by the app itself, never through the API.", nil)
	})
	refuse := func(e *core.RecordEvent) error {
		return apis.NewBadRequestError(ErrAuditAppendOnly.Error(), ErrAuditAppendOnly) // errors.Is finds it
	}
	app.OnRecordUpdate(vocab.Audit).BindFunc(refuse)
	app.OnRecordDelete(vocab.Audit).BindFunc(refuse)
}
