package campaigns

import (
	"context"
	"database/sql"
	"fmt"
	"net/mail"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tools/types"
	"golang.org/x/time/rate"

	"supportercrm/internal/charity"
	"supportercrm/internal/vocab"
)

// job is one delivery to attempt.
type job struct {
	ID        string `db:"id"`
	Supporter string `db:"supporter"`
	Email     string `db:"email"`
	Attempts  int    `db:"attempts"`
	FirstName string `db:"first_name"`
	LastName  string `db:"last_name"`
	// RowID is where the row was when read: the writer updates by it (one
	// index search fewer), checking the id too, and by id if it moved.
	RowID int64 `db:"rowid"`
}

// outcome kinds of one attempt.
const (
	untouched = iota // not attempted (stopping): stays queued as it was
	sent
	retry   // temporary failure: queued again later
	failed  // temporary failures exhausted, or unrenderable
	bounced // permanent refusal (5xx)
	skipped // unsubscribed or suppressed since the snapshot
)

type result struct {
	job
	kind      int
	messageID string
	err       string // last_error: never the address
	hard      bool   // 5.1.x: suppress the address
	note      string // a bounce's reply codes ("550 5.1.1"), for the suppression
	next      time.Time
}

// runner sends one campaign.
type runner struct {
	e          *Engine
	id         string
	compiled   *Compiled
	identity   charity.Identity
	from       mail.Address
	listID     string
	tracking   bool // the campaign's open and click tracking (internal/tracking)
	limiter    *rate.Limiter
	pageStmt   *sql.Stmt     // dispatch's page read, prepared on first use
	updateStmt *sql.Stmt     // the writer's delivery update by rowid, prepared on first use
	byIDStmt   *sql.Stmt     // the same by id alone, for rows that moved
	jobs       chan []job    // dispatch to the renderers
	rendered   chan prepared // renderers to the checker
	ready      chan prepared // checker to the connections
	results    chan result
	pending    sync.WaitGroup // dispatched, not yet written
	cancel     context.CancelFunc
	stopping   context.Context // done when the engine stops (the run's own ctx also ends on a pause)
	downNS     atomic.Int64    // when the relay became unreachable (unix ns), 0 when fine
	refusals   refusalRun      // temporary failures since a message was last accepted
	left       atomic.Int64    // deliveries not yet done when the run began (or, if it began preparing, when the audience was complete)
	paused     atomic.Bool
}

func (e *Engine) run(parent context.Context, id string, snap *snapshotProgress) error {
	c, err := e.App.FindRecordById(vocab.Campaigns, id)
	if err != nil {
		return err
	}
	compiled, err := e.compile(c)
	if err != nil {
		return e.finish(id, vocab.CampaignFailed, "it no longer renders: "+err.Error())
	}
	identity, err := e.Identity()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	s := e.App.Settings().Meta
	r := &runner{
		e: e, id: id, compiled: compiled, identity: identity, cancel: cancel, stopping: parent, tracking: c.GetBool("tracking"),
		from:     mail.Address{Name: s.SenderName, Address: s.SenderAddress},
		jobs:     make(chan []job, 2),
		rendered: make(chan prepared, checkMax),
		ready:    make(chan prepared, e.Config.Connections),
		results:  make(chan result, resultsQueue(e.Config.Connections)),
	}
	if err := r.countLeft(); err != nil {
		return err
	}
	r.listID = listID(e.App, identity, c.GetStringSlice("topics"), s.SenderAddress)
	if e.Config.PerSecond > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(e.Config.PerSecond), max(1, min(e.Config.Connections, int(e.Config.PerSecond))))
	}

	audience, err := AudienceOf(c)
	if err != nil {
		return fmt.Errorf("failed to read the audience: %w", err)
	}
	check, err := r.prepareCheck(audience)
	if err != nil {
		return fmt.Errorf("failed to prepare the send-time check: %w", err)
	}
	defer check.Close()
	defer func() {
		for _, s := range []*sql.Stmt{r.pageStmt, r.updateStmt, r.byIDStmt} {
			if s != nil {
				s.Close()
			}
		}
	}()

	// dispatch -> jobs -> render (2) -> rendered -> check -> ready -> send
	// (one per connection) -> results -> write. Each stage closes the next
	// one's channel when done, and every delivery dispatched ends as exactly
	// one result.
	var senders, writer sync.WaitGroup
	writer.Go(r.write)
	for range e.Config.Connections {
		senders.Go(func() { r.send(ctx, check) })
	}
	go func() {
		var renderers sync.WaitGroup
		for range 2 { // rendering is far quicker than sending; two keep up on a busy machine
			renderers.Go(func() { r.render(ctx) })
		}
		renderers.Wait()
		close(r.rendered)
	}()
	go func() {
		r.check(ctx, check)
		close(r.ready)
	}()
	go r.watch(ctx)
	err = r.dispatch(ctx, snap)
	close(r.jobs)
	senders.Wait()
	close(r.results)
	writer.Wait()
	return err
}

// dispatch feeds due deliveries to the workers in passes over the campaign
// (keyset pages by id), until none is left queued or the run is stopped.
// The first pass follows the snapshot: it reads each chunk once written and
// ends once the audience is complete; a snapshot that stops short stops
// the run.
func (r *runner) dispatch(ctx context.Context, snap *snapshotProgress) error {
	counted := false
	for ctx.Err() == nil {
		last, dispatched := "", 0
		for ctx.Err() == nil {
			page, err := r.page(last)
			if err != nil {
				return fmt.Errorf("failed to read deliveries: %w", err)
			}
			if len(page) == 0 {
				ended, complete := snap.ended()
				if ended && !complete {
					return nil
				}
				if ended && !counted { // the audience is complete: how many it left
					if err := r.countLeft(); err != nil {
						return err
					}
					counted = true
				}
				if ended {
					break
				}
				select { // then read on from last
				case <-snap.more:
				case <-snap.done:
				case <-ctx.Done():
				}
				continue
			}
			for start := 0; start < len(page); start += renderChunk {
				batch := page[start:min(start+renderChunk, len(page))]
				r.pending.Add(len(batch))
				select {
				case r.jobs <- batch:
				case <-ctx.Done():
					r.pending.Add(-len(batch))
					return nil
				}
			}
			last, dispatched = page[len(page)-1].ID, dispatched+len(page)
		}
		r.pending.Wait() // this pass's results are written before the next pass reads
		if ctx.Err() != nil {
			return nil
		}
		var left struct {
			N    int    `db:"n"`
			Next string `db:"next"`
		}
		err := r.e.App.DB().NewQuery(`SELECT count(*) AS n, ifnull(min(next_attempt_at), '') AS next FROM {{deliveries}} WHERE campaign = {:c} AND status = {:queued}`).
			Bind(dbx.Params{"c": r.id, "queued": vocab.DeliveryQueued}).One(&left)
		if err != nil {
			return err
		}
		if left.N == 0 {
			return r.e.finish(r.id, vocab.CampaignSent, "")
		}
		if dispatched == 0 { // everything left waits for a retry time
			wait := time.Second
			if next, err := types.ParseDateTime(left.Next); err == nil && !next.IsZero() {
				wait = min(max(time.Until(next.Time()), 10*time.Millisecond), time.Second)
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
	return nil
}

// pageSQL reads the next page of due deliveries (keyset by id, in the order
// of the idx_deliveries_work index) with the names the messages use.
var pageSQL = "SELECT d.id, d.supporter, d.email, d.attempts, s.first_name, s.last_name, d.rowid " +
	"FROM " + vocab.Deliveries + " d JOIN " + vocab.Supporters + " s ON s.id = d.supporter " +
	"WHERE d.campaign = ? AND d.status = ? AND d.next_attempt_at <= ? AND d.id > ? ORDER BY d.id LIMIT ?"

// page reads the due deliveries after last, through a statement prepared
// once per run on the read pool.
func (r *runner) page(last string) ([]job, error) {
	db, err := rawDB(r.e.App.ConcurrentDB())
	if err != nil {
		return nil, err
	}
	stmt, err := prepareOnce(db, &r.pageStmt, pageSQL)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.Query(r.id, vocab.DeliveryQueued, types.NowDateTime().String(), last, r.e.Config.PageSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := make([]job, 0, r.e.Config.PageSize)
	for rows.Next() {
		var j job
		if err := rows.Scan(&j.ID, &j.Supporter, &j.Email, &j.Attempts, &j.FirstName, &j.LastName, &j.RowID); err != nil {
			return nil, err
		}
		page = append(page, j)
	}
	return page, rows.Err()
}

// countLeft counts the deliveries not yet done into r.left.
func (r *runner) countLeft() error {
	var n int64
	err := r.e.App.DB().Select("count(*)").From(vocab.Deliveries).
		Where(dbx.HashExp{"campaign": r.id, "status": vocab.DeliveryQueued}).Row(&n)
	if err != nil {
		return fmt.Errorf("failed to count the deliveries left: %w", err)
	}
	r.left.Store(n)
	return nil
}

// watch stops the run within WatchInterval of staff pausing or cancelling it.
func (r *runner) watch(ctx context.Context) {
	t := time.NewTicker(r.e.Config.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var status string
		err := r.e.App.DB().Select("status").From(vocab.Campaigns).Where(dbx.HashExp{"id": r.id}).Row(&status)
		if err == nil && status != vocab.CampaignSending && status != vocab.CampaignPreparing {
			r.cancel()
			return
		}
	}
}
