package pb_migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Safety on the public pages: the referral lines shown under "Need help
// now?" and the neutral site "Leave this site quickly" goes to, both kept
// in the charity record so admins can change them in the dashboard.
//
// The two lines are the 24/7 referral lines the charity's own site gives
// beside every call to action (issue 14.16). Their web addresses aren't
// recorded here, so they are left empty for admins to fill in.
func init() {
	m.Register(func(app core.App) error {
		coll, err := app.FindCollectionByNameOrId(vocab.Charity)
		if err != nil {
			return err
		}
		coll.Fields.Add(
			&core.JSONField{Name: "help_lines", MaxSize: 4096, Help: `"Need help now?" on every public page: a list of {"name", "number", "hours", "url"}; numbers become tap-to-call links. At most 5.`},
			&core.URLField{Name: "leave_url", Help: `Where "Leave this site quickly" (and the Escape key) takes a visitor: a neutral site. Empty means https://www.bbc.co.uk/weather.`},
		)
		if err := app.Save(coll); err != nil {
			return err
		}
		recs, err := app.FindAllRecords(vocab.Charity)
		if err != nil {
			return err
		}
		for _, r := range recs {
			r.Set("help_lines", []map[string]string{
				{"name": "The Salvation Army 24/7 referral line", "number": "0300 303 8151", "hours": "24 hours a day, 7 days a week", "url": ""},
				{"name": "UK Human Trafficking Centre (UKHTC)", "number": "0844 778 2406", "hours": "24 hours a day, 7 days a week", "url": ""},
			})
			r.Set("leave_url", "https://www.bbc.co.uk/weather")
			if err := app.Save(r); err != nil {
				return err
			}
		}
		return nil
	}, func(app core.App) error {
		coll, err := app.FindCollectionByNameOrId(vocab.Charity)
		if err != nil {
			return err
		}
		coll.Fields.RemoveByName("help_lines")
		coll.Fields.RemoveByName("leave_url")
		return app.Save(coll)
	})
}
