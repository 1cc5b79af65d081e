package pb_migrations

import (
	"slices"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// The CRM as admins see it in the dashboard: clearer fields and the indexes
// behind their searches, a supporter timeline and giving totals (views,
// admins only), the thank-you email kind, a rate limit on the Gift Aid page,
// and consent rows that may outlive their supporter (anonymised) when the
// retention job deletes a signup that was never confirmed.
func init() {
	m.Register(func(app core.App) error {
		if err := tidySupporters(app); err != nil {
			return err
		}
		if err := tidyGiving(app); err != nil {
			return err
		}
		consents, err := app.FindCollectionByNameOrId(vocab.Consents)
		if err != nil {
			return err
		}
		consents.Fields.GetByName("supporter").(*core.RelationField).Required = false
		setHelp(consents, "supporter", "Empty once a never-confirmed signup was deleted by the retention job; the row stays, anonymised.")
		setHelp(consents, "action", "grant: agreed to topics; withdraw: stopped them; details: changed their name.")
		consents.AddIndex("idx_consents_email", false, "email", "")
		if err := app.Save(consents); err != nil {
			return err
		}
		if err := setOutboxKinds(app, vocab.OutboxKinds); err != nil {
			return err
		}

		for name, query := range map[string]string{vocab.Timeline: timelineQuery, vocab.Giving: givingQuery} {
			v := core.NewViewCollection(name)
			v.ViewQuery = query
			v.ListRule, v.ViewRule = ruleAdmin, ruleAdmin
			if err := app.Save(v); err != nil {
				return err
			}
		}

		s := app.Settings()
		s.RateLimits.Rules = append(s.RateLimits.Rules, core.RateLimitRule{Label: "/gift-aid", MaxRequests: 30, Duration: 60})
		return app.Save(s)
	}, func(app core.App) error {
		if err := deleteCollections(app, vocab.Giving, vocab.Timeline); err != nil {
			return err
		}
		s := app.Settings()
		s.RateLimits.Rules = slices.DeleteFunc(s.RateLimits.Rules, func(r core.RateLimitRule) bool { return r.Label == "/gift-aid" })
		if err := app.Save(s); err != nil {
			return err
		}
		if err := setOutboxKinds(app, slices.DeleteFunc(slices.Clone(vocab.OutboxKinds), func(k string) bool { return k == vocab.KindThankYou })); err != nil {
			return err
		}
		consents, err := app.FindCollectionByNameOrId(vocab.Consents)
		if err != nil {
			return err
		}
		consents.Fields.GetByName("supporter").(*core.RelationField).Required = true
		consents.RemoveIndex("idx_consents_email")
		if err := app.Save(consents); err != nil {
			return err
		}
		// Help texts and presentable flags are cosmetic and stay; the indexes go.
		for coll, indexes := range map[string][]string{
			vocab.Supporters:   {"idx_supporters_first_name"},
			vocab.Donations:    {"idx_donations_donated_on"},
			vocab.Pledges:      {"idx_pledges_status"},
			vocab.Declarations: {"idx_declarations_postcode", "idx_declarations_name"},
		} {
			c, err := app.FindCollectionByNameOrId(coll)
			if err != nil {
				return err
			}
			for _, idx := range indexes {
				c.RemoveIndex(idx)
			}
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}

// tidySupporters explains the supporter fields admins edit. Email, name,
// postcode, status and created are indexed already; searching by first name
// alone gets its own index.
func tidySupporters(app core.App) error {
	c, err := app.FindCollectionByNameOrId(vocab.Supporters)
	if err != nil {
		return err
	}
	setHelp(c, "email", "Stored lowercased and trimmed. Unique.")
	setHelp(c, "status", "pending: not confirmed yet (deleted after 30 days); subscribed; unsubscribed; bounced; complained; erased: personal data removed on request.")
	setHelp(c, "postcode", "UK postcode, e.g. LS1 1AA.")
	setHelp(c, "notes", "Staff notes. Removed when the supporter is erased.")
	c.AddIndex("idx_supporters_first_name", false, "first_name", "")
	return app.Save(c)
}

// tidyGiving makes donations, pledges and declarations read well in relation
// pickers (amount and date rather than a provider reference) and indexes the
// admins' searches: by date, active pledges, and a declaration's postcode or name.
func tidyGiving(app core.App) error {
	donations, err := app.FindCollectionByNameOrId(vocab.Donations)
	if err != nil {
		return err
	}
	donations.Fields.GetByName("reference").(*core.TextField).Presentable = false
	donations.Fields.GetByName("amount_pence").(*core.NumberField).Presentable = true
	donations.Fields.GetByName("donated_on").(*core.DateField).Presentable = true
	setHelp(donations, "method", "How the money came. A thank-you email inviting Gift Aid goes to donors without a declaration for every method except other.")
	donations.AddIndex("idx_donations_donated_on", false, "donated_on", "")
	if err := app.Save(donations); err != nil {
		return err
	}

	pledges, err := app.FindCollectionByNameOrId(vocab.Pledges)
	if err != nil {
		return err
	}
	pledges.Fields.GetByName("amount_pence").(*core.NumberField).Presentable = true
	pledges.Fields.GetByName("frequency").(*core.SelectField).Presentable = true
	pledges.AddIndex("idx_pledges_status", false, "status, frequency", "")
	if err := app.Save(pledges); err != nil {
		return err
	}

	decl, err := app.FindCollectionByNameOrId(vocab.Declarations)
	if err != nil {
		return err
	}
	decl.Fields.GetByName("declared_on").(*core.DateField).Presentable = true
	setHelp(decl, "postcode", "Saved in capitals with one space, e.g. LS1 1AA (HMRC's format).")
	setHelp(decl, "method", "online: the donor's own form; written: a paper form; oral: by phone, valid once the written confirmation is sent (fill in confirmation_sent_on).")
	setHelp(decl, "wording", "The exact declaration the donor agreed to. Left empty, the standard online wording is filled in.")
	setHelp(decl, "wording_version", "A fingerprint of the wording, set on save.")
	decl.AddIndex("idx_declarations_postcode", false, "postcode", "")
	decl.AddIndex("idx_declarations_name", false, "last_name, first_name", "")
	return app.Save(decl)
}

func setHelp(c *core.Collection, field, help string) {
	switch f := c.Fields.GetByName(field).(type) {
	case *core.TextField:
		f.Help = help
	case *core.EmailField:
		f.Help = help
	case *core.SelectField:
		f.Help = help
	case *core.RelationField:
		f.Help = help
	}
}

func setOutboxKinds(app core.App, kinds []string) error {
	c, err := app.FindCollectionByNameOrId(vocab.Outbox)
	if err != nil {
		return err
	}
	c.Fields.GetByName("kind").(*core.SelectField).Values = kinds
	return app.Save(c)
}

// timelineQuery is one row per thing that happened to a supporter. Ids are
// the source record's id behind a letter per kind, so rows at the same
// instant sort (at, id) in the order they happen: signup, consent,
// confirmation, mail, donation, pledge, Gift Aid. amount_pence is set for
// money rows only; ref is the source record's id.
const timelineQuery = `
SELECT t.id AS id, s.id AS supporter, CAST(t.at AS TEXT) AS at, CAST(t.kind AS TEXT) AS kind,
  CAST(t.summary AS TEXT) AS summary, CAST(t.amount_pence AS INTEGER) AS amount_pence, CAST(t.ref AS TEXT) AS ref
FROM (
  SELECT 'a' || id AS id, id AS supporter, created AS at, 'signup' AS kind,
    'Signed up' || iif(source != '', ' (' || source || ')', '') AS summary, NULL AS amount_pence, id AS ref
  FROM supporters
  UNION ALL
  SELECT 'b' || c.id, c.supporter, c.created,
    CASE WHEN c.action = 'withdraw' AND c.method IN ('unsubscribe_link', 'one_click') THEN 'unsubscribe' ELSE 'consent_' || c.action END,
    CASE WHEN c.action = 'withdraw' AND c.method IN ('unsubscribe_link', 'one_click') THEN 'Unsubscribed'
      WHEN c.action = 'grant' THEN 'Consent given' WHEN c.action = 'withdraw' THEN 'Consent withdrawn' ELSE 'Name changed' END
      || coalesce(': ' || (SELECT group_concat(j.value, ', ') FROM json_each(CASE WHEN json_valid(c.topic_slugs) THEN c.topic_slugs ELSE '[]' END) j), '')
      || ' (' || c.method || ')',
    NULL, c.id
  FROM consents c WHERE c.supporter != ''
  UNION ALL
  SELECT 'c' || c.id, c.supporter, c.confirmed_at, 'consent_confirmed', 'Confirmed by email link', NULL, c.id
  FROM consents c WHERE c.supporter != '' AND c.action = 'grant' AND c.confirmed_at != ''
    AND c.method IN ('web_form', 'embedded_form', 'api', 'import')
  UNION ALL
  SELECT 'd' || o.id, o.supporter, coalesce(nullif(o.sent_at, ''), o.created), 'email',
    o.kind || ': ' || o.subject || ' (' || o.status || ')', NULL, o.id
  FROM outbox o WHERE o.supporter != ''
  UNION ALL
  SELECT 'e' || d.id, d.supporter, coalesce(nullif(d.sent_at, ''), d.created), 'campaign',
    coalesce(cp.name, 'Campaign') || ' (' || d.status || ')', NULL, d.id
  FROM deliveries d LEFT JOIN campaigns cp ON cp.id = d.campaign
  UNION ALL
  SELECT 'f' || id, supporter, donated_on, 'donation',
    printf('£%.2f', amount_pence / 100.0) || ' by ' || replace(method, '_', ' ')
      || iif(gift_aid_eligible, ', Gift Aid eligible', '') || iif(reference != '', ', ref ' || reference, ''),
    amount_pence, id
  FROM donations
  UNION ALL
  SELECT 'g' || id, supporter, starts_on, 'pledge',
    printf('£%.2f', amount_pence / 100.0) || ' ' || frequency || iif(purpose != '', ': ' || purpose, '')
      || ' (' || status || iif(ends_on != '', ', ends ' || substr(ends_on, 1, 10), '') || ')',
    amount_pence, id
  FROM pledges
  UNION ALL
  SELECT 'h' || id, supporter, declared_on, 'gift_aid',
    'Gift Aid declaration (' || method || ', ' || replace(scope, '_', ' ') || ')', NULL, id
  FROM gift_aid_declarations
  UNION ALL
  SELECT 'i' || id, supporter, cancelled_on, 'gift_aid_cancelled', 'Gift Aid declaration cancelled', NULL, id
  FROM gift_aid_declarations WHERE cancelled_on != ''
) t
JOIN supporters s ON s.id = t.supporter`

// givingQuery totals each donor's giving: one row per supporter with any
// donation, pledge or Gift Aid declaration. Active pledges are those not
// ended by date or status; gift_aid is active, cancelled or none.
const givingQuery = `
SELECT s.id AS id, s.id AS supporter,
  CAST((SELECT count(*) FROM donations d WHERE d.supporter = s.id) AS INTEGER) AS donation_count,
  CAST((SELECT coalesce(sum(d.amount_pence), 0) FROM donations d WHERE d.supporter = s.id) AS INTEGER) AS donated_pence,
  CAST((SELECT coalesce(max(d.donated_on), '') FROM donations d WHERE d.supporter = s.id) AS TEXT) AS last_donation_on,
  CAST((SELECT count(*) FROM pledges p WHERE p.supporter = s.id AND p.status = 'active'
    AND (p.ends_on = '' OR p.ends_on > strftime('%Y-%m-%d %H:%M:%fZ', 'now'))) AS INTEGER) AS active_pledges,
  CAST((SELECT coalesce(sum(p.amount_pence), 0) FROM pledges p WHERE p.supporter = s.id AND p.status = 'active' AND p.frequency = 'weekly'
    AND (p.ends_on = '' OR p.ends_on > strftime('%Y-%m-%d %H:%M:%fZ', 'now'))) AS INTEGER) AS weekly_pledged_pence,
  CAST((SELECT coalesce(sum(p.amount_pence), 0) FROM pledges p WHERE p.supporter = s.id AND p.status = 'active' AND p.frequency = 'monthly'
    AND (p.ends_on = '' OR p.ends_on > strftime('%Y-%m-%d %H:%M:%fZ', 'now'))) AS INTEGER) AS monthly_pledged_pence,
  CAST(CASE
    WHEN EXISTS (SELECT 1 FROM gift_aid_declarations g WHERE g.supporter = s.id AND g.cancelled_on = '') THEN 'active'
    WHEN EXISTS (SELECT 1 FROM gift_aid_declarations g WHERE g.supporter = s.id) THEN 'cancelled'
    ELSE 'none' END AS TEXT) AS gift_aid
FROM supporters s
WHERE EXISTS (SELECT 1 FROM donations d WHERE d.supporter = s.id)
  OR EXISTS (SELECT 1 FROM pledges p WHERE p.supporter = s.id)
  OR EXISTS (SELECT 1 FROM gift_aid_declarations g WHERE g.supporter = s.id)`
