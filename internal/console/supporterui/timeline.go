package supporterui

import (
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// TimelineLimit is how many events a timeline page shows.
const TimelineLimit = 100

// Event is one thing that happened to a supporter, as the supporter_timeline
// view records it (signup, consent_grant, consent_withdraw,
// consent_details, consent_confirmed, unsubscribe, email, campaign,
// donation, pledge, gift_aid, gift_aid_cancelled), or "erased".
type Event struct {
	ID          string         `db:"id"`
	At          types.DateTime `db:"at"`
	Kind        string         `db:"kind"`
	Summary     string         `db:"summary"`
	AmountPence int            `db:"amount_pence"`
}

// labels name the kinds for people.
var labels = map[string]string{
	"signup": "Signed up", "consent_grant": "Consent", "consent_withdraw": "Withdrawal", "consent_details": "Details",
	"consent_confirmed": "Confirmed", "unsubscribe": "Unsubscribed", "email": "Email", "campaign": "Campaign",
	"donation": "Donation", "pledge": "Pledge", "gift_aid": "Gift Aid", "gift_aid_cancelled": "Gift Aid", "erased": "Erased",
}

// Label names the event's kind for people.
func (e Event) Label() string {
	if l, ok := labels[e.Kind]; ok {
		return l
	}
	return e.Kind
}

// Giving reports whether the event is giving data, which comms staff never see.
func (e Event) Giving() bool { return isGiving[e.Kind] }

// isGiving are the view's kinds about money and Gift Aid.
var isGiving = map[string]bool{"donation": true, "pledge": true, "gift_aid": true, "gift_aid_cancelled": true}

// Timeline is the supporter's history, newest first: a page of at most
// TimelineLimit events from offset. Without giving, the query itself leaves
// out donations, pledges, Gift Aid and the mail about them, so nothing of
// them reaches a comms page. An erased supporter's history starts with the
// erasure (the record's last change), its notes saying when and what was kept.
func Timeline(app core.App, sup *core.Record, giving bool, offset int) ([]Event, bool, error) {
	where := dbx.HashExp{"supporter": sup.Id}
	var cond dbx.Expression = where
	if !giving {
		var kinds []any
		for k := range isGiving {
			kinds = append(kinds, k)
		}
		// The mail that tells of a gift (its thanks, a Gift Aid link) goes too.
		cond = dbx.And(where, dbx.NotIn("kind", kinds...), dbx.Not(dbx.And(
			dbx.HashExp{"kind": "email"},
			dbx.NewExp("ref IN (SELECT id FROM "+vocab.Outbox+" WHERE supporter = {:sup} AND kind IN ({:thanks}, {:galink}))",
				dbx.Params{"sup": sup.Id, "thanks": vocab.KindThankYou, "galink": vocab.KindGiftAidLink}),
		)))
	}
	var out []Event
	if offset == 0 && sup.GetString("status") == vocab.StatusErased {
		out = append(out, Event{ID: "erased", At: sup.GetDateTime("updated"), Kind: "erased", Summary: ErasedNote(sup, giving)})
	}
	var rows []Event
	err := app.DB().Select("id", "at", "kind", "summary", "coalesce(amount_pence, 0) AS amount_pence").
		From(vocab.Timeline).Where(cond).OrderBy("at DESC", "id DESC").
		Limit(TimelineLimit + 1).Offset(int64(offset)).All(&rows)
	if err != nil {
		return nil, false, err
	}
	more := len(rows) > TimelineLimit
	if more {
		rows = rows[:TimelineLimit]
	}
	return append(out, rows...), more, nil
}

// ErasedNote is what an erased supporter's notes say (erasure leaves only
// its own note: when, and which Gift Aid declarations HMRC needs kept).
// Without giving, it is the first sentence alone: that Gift Aid was kept
// tells that they gave.
func ErasedNote(sup *core.Record, giving bool) string {
	note := sup.GetString("notes")
	if first, _, ok := strings.Cut(note, ". "); ok && !giving {
		return first + "."
	}
	return note
}
