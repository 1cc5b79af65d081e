package pb_migrations

import (
	"time"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/signup"
)

// Addresses stored before the signup checks refused their shape (an RFC
// 2047 encoded word such as =?utf-8?q?victim?=@example.org, a display name,
// a comment, quotes) were hashed and checked against suppressions as typed
// but may be delivered elsewhere. This finds them and keeps mail from
// reaching anyone suppressed, erased or unsubscribed that way; the rest are
// tagged for staff (signup.RepairMisreadAddresses says how). Down changes
// nothing: the suppressions it added are evidence, kept like any other.
func init() {
	m.Register(func(app core.App) error {
		rep, err := signup.RepairMisreadAddresses(app, time.Now())
		if err != nil {
			return err
		}
		if rep.Stopped+rep.Flagged > 0 {
			app.Logger().Warn("address check: supporters with addresses that read as other addresses are tagged "+signup.CheckAddressTag+" for staff",
				"stopped", rep.Stopped, "flagged", rep.Flagged, "outbox_cancelled", rep.Cancelled, "suppressed", rep.Suppressed)
		}
		return nil
	}, func(core.App) error { return nil })
}
