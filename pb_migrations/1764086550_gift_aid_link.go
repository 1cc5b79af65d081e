package pb_migrations

import (
	"slices"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// giftAidRequest is the preferences page's "email me a Gift Aid link" button:
// a public post, limited like the signup form's.
const giftAidRequest = "POST /gift-aid/request"

// The Gift Aid link a donor asks for is its own kind of outbox mail.
func init() {
	m.Register(func(app core.App) error {
		if err := setOutboxKinds(app, vocab.OutboxKinds); err != nil {
			return err
		}
		s := app.Settings()
		s.RateLimits.Rules = append(s.RateLimits.Rules, core.RateLimitRule{Label: giftAidRequest, MaxRequests: 20, Duration: 60})
		return app.Save(s)
	}, func(app core.App) error {
		s := app.Settings()
		s.RateLimits.Rules = slices.DeleteFunc(s.RateLimits.Rules, func(r core.RateLimitRule) bool { return r.Label == giftAidRequest })
		if err := app.Save(s); err != nil {
			return err
		}
		c, err := app.FindCollectionByNameOrId(vocab.Outbox)
		if err != nil {
			return err
		}
		kinds := c.Fields.GetByName("kind").(*core.SelectField).Values
		return setOutboxKinds(app, slices.DeleteFunc(slices.Clone(kinds), func(k string) bool { return k == vocab.KindGiftAidLink }))
	})
}
