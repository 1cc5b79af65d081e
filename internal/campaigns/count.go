package campaigns

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// audienceSQL is the snapshot's test of supporter s against an audience
// (bound by Audience.params): subscribed, in one of the topics and, when
// there are tags, with one of them. The snapshot writes a delivery for each
// supporter it accepts and CountAudience counts them, with this one
// expression, so the count staff see before sending is the snapshot's.
var audienceSQL = "s.status = {:subscribed} AND " + inTopicsSQL("{:topics}") + " AND " + taggedSQL("{:tags}")

// params adds the audience's bindings for audienceSQL to p.
func (a Audience) params(p dbx.Params) dbx.Params {
	p["subscribed"] = vocab.StatusSubscribed
	p["topics"] = jsonList(a.Topics)
	p["tags"] = jsonList(a.Tags)
	return p
}

// CountAudience is how many supporters a snapshot of a would take now. The
// send-time check still skips anyone who unsubscribes or is suppressed
// later, so the campaign's sent count can come out a little lower.
func CountAudience(app core.App, a Audience) (int, error) {
	if len(a.Topics) == 0 {
		return 0, nil
	}
	var n int
	err := app.ConcurrentDB().NewQuery("SELECT count(*) FROM {{supporters}} s WHERE " + audienceSQL).
		Bind(a.params(dbx.Params{})).Row(&n)
	return n, err
}
