package pb_migrations

import (
	"slices"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// The outbox worker claims a message (status sending) before handing it to
// the relay and writes only the outcome columns afterwards; a welcome email
// keeps its one-click unsubscribe link, from which the worker builds the
// List-Unsubscribe headers at send time. The charity record gets a read-only
// field where the dashboard says whether the links in emails will work.
func init() {
	m.Register(func(app core.App) error {
		outbox, err := app.FindCollectionByNameOrId(vocab.Outbox)
		if err != nil {
			return err
		}
		status := outbox.Fields.GetByName("status").(*core.SelectField)
		status.Values = []string{vocab.OutboxQueued, vocab.OutboxSending, vocab.OutboxSent, vocab.OutboxFailed, vocab.OutboxCancelled}
		at := slices.IndexFunc(outbox.Fields, func(f core.Field) bool { return f.GetName() == "headers" })
		outbox.Fields.AddAt(at+1, &core.TextField{Name: "unsubscribe_url", Max: 2000,
			Help: "For mail that belongs to a subscription (the welcome): the one-click unsubscribe link, sent as List-Unsubscribe."})
		if err := app.Save(outbox); err != nil {
			return err
		}

		charity, err := app.FindCollectionByNameOrId(vocab.Charity)
		if err != nil {
			return err
		}
		// Not a hidden field, which the dashboard blurs: the app shows it to
		// superusers only (outbox.BindAppURLNotice).
		charity.Fields.Add(&core.TextField{Name: "email_links",
			Help: "Filled in by the app from Settings > Application > Application URL, which every link in every email starts with. What you type here is ignored."})
		return app.Save(charity)
	}, func(app core.App) error {
		outbox, err := app.FindCollectionByNameOrId(vocab.Outbox)
		if err != nil {
			return err
		}
		// A claim of a worker that is no longer running is simply queued again.
		if _, err := app.DB().Update(vocab.Outbox, dbx.Params{"status": vocab.OutboxQueued}, dbx.HashExp{"status": vocab.OutboxSending}).Execute(); err != nil {
			return err
		}
		status := outbox.Fields.GetByName("status").(*core.SelectField)
		status.Values = slices.DeleteFunc(status.Values, func(v string) bool { return v == vocab.OutboxSending })
		outbox.Fields.RemoveByName("unsubscribe_url")
		if err := app.Save(outbox); err != nil {
			return err
		}
		charity, err := app.FindCollectionByNameOrId(vocab.Charity)
		if err != nil {
			return err
		}
		charity.Fields.RemoveByName("email_links")
		return app.Save(charity)
	})
}
