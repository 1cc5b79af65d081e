package pb_hooks

import (
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/spf13/cobra"

	"supportercrm/internal/vocab"
)

// adminOnly lets superusers and admin staff through: anonymous callers get
// 401 (from RequireAuth, bound with it), comms staff 403. Bulk tools (import,
// export, erasure) are for admins alone.
func adminOnly() []*hook.Handler[*core.RequestEvent] {
	return []*hook.Handler[*core.RequestEvent]{
		apis.RequireAuth(core.CollectionNameSuperusers, vocab.Staff),
		{Func: func(e *core.RequestEvent) error {
			if !e.HasSuperuserAuth() && e.Auth.GetString("role") != vocab.RoleAdmin {
				return e.ForbiddenError("Only admins can do this.", nil)
			}
			return e.Next()
		}},
	}
}

// crmRoutes adds the admins' bulk tools under /api/crm/.
func crmRoutes(se *core.ServeEvent) {
	givingRoutes(se)
}

// crmCommands are the admins' bulk tools on the command line.
func crmCommands(app core.App) []*cobra.Command {
	return givingCommands(app)
}
