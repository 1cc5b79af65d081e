package tracking

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// Count is a number of events and of the deliveries they came from.
type Count struct {
	Total  int    `json:"total" db:"total"`
	Unique int    `json:"unique" db:"uniq"`
	First  string `json:"first,omitempty" db:"first"`
	Last   string `json:"last,omitempty" db:"last"`
}

// Link is one link's clicks.
type Link struct {
	Link  int    `json:"link" db:"link"`
	URL   string `json:"url" db:"url"`
	Count `json:"clicks"`
}

// Results are a campaign's engagement: opens, clicks, the top links, and
// the unsubscribes made through its messages' links.
type Results struct {
	Campaign     string `json:"campaign"`
	Tracking     bool   `json:"tracking"`
	Sent         int    `json:"sent"`
	Opens        Count  `json:"opens"`
	Clicks       Count  `json:"clicks"`
	TopLinks     []Link `json:"top_links"`
	Unsubscribed int    `json:"unsubscribed"`
}

// TopLinks is how many links Results lists.
const TopLinks = 10

// ResultsOf reads a campaign's results.
func ResultsOf(app core.App, campaign *core.Record) (Results, error) {
	res := Results{Campaign: campaign.Id, Tracking: campaign.GetBool("tracking"), Sent: campaign.GetInt("sent"),
		Unsubscribed: campaign.GetInt("unsubscribed"), TopLinks: []Link{}}
	count := func(kind string, c *Count) error {
		return app.DB().NewQuery("SELECT count(*) AS total, count(DISTINCT delivery) AS uniq, ifnull(min(created), '') AS first, ifnull(max(created), '') AS last FROM " +
			vocab.TrackingEvents + " WHERE campaign = {:c} AND kind = {:k}").Bind(dbx.Params{"c": campaign.Id, "k": kind}).One(c)
	}
	if err := count(vocab.TrackOpen, &res.Opens); err != nil {
		return res, err
	}
	if err := count(vocab.TrackClick, &res.Clicks); err != nil {
		return res, err
	}
	err := app.DB().NewQuery("SELECT link, url, count(*) AS total, count(DISTINCT delivery) AS uniq, min(created) AS first, max(created) AS last FROM " +
		vocab.TrackingEvents + " WHERE campaign = {:c} AND kind = 'click' GROUP BY link, url ORDER BY total DESC, link LIMIT {:n}").
		Bind(dbx.Params{"c": campaign.Id, "n": TopLinks}).All(&res.TopLinks)
	return res, err
}
