// Package fbsync brings the charity's Facebook events into the events
// collection: it fetches (posts or the events edge) without holding the
// database, then upserts by Facebook id in short transactions, writing only
// what Facebook changed and never the fields staff own.
package fbsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/ozzo-validation/v4/is"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/clip"
	"supportercrm/internal/fbgraph"
	"supportercrm/internal/vocab"
)

// ErrBusy means another sync is running; this one was skipped.
var ErrBusy = errors.New("a facebook sync is already running")

// Source is what to read: the Page's posts (default) or its events edge.
type Source string

const (
	Posts  Source = "posts"
	Events Source = "events"
)

// Fetcher is the part of the Graph client the sync uses.
type Fetcher interface {
	Posts(ctx context.Context, since time.Time) ([]fbgraph.Post, error)
	Events(ctx context.Context) ([]fbgraph.Event, error)
}

// DefaultPostsWindow is how far back the posts source reads by default.
const DefaultPostsWindow = 365 * 24 * time.Hour

// Syncer runs syncs, one at a time.
type Syncer struct {
	App    core.App
	Graph  Fetcher
	Source Source
	// PostsWindow is how far back the posts source reads (default
	// DefaultPostsWindow). The posts published in it are the complete set:
	// an event posted in the window and missing from it is marked removed;
	// one posted before it is left as it is.
	PostsWindow time.Duration
	Now         func() time.Time
	// Alert tells staff when the sync stops for a reason a person must fix.
	Alert func(subject, text string)

	mu    sync.Mutex // one sync at a time
	state struct {
		sync.Mutex
		strikes  int       // rate limits in a row
		resumeAt time.Time // automatic syncs wait until then
		halted   error     // token or permission failure: automatic syncs stop
	}
}

// Result counts what a sync did.
type Result struct {
	Fetched, Created, Updated, Removed int
}

// item is one event as Facebook describes it, whatever the source.
type item struct {
	id, name, description, place, timezone string
	coverURL, ticketURL, facebookURL       string
	start, end                             fbgraph.Time
	online, cancelled                      bool
	posted, updated                        time.Time
}

// Sync fetches and upserts. A fetch that stopped early (rate limit, expired
// token) still upserts what arrived, but marks nothing removed. The run is
// recorded in sync_runs either way.
func (s *Syncer) Sync(ctx context.Context, trigger string) (Result, error) {
	if !s.mu.TryLock() {
		return Result{}, ErrBusy
	}
	defer s.mu.Unlock()
	run, err := s.startRun(trigger)
	if err != nil {
		return Result{}, err
	}
	since := s.since()
	items, fetchErr := s.fetch(ctx, since)
	res := Result{Fetched: len(items)}
	upsertErr := s.upsert(items, &res)
	if fetchErr == nil && upsertErr == nil {
		upsertErr = s.markRemoved(items, since, &res)
	}
	err = errors.Join(fetchErr, upsertErr)
	if ferr := s.finishRun(run, res, err); ferr != nil && err == nil {
		err = ferr
	}
	return res, err
}

// since is the start of the posts window, or zero for the events edge
// (which is read whole).
func (s *Syncer) since() time.Time {
	if s.Source == Events {
		return time.Time{}
	}
	w := s.PostsWindow
	if w <= 0 {
		w = DefaultPostsWindow
	}
	return s.Now().Add(-w).Truncate(time.Second)
}

func (s *Syncer) sourceKind() string {
	if s.Source == Events {
		return vocab.SourceFacebookEvent
	}
	return vocab.SourceFacebookPost
}

func (s *Syncer) fetch(ctx context.Context, since time.Time) ([]item, error) {
	if s.Source == Events {
		events, err := s.Graph.Events(ctx)
		items := make([]item, 0, len(events))
		for _, e := range events {
			start, end := occurrence(e, s.Now())
			if !usableID(e.ID) {
				continue
			}
			it := item{id: e.ID, name: e.Name, description: e.Description, start: start, end: end, timezone: e.Timezone,
				place: e.Place.String(), online: e.Online, cancelled: e.Canceled, coverURL: e.Cover.Source,
				ticketURL: firstOf(e.TicketURL, e.OnlineURL), facebookURL: "https://www.facebook.com/events/" + e.ID + "/", updated: e.Updated.Time}
			items = append(items, it)
		}
		return items, err
	}
	posts, err := s.Graph.Posts(ctx, since)
	var ge *fbgraph.Error
	if errors.As(err, &ge) && ge.Kind == fbgraph.Capped {
		err = fmt.Errorf("reading the posts published since %s: %w; nothing was marked removed (shorten the window, FACEBOOK_POSTS_DAYS)",
			since.UTC().Format("2 January 2006"), err)
	}
	var items []item
	for _, p := range posts {
		a := p.Event()
		if a == nil {
			continue // an ordinary post
		}
		it := item{id: firstOf(a.Target.ID, p.ID), name: firstOf(a.Title, firstLine(p.Message)), description: p.Message,
			coverURL: firstOf(a.Media.Image.Src, p.Picture), facebookURL: firstOf(a.Target.URL, a.URL, p.Permalink),
			posted: p.Created.Time, updated: firstTime(p.Updated.Time, p.Created.Time)}
		if !usableID(it.id) {
			continue
		}
		items = append(items, it)
	}
	return items, err
}

// batchSize bounds each write transaction, so signups never wait long.
const batchSize = 100

func (s *Syncer) upsert(items []item, res *Result) error {
	for start := 0; start < len(items); start += batchSize {
		batch := items[start:min(start+batchSize, len(items))]
		var created, updated int // counted once the batch commits
		err := s.App.RunInTransaction(func(tx core.App) error {
			created, updated = 0, 0
			for _, it := range batch {
				c, u, err := s.upsertOne(tx, it)
				if err != nil {
					return fmt.Errorf("event %s: %w", it.id, err)
				}
				if c {
					created++
				} else if u {
					updated++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.Created += created
		res.Updated += updated
	}
	return nil
}

// upsertOne writes Facebook's fields when the event is new, when Facebook's
// updated_time has moved, when it had been marked removed, or when it was
// last written by the other source (FACEBOOK_SOURCE changed): the event then
// belongs to this source, and is checked for removal with its events.
// Each source writes only the fields it carries: a post has no date, place,
// tickets or cancellation, and the events edge no post time, so an event
// keeps those across a switch until the source that carries them says
// otherwise.
func (s *Syncer) upsertOne(tx core.App, it item) (created, updated bool, err error) {
	r, err := tx.FindFirstRecordByData(vocab.Events, "facebook_id", it.id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, false, err
	}
	if r == nil {
		col, cerr := tx.FindCachedCollectionByNameOrId(vocab.Events)
		if cerr != nil {
			return false, false, cerr
		}
		r = core.NewRecord(col)
		r.Set("facebook_id", it.id)
		created = true
	} else if r.GetString("source") == vocab.SourceManual {
		return false, false, nil // staff own it entirely
	} else if r.GetString("source") == s.sourceKind() && !it.updated.After(r.GetDateTime("facebook_updated").Time()) && !r.GetBool("removed") {
		return false, false, nil
	}
	// Facebook's values are fitted to the fields, so that one odd event
	// (a ticket "link" that isn't a URL) can't fail its whole batch.
	r.Set("source", s.sourceKind())
	r.Set("name", clip.Runes(firstOf(it.name, "Event"), 300))
	r.Set("description", clip.Runes(it.description, 2<<20))
	r.Set("cover_url", webURL(it.coverURL))
	r.Set("facebook_url", webURL(it.facebookURL))
	if s.Source == Events {
		r.Set("start", timeOrEmpty(it.start))
		r.Set("end", timeOrEmpty(it.end))
		r.Set("date_only", it.start.DateOnly)
		r.Set("timezone", clip.Runes(it.timezone, 60))
		r.Set("place", clip.Runes(it.place, 500))
		r.Set("online", it.online)
		r.Set("ticket_url", webURL(it.ticketURL))
		r.Set("cancelled", it.cancelled)
	} else {
		r.Set("posted_at", timeOrEmpty(fbgraph.Time{Time: it.posted}))
	}
	r.Set("removed", false)
	r.Set("facebook_updated", it.updated)
	r.Set("synced_at", s.Now())
	if err := tx.Save(r); err != nil {
		return false, false, err
	}
	return created, !created, nil
}

// markRemoved flags Facebook events that a complete fetch no longer
// returned, whichever source last wrote them (after a switch of
// FACEBOOK_SOURCE the new source is the truth). They are kept (staff may
// have linked to them), not deleted. The posts source's fetch is complete
// only for its window, so it checks only events posted after since: older
// ones, and events from the events edge that no post in the window
// announced (their post time is unknown), are left as they are.
func (s *Syncer) markRemoved(items []item, since time.Time, res *Result) error {
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		seen[it.id] = true
	}
	where := []dbx.Expression{
		dbx.In("source", vocab.SourceFacebookPost, vocab.SourceFacebookEvent),
		dbx.HashExp{"removed": false},
	}
	if !since.IsZero() {
		where = append(where, dbx.NewExp("posted_at > {:since}", dbx.Params{"since": since.UTC().Format(types.DefaultDateLayout)}))
	}
	current, err := s.App.FindAllRecords(vocab.Events, where...)
	if err != nil {
		return err
	}
	var gone []*core.Record
	for _, r := range current {
		if !seen[r.GetString("facebook_id")] {
			gone = append(gone, r)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return s.App.RunInTransaction(func(tx core.App) error {
		for _, r := range gone {
			r.Set("removed", true)
			r.Set("synced_at", s.Now())
			if err := tx.Save(r); err != nil {
				return err
			}
			res.Removed++
		}
		return nil
	})
}

// staleRun is how long an unfinished run blocks others: a process that
// crashed mid-sync holds nothing for longer.
const staleRun = 15 * time.Minute

// startRun records the run, unless another process (the CLI beside the
// server) has one in progress: then this one is skipped with ErrBusy.
func (s *Syncer) startRun(trigger string) (*core.Record, error) {
	var run *core.Record
	err := s.App.RunInTransaction(func(tx core.App) error {
		busy, err := tx.CountRecords(vocab.SyncRuns, dbx.HashExp{"finished": ""},
			dbx.NewExp("started > {:since}", dbx.Params{"since": s.Now().Add(-staleRun).UTC().Format(types.DefaultDateLayout)}))
		if err != nil {
			return err
		}
		if busy > 0 {
			return ErrBusy
		}
		col, err := tx.FindCachedCollectionByNameOrId(vocab.SyncRuns)
		if err != nil {
			return err
		}
		run = core.NewRecord(col)
		run.Set("source", string(s.Source))
		run.Set("trigger", trigger)
		run.Set("started", s.Now())
		return tx.Save(run)
	})
	return run, err
}

func (s *Syncer) finishRun(run *core.Record, res Result, err error) error {
	run.Set("finished", s.Now())
	run.Set("fetched", res.Fetched)
	run.Set("created_count", res.Created)
	run.Set("updated_count", res.Updated)
	run.Set("removed_count", res.Removed)
	if err != nil {
		run.Set("error", clip.Runes(err.Error(), 2000))
	}
	return s.App.Save(run)
}

// webURL is u when it is an http(s) URL the collection's URL fields accept,
// else empty.
func webURL(u string) string {
	u = strings.TrimSpace(u)
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	if is.URL.Validate(u) != nil {
		return ""
	}
	return u
}

func timeOrEmpty(t fbgraph.Time) any {
	if t.IsZero() {
		return ""
	}
	return t.Time
}

// occurrence picks the dates to show for an event: for a multi-date event
// (event_times), the next one not yet over, else the last.
func occurrence(e fbgraph.Event, now time.Time) (start, end fbgraph.Time) {
	if len(e.Times) == 0 {
		return e.Start, e.End
	}
	times := slices.Clone(e.Times)
	slices.SortFunc(times, func(a, b fbgraph.EventTime) int { return a.Start.Compare(b.Start.Time) })
	for _, t := range times {
		if t.End.After(now) || (t.End.IsZero() && t.Start.After(now)) {
			return t.Start, t.End
		}
	}
	last := times[len(times)-1]
	return last.Start, last.End
}

// usableID reports whether a Facebook id can key an event: an empty one
// would match events entered by staff, and facebook_id holds 100 characters.
func usableID(id string) bool {
	return strings.TrimSpace(id) != "" && len(id) <= 100
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return clip.Runes(line, 120)
}
