package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// The seed makes a fresh install usable at once: three public topics, the
// charity's identity (edit it in the dashboard), and rate limits on the public
// routes.
func init() {
	m.Register(func(app core.App) error {
		topics, err := app.FindCollectionByNameOrId(vocab.Topics)
		if err != nil {
			return err
		}
		for i, t := range []struct{ slug, name, desc string }{
			{"newsletter", "Our newsletter", "Monthly news of our work with survivors: how the safe houses are doing and what your support makes possible."},
			{"events", "Events", "Fundraisers, awareness evenings and sponsored walks near you."},
			{"appeals", "Urgent appeals", "The occasional email when we urgently need help, such as furnishing a new safe house."},
		} {
			r := core.NewRecord(topics)
			r.Set("slug", t.slug)
			r.Set("name", t.name)
			r.Set("description", t.desc)
			r.Set("public", true)
			r.Set("sort_order", i+1)
			if err := app.Save(r); err != nil {
				return err
			}
		}

		charity, err := app.FindCollectionByNameOrId(vocab.Charity)
		if err != nil {
			return err
		}
		c := core.NewRecord(charity)
		c.Set("name", "Lanternhouse Trust")
		c.Set("charity_number", "1209876")
		c.Set("postal_address", "Lanternhouse Trust, PO Box 4127, Leeds LS1 9XW, United Kingdom")
		c.Set("website", "https://www.lanternhouse.org.uk")
		c.Set("contact_email", "hello@lanternhouse.org.uk")
		c.Set("privacy_url", "https://www.lanternhouse.org.uk/privacy")
		c.Set("tagline", "Safe homes and new beginnings for survivors of human trafficking")
		c.Set("signup_intro", "Every month we share how the women and men in our safe houses are rebuilding their lives, what we are learning, and how you can help. Sign up to hear about our work, our latest news and events near you.")
		c.Set("consent_wording", "Yes, please email me about the topics I have ticked. I understand Lanternhouse Trust will use my name and email address only to send these updates, will never share or sell them, and that I can unsubscribe at any time with the link in every email.")
		c.Set("embed_origins", []string{})
		if err := app.Save(c); err != nil {
			return err
		}

		s := app.Settings()
		s.Meta.AppName = "Lanternhouse Trust supporters"
		s.Meta.SenderName = "Lanternhouse Trust"
		s.Meta.SenderAddress = "hello@lanternhouse.org.uk"
		s.RateLimits.Enabled = true
		s.RateLimits.Rules = append(s.RateLimits.Rules,
			core.RateLimitRule{Label: "POST /subscribe", MaxRequests: 20, Duration: 60},
			core.RateLimitRule{Label: "POST /api/subscribe", MaxRequests: 20, Duration: 60},
			core.RateLimitRule{Label: "/confirm", MaxRequests: 30, Duration: 60},
			core.RateLimitRule{Label: "/preferences", MaxRequests: 30, Duration: 60},
			core.RateLimitRule{Label: "GET /unsubscribe", MaxRequests: 30, Duration: 60},
			// One-click unsubscribes arrive from mailbox providers' servers, many
			// supporters behind one address: a generous limit, never a refusal
			// in normal use.
			core.RateLimitRule{Label: "POST /unsubscribe", MaxRequests: 600, Duration: 60},
		)
		return app.Save(s)
	}, func(app core.App) error {
		return nil // the collections' own down migration removes the data
	})
}
