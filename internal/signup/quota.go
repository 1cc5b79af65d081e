package signup

import (
	"strconv"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// The signup form mails whatever address is typed into it, so bots can
// point it at someone who never asked. These limits bound what they get.
const (
	// PerAddressPerDay is the most confirmation and "already subscribed"
	// emails one address gets in 24 hours, however often it is signed up
	// (imports' confirmations count too).
	PerAddressPerDay = 3
	// DefaultConfirmationsPerDay caps those emails from public signups
	// across the app in 24 hours. A small charity's busiest day (an appeal
	// on the evening news) brings hundreds of signups, not thousands; 2,000
	// leaves room for that while a bot run on many addresses stops long
	// before it can use up a relay's daily quota (often 10,000 to 50,000)
	// or earn enough spam complaints to hurt the newsletter's delivery.
	DefaultConfirmationsPerDay = 2000
)

// QuotaTable counts, by the hour (UTC), the confirmation and "already
// subscribed" emails public signups queued; the app-wide cap sums the last
// 24 rows. It is a plain table (migration 1764086541), not a collection:
// only signup reads or writes it, and a restart keeps it.
const QuotaTable = "_signup_quota"

var mailedKinds = []any{vocab.KindConfirm, vocab.KindAlreadySubscribed}

// allowance is what the limits say about mailing one address now.
type allowance struct {
	sentToAddress int                  // in the last 24 hours, of both kinds
	last          map[string]time.Time // the latest of each kind then
	appFull       bool                 // the app-wide cap is reached
}

// allowance reads, in tx, what the limits need. Every accepted signup reads
// it, whether or not it will mail, so they all do the same work.
func (s *Service) allowance(tx core.App, email string, now time.Time) (allowance, error) {
	a := allowance{last: map[string]time.Time{}}
	var rows []struct {
		Kind string `db:"kind"`
		N    int    `db:"n"`
		Last string `db:"last"`
	}
	err := tx.DB().Select("kind", "count(*) AS n", "max(created) AS last").From(vocab.Outbox).Where(dbx.And(
		dbx.HashExp{"to": email}, dbx.In("kind", mailedKinds...),
		dbx.NewExp("created > {:since}", dbx.Params{"since": now.Add(-24 * time.Hour).UTC().Format(types.DefaultDateLayout)}),
	)).GroupBy("kind").All(&rows)
	if err != nil {
		return a, err
	}
	for _, r := range rows {
		last, err := types.ParseDateTime(r.Last)
		if err != nil {
			return a, err
		}
		a.sentToAddress += r.N
		a.last[r.Kind] = last.Time()
	}
	var sent int
	err = tx.DB().NewQuery("SELECT ifnull(sum(sent), 0) FROM " + QuotaTable + " WHERE hour > {:since}").
		Bind(dbx.Params{"since": hourKey(now.Add(-24 * time.Hour))}).Row(&sent)
	if err != nil {
		return a, err
	}
	a.appFull = s.ConfirmationsPerDay > 0 && sent >= s.ConfirmationsPerDay
	return a, nil
}

// may reports whether one more email of kind may go to the address: under
// its daily limit, none of that kind since spaced (the last ResendAfter, or
// since an unsubscribe), and the app under its cap.
func (a allowance) may(kind string, spaced time.Time) bool {
	return a.sentToAddress < PerAddressPerDay && !a.last[kind].After(spaced) && !a.appFull
}

// countMailed adds one email to this hour's count, in the transaction that
// queues it, and drops counts older than a day.
func countMailed(tx core.App, now time.Time) error {
	if _, err := tx.DB().NewQuery("INSERT INTO " + QuotaTable + " (hour, sent) VALUES ({:hour}, 1) ON CONFLICT (hour) DO UPDATE SET sent = sent + 1").
		Bind(dbx.Params{"hour": hourKey(now)}).Execute(); err != nil {
		return err
	}
	_, err := tx.DB().NewQuery("DELETE FROM " + QuotaTable + " WHERE hour <= {:old}").
		Bind(dbx.Params{"old": hourKey(now.Add(-48 * time.Hour))}).Execute()
	return err
}

func hourKey(t time.Time) string { return t.UTC().Format("2006-01-02 15") }

// capAlert tells staff at most once a day that the cap held mail back.
type capAlert struct {
	mu   sync.Mutex
	last time.Time
}

func (c *capAlert) raise(s *Service, now time.Time) {
	c.mu.Lock()
	due := now.Sub(c.last) >= 24*time.Hour
	if due {
		c.last = now
	}
	c.mu.Unlock()
	if !due {
		return
	}
	s.App.Logger().Warn("signup: the daily cap on confirmation emails was reached; further signups are answered but not mailed", "cap", s.ConfirmationsPerDay)
	if s.Alert != nil {
		n := strconv.Itoa(s.ConfirmationsPerDay)
		s.Alert("Signup confirmations paused: the daily cap of "+n+" was reached",
			"The signup form has sent "+n+" confirmation or \"already subscribed\" emails in the last 24 hours, the most CRM_CONFIRMATIONS_PER_DAY allows. "+
				"Signups are still answered as usual, but are not recorded or mailed until the count falls below the cap. "+
				"A sudden run of signups like this is usually a bot using the form against other people's addresses; if it is a real surge (an appeal, a news story), raise CRM_CONFIRMATIONS_PER_DAY and restart.")
	}
}
