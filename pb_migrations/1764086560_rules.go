package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Admins manage topics, deleting included (a topic in use can't be deleted:
// signup.BindGuards). Consents and suppressions need no rule change: their
// API writes are refused by request hooks, which bind superusers too.
func init() {
	m.Register(func(app core.App) error {
		return setTopicDeleteRule(app, ruleAdmin)
	}, func(app core.App) error {
		return setTopicDeleteRule(app, nil)
	})
}

func setTopicDeleteRule(app core.App, rule *string) error {
	topics, err := app.FindCollectionByNameOrId(vocab.Topics)
	if err != nil {
		return err
	}
	topics.DeleteRule = rule
	return app.Save(topics)
}
