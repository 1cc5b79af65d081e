// Command supportercrm is the charity's newsletter and supporter CRM:
// PocketBase (data, REST API, dashboard) with the signup pages, consent
// records and transactional mail wired in. Run `supportercrm serve`.
package main

import (
	"log"
	"os"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/pocketbase/pocketbase/tools/osutils"

	"supportercrm/internal/sqlitedb"
	"supportercrm/pb_hooks"
	_ "supportercrm/pb_migrations"
)

func main() {
	// As pocketbase.New, with statements kept compiled per connection (see sqlitedb).
	app := pocketbase.NewWithConfig(pocketbase.Config{DefaultDev: osutils.IsProbablyGoRun(), DBConnect: sqlitedb.Connect})
	keepStdoutForData(app.RootCmd)
	cfg, err := pb_hooks.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	app.RootCmd.PersistentFlags().StringVar(&cfg.TemplatesDir, "templates", cfg.TemplatesDir, "directory whose files override the built-in templates (env CRM_TEMPLATES_DIR)")
	_ = app.RootCmd.ParseFlags(os.Args[1:])
	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{Dir: "pb_migrations", Automigrate: osutils.IsProbablyGoRun()})
	if err := pb_hooks.Register(app, cfg); err != nil {
		log.Fatal(err)
	}
	cmds, err := pb_hooks.Commands(app, cfg)
	if err != nil {
		log.Fatal(err)
	}
	app.RootCmd.AddCommand(cmds...)
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}
