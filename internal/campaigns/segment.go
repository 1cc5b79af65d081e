package campaigns

import (
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// Segment is a saved audience (a segments record) in typed form: each field
// set narrows it, and all of them hold together. A campaign or schedule
// that names one goes to the subscribed supporters of its own topics (and
// tags) who are also in the segment. The snapshot and CountAudience run one
// and the same condition (audienceWhere), so a count shown before sending
// is the number the snapshot writes.
type Segment struct {
	ID           string
	Topics       []string  // in one of these topics
	Tags         []string  // with one of these tags
	Statuses     []string  // with one of these statuses (a campaign mails only subscribed ones)
	JoinedAfter  time.Time // joined (confirmed, or else created) after this
	JoinedBefore time.Time // and before this
	Areas        []string  // postcode areas: the letters before the first digit ("LS", "M")
	Giving       string    // GivingDonated, GivingNone or GivingPledge (admins only)
	// Engagement is EngagedRecently or NotEngagedRecently: opened or clicked
	// (or not) one of the last EngagementCampaigns sent campaigns that had
	// tracking on. Campaigns without tracking count for nothing here.
	Engagement          string
	EngagementCampaigns int
}

// Giving filters of a segment.
const (
	GivingDonated = "donated"       // has made a donation
	GivingNone    = "not_donated"   // has made none
	GivingPledge  = "active_pledge" // has a pledge that is active and not ended
)

// Engagement filters of a segment, and how many recent tracked campaigns
// they look at when the segment doesn't say.
const (
	EngagedRecently      = "engaged"
	NotEngagedRecently   = "not_engaged"
	DefaultEngagementFor = 3
)

var areaRe = regexp.MustCompile(`^[A-Z]{1,2}$`)

// SegmentOf reads a segments record. A field that can't be read is an
// error naming it, never "no filter": a filter must not widen an audience.
func SegmentOf(r *core.Record) (Segment, error) {
	s := Segment{ID: r.Id, Topics: r.GetStringSlice("topics"), Statuses: r.GetStringSlice("statuses"),
		JoinedAfter: r.GetDateTime("joined_after").Time(), JoinedBefore: r.GetDateTime("joined_before").Time(), Giving: r.GetString("giving"),
		Engagement: r.GetString("engagement"), EngagementCampaigns: r.GetInt("engagement_campaigns")}
	if s.Engagement != "" && s.EngagementCampaigns <= 0 {
		s.EngagementCampaigns = DefaultEngagementFor
	}
	raw, _ := r.GetRaw("tags").(types.JSONRaw)
	tags, err := decodeTags(raw)
	if err != nil {
		return s, &AudienceError{"tags", err.Error()}
	}
	s.Tags = tags
	raw, _ = r.GetRaw("postcode_areas").(types.JSONRaw)
	areas, err := decodeTags(raw)
	if err != nil {
		return s, &AudienceError{"postcode_areas", strings.ReplaceAll(err.Error(), "tag", "area")}
	}
	for _, a := range areas {
		a = strings.ToUpper(a)
		if !areaRe.MatchString(a) {
			return s, &AudienceError{"postcode_areas", fmt.Sprintf("%q is not a postcode area (one or two letters, such as LS or M)", a)}
		}
		s.Areas = append(s.Areas, a)
	}
	if !s.JoinedAfter.IsZero() && !s.JoinedBefore.IsZero() && !s.JoinedAfter.Before(s.JoinedBefore) {
		return s, &AudienceError{"joined_before", "must be after joined_after"}
	}
	return s, nil
}

// audienceIn is a campaign's audience with its segment, read in app (the
// snapshot's transaction). A segment named but gone is an error.
func audienceIn(app core.App, c *core.Record) (Audience, error) {
	a, err := AudienceOf(c)
	if err != nil || c.GetString("segment") == "" {
		return a, err
	}
	r, err := app.FindRecordById(vocab.Segments, c.GetString("segment"))
	if errors.Is(err, sql.ErrNoRows) {
		return a, &AudienceError{"segment", "the segment it names no longer exists"}
	}
	if err != nil {
		return a, err
	}
	seg, err := SegmentOf(r)
	if err != nil {
		return a, err
	}
	a.Segment = &seg
	return a, nil
}

// joinedSQL is when supporter s joined: confirmed, or else first stored.
const joinedSQL = "coalesce(nullif(s.confirmed_at, ''), s.created)"

// areaSQL is the postcode area of supporter s: its first one or two letters.
const areaSQL = "(CASE WHEN substr(upper(trim(s.postcode)), 2, 1) GLOB '[A-Z]' THEN substr(upper(trim(s.postcode)), 1, 2) ELSE substr(upper(trim(s.postcode)), 1, 1) END)"

// audienceWhere is the test of supporter s for audience a, with its
// parameters: subscribed, in one of the topics, with one of the tags (when
// any), and in the segment (when any). The snapshot and CountAudience both
// run it.
func audienceWhere(a Audience) (string, dbx.Params) {
	where := "s.status = {:subscribed} AND " + inTopicsSQL("{:topics}") + " AND " + taggedSQL("{:tags}")
	params := dbx.Params{"subscribed": vocab.StatusSubscribed, "topics": jsonList(a.Topics), "tags": jsonList(a.Tags)}
	s := a.Segment
	if s == nil {
		return where, params
	}
	and := func(cond string, name string, v any) {
		where += " AND " + cond
		if name != "" {
			params[name] = v
		}
	}
	if len(s.Topics) > 0 {
		and(inTopicsSQL("{:seg_topics}"), "seg_topics", jsonList(s.Topics))
	}
	if len(s.Tags) > 0 {
		and(taggedSQL("{:seg_tags}"), "seg_tags", jsonList(s.Tags))
	}
	if len(s.Statuses) > 0 {
		and("s.status IN (SELECT value FROM json_each({:seg_statuses}))", "seg_statuses", jsonList(s.Statuses))
	}
	if !s.JoinedAfter.IsZero() {
		and(joinedSQL+" > {:seg_after}", "seg_after", dbTime(s.JoinedAfter))
	}
	if !s.JoinedBefore.IsZero() {
		and(joinedSQL+" < {:seg_before}", "seg_before", dbTime(s.JoinedBefore))
	}
	if len(s.Areas) > 0 {
		and(areaSQL+" IN (SELECT value FROM json_each({:seg_areas}))", "seg_areas", jsonList(s.Areas))
	}
	// Engagement: an event of this supporter's on one of the last N sent
	// campaigns that had tracking on (tracking_events is indexed by supporter).
	const engagedSQL = "EXISTS (SELECT 1 FROM " + vocab.TrackingEvents + " te WHERE te.supporter = s.id AND te.campaign IN " +
		"(SELECT c.id FROM " + vocab.Campaigns + " c WHERE c.tracking = TRUE AND c.status = 'sent' ORDER BY c.finished_at DESC, c.id DESC LIMIT {:seg_engaged_n}))"
	switch s.Engagement {
	case EngagedRecently:
		and(engagedSQL, "seg_engaged_n", s.EngagementCampaigns)
	case NotEngagedRecently:
		and("NOT "+engagedSQL, "seg_engaged_n", s.EngagementCampaigns)
	}
	switch s.Giving {
	case GivingDonated:
		and("EXISTS (SELECT 1 FROM "+vocab.Donations+" d WHERE d.supporter = s.id)", "", nil)
	case GivingNone:
		and("NOT EXISTS (SELECT 1 FROM "+vocab.Donations+" d WHERE d.supporter = s.id)", "", nil)
	case GivingPledge: // as the supporter_giving view counts active pledges
		and("EXISTS (SELECT 1 FROM "+vocab.Pledges+" p WHERE p.supporter = s.id AND p.status = 'active' "+
			"AND (p.ends_on = '' OR p.ends_on > strftime('%Y-%m-%d %H:%M:%fZ', 'now')))", "", nil)
	}
	return where, params
}

// CountAudience is how many supporters the snapshot would write for a now.
// The send-time check still skips anyone who unsubscribes or is suppressed
// later, so the campaign's sent count can come out a little lower. It reads
// on the concurrent pool, so a live count never waits for the writer.
func CountAudience(app core.App, a Audience) (int, error) {
	where, params := audienceWhere(a)
	var n int
	err := app.ConcurrentDB().NewQuery("SELECT count(*) FROM {{supporters}} s WHERE " + where).Bind(params).Row(&n)
	return n, err
}

// CountCampaign is CountAudience for a campaign or schedule record as it
// stands (saved or not): its topics, tags and segment.
func CountCampaign(app core.App, c *core.Record) (int, error) {
	a, err := audienceIn(app, c)
	if err != nil {
		return 0, err
	}
	return CountAudience(app, a)
}
