package campaigns

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/charity"
	"supportercrm/internal/clip"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// Config tunes sending. Zero values take the defaults.
type Config struct {
	Connections   int           // SMTP connections in the pool (8)
	PerSecond     float64       // global messages per second; 0 means no limit
	FlushEvery    int           // results per write transaction (100)
	FlushInterval time.Duration // longest a result waits to be written (100ms)
	PageSize      int           // deliveries read per query (500)
	MaxAttempts   int           // tries for temporary failures (5)
	RetryBase     time.Duration // first retry delay, doubling (30s)
	MaxConnDown   time.Duration // how long the relay may be unreachable before the campaign pauses (2m)
	WatchInterval time.Duration // how often a running campaign's status is checked (250ms)
	// MaxRefusedInRow pauses the campaign, alerting staff, once this many
	// different deliveries in a row have failed temporarily (4xx replies,
	// dropped connections) with no message accepted between, across all
	// connections (50). Permanent refusals (5xx) neither count nor break
	// the run. A campaign with fewer deliveries left than this pauses once
	// every one of them has been refused, MaxAttempts-1 times on average,
	// in a row, before any of them would fail.
	MaxRefusedInRow int
	// UnsubscribeMailto, when set (e.g. "unsubscribe@news.example.org"), adds
	// a mailto to List-Unsubscribe beside the https one-click URL.
	UnsubscribeMailto string
	// LeaseTTL is how long a campaign's lease lasts unrenewed (60s; renewed
	// every sixth of it): how long a campaign waits after its process died
	// before another resumes it, and how long a process may fail to reach
	// the database (a busy writer waits up to 10s) before it stops sending.
	LeaseTTL time.Duration
	// SnapshotChunk is the most supporters the snapshot reads per write
	// transaction (2000); fewer when a chunk would hold the writer longer
	// than 20ms (see nextChunk).
	SnapshotChunk int
	// SnapshotPause is how long the snapshot leaves the writer free between
	// chunks (2ms), so that waiting writes go first.
	SnapshotPause time.Duration
}

func (c Config) withDefaults() Config {
	if c.Connections <= 0 {
		c.Connections = 8
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = 100
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.PageSize <= 0 {
		c.PageSize = 500
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 30 * time.Second
	}
	if c.MaxConnDown <= 0 {
		c.MaxConnDown = 2 * time.Minute
	}
	if c.MaxRefusedInRow <= 0 {
		c.MaxRefusedInRow = 50
	}
	if c.WatchInterval <= 0 {
		c.WatchInterval = 250 * time.Millisecond
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = time.Minute
	}
	if c.SnapshotChunk <= 0 {
		c.SnapshotChunk = 2000
	}
	if c.SnapshotPause <= 0 {
		c.SnapshotPause = 2 * time.Millisecond
	}
	return c
}

// InFlightLimit is how many messages may have reached SMTP without their
// result being written: after a kill -9 at most these go twice. They are
// the batch being written (FlushEvery), the results queued behind it (four
// per connection, the writer's channel) and one more message on each
// connection.
func (c Config) InFlightLimit() int {
	c = c.withDefaults()
	return c.FlushEvery + resultsQueue(c.Connections) + c.Connections
}

// resultsQueue is the writer's channel size for a number of connections.
func resultsQueue(connections int) int { return 4 * connections }

// Engine starts due campaigns and sends them. One runs per serving process.
type Engine struct {
	App      core.App
	Config   Config
	Dial     func(ctx context.Context) (mailsend.Sender, error)
	Signer   *tokens.Signer
	Identity func() (charity.Identity, error)
	Layouts  fs.FS
	// Funcs gives the template functions, made afresh for each compile so
	// that one may read data once per campaign (e.g. upcoming events).
	Funcs func() map[string]any
	// Hash gives an address's key on the suppression list: checked before
	// each send, and added for hard bounces.
	Hash func(email string) string
	// Alert tells staff something needs them (e.g. a campaign paused itself).
	Alert func(subject, text string)
	// ReturnPath, when set, gives a delivery's envelope sender (VERP), so
	// its bounces name it; "" keeps the From address.
	ReturnPath func(deliveryID string) string
	// ViewElse, when set, serves a view-in-browser link that names no
	// delivery: a message sent through a Single (a journey step).
	ViewElse func(ev *core.RequestEvent, messageID string) error

	enqueue Enqueue // test sends (BindHooks)

	mu      sync.Mutex
	running map[string]context.CancelFunc
	wg      sync.WaitGroup
	wake    *time.Timer // Tick at the next send_at due before the next tick
	base    context.Context
	stop    context.CancelFunc
	holder  string // this process's name on the leases it holds
}

// Start prepares the engine; Tick then does the work.
func (e *Engine) Start() {
	e.Config = e.Config.withDefaults()
	e.holder = newHolder()
	e.running = map[string]context.CancelFunc{}
	e.base, e.stop = context.WithCancel(context.Background())
}

// Stop ends every send: messages in flight finish and are recorded, then the
// runners return and release their leases. Campaigns stay "preparing" or
// "sending" and resume on the next start (or in another serving process).
func (e *Engine) Stop(timeout time.Duration) {
	if e.stop == nil {
		return
	}
	e.stop()
	e.mu.Lock()
	if e.wake != nil {
		e.wake.Stop()
	}
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		e.App.Logger().Warn("campaigns: stop timed out; unrecorded sends will be retried on the next start")
	}
}

// Tick starts campaigns that are due, and works on any "preparing" or
// "sending" one that has no runner here and whose lease is free (after a
// restart, a resume from the dashboard, or another process's lease expiring).
func (e *Engine) Tick() {
	if e.base == nil || e.base.Err() != nil {
		return
	}
	due, err := e.App.FindRecordsByFilter(vocab.Campaigns,
		"status = {:scheduled} && send_at != '' && send_at <= {:now}", "send_at", 20, 0,
		dbx.Params{"scheduled": vocab.CampaignScheduled, "now": types.NowDateTime().String()})
	if err != nil {
		e.App.Logger().Error("campaigns: failed to find due campaigns", "error", err.Error())
		return
	}
	for _, c := range due {
		if err := e.begin(c); err != nil {
			e.App.Logger().Error("campaigns: failed to start", "campaign", c.Id, "error", err.Error())
		}
	}
	e.armNext()
	active, err := e.App.FindRecordsByFilter(vocab.Campaigns, "status = {:p} || status = {:s}", "", 0, 0,
		dbx.Params{"p": vocab.CampaignPreparing, "s": vocab.CampaignSending})
	if err != nil {
		e.App.Logger().Error("campaigns: failed to find campaigns in progress", "error", err.Error())
		return
	}
	now := time.Now()
	for _, c := range active {
		if leaseFree(e.holder, c.GetString("lease_holder"), c.GetDateTime("lease_expires"), now) {
			e.launch(c.Id)
		}
	}
}

// TickEvery is how often the server calls Tick. A campaign due before the
// next tick gets a timer of its own, so it begins at its send_at rather
// than up to a tick late.
const TickEvery = time.Second

// armNext sets the timer for the next scheduled campaign due within
// TickEvery (and a little more, for a tick that runs late).
func (e *Engine) armNext() {
	var next string
	err := e.App.DB().NewQuery(`SELECT ifnull(min(send_at), '') FROM {{campaigns}} WHERE status = {:scheduled} AND send_at > {:now}`).
		Bind(dbx.Params{"scheduled": vocab.CampaignScheduled, "now": types.NowDateTime().String()}).Row(&next)
	if err != nil || next == "" {
		return
	}
	at, err := types.ParseDateTime(next)
	if err != nil || at.IsZero() {
		return
	}
	wait := time.Until(at.Time())
	if wait > TickEvery+TickEvery/2 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.wake != nil {
		e.wake.Stop()
	}
	e.wake = time.AfterFunc(max(wait, 0), e.Tick)
}

// begin moves a due campaign to "preparing" under this process's lease and
// starts its runner, which writes the audience (see prepare). A campaign
// that no longer renders is marked failed instead. Of several processes,
// the one whose UPDATE finds it still scheduled begins it.
func (e *Engine) begin(c *core.Record) error {
	if _, err := e.compile(c); err != nil {
		return e.finish(c.Id, vocab.CampaignFailed, "it no longer renders: "+err.Error())
	}
	now := time.Now()
	// One UPDATE: of several processes beginning it at once, one does. The
	// first chunk picks the delivery ids' prefix. A campaign sent before
	// (failed, back to draft, scheduled again) keeps its deliveries, and
	// the snapshot adds only the supporters new to it, so its total starts
	// from those it has.
	res, err := e.App.DB().NewQuery(`UPDATE {{campaigns}} SET status = {:preparing}, started_at = {:now}, updated = {:now},
		last_error = '', snapshot_prefix = '', snapshot_cursor = 0, lease_holder = {:me}, lease_expires = {:expires},
		total = (SELECT count(*) FROM {{deliveries}} WHERE campaign = {:id})
		WHERE id = {:id} AND status = {:scheduled}`).
		Bind(dbx.Params{"id": c.Id, "preparing": vocab.CampaignPreparing, "scheduled": vocab.CampaignScheduled,
			"now": dbTime(now), "me": e.holder, "expires": dbTime(now.Add(e.Config.LeaseTTL))}).Execute()
	if err != nil {
		return fmt.Errorf("failed to begin the campaign: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // begun elsewhere, or changed meanwhile
	}
	e.launch(c.Id)
	return nil
}

// launch works on a campaign unless it is already being worked on here.
func (e *Engine) launch(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.running[id]; ok || e.base.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(e.base)
	e.running[id] = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			delete(e.running, id)
			e.mu.Unlock()
			cancel()
		}()
		if err := e.work(ctx, cancel, id); err != nil {
			e.App.Logger().Error("campaigns: send stopped", "campaign", id, "error", err.Error())
		}
	}()
}

// work prepares and sends a campaign while this process holds its lease.
// Losing the lease cancels ctx (stop, at once); when the work ends the lease
// is released, after the last renewal.
func (e *Engine) work(ctx context.Context, stop context.CancelFunc, id string) error {
	ok, err := e.acquire(id)
	if err != nil || !ok {
		return err
	}
	keepCtx, endKeep := context.WithCancel(ctx)
	kept := make(chan struct{})
	go func() { defer close(kept); e.keep(keepCtx, id, stop) }()
	defer func() {
		endKeep()
		<-kept
		e.release(id)
	}()
	// The run sends each chunk of the audience as soon as it is written,
	// so a large campaign starts as quickly as a small one.
	snap := newSnapshotProgress()
	prepared := make(chan error, 1)
	go func() {
		ready, err := e.prepare(ctx, id, snap.chunked)
		snap.end(ready)
		prepared <- err
	}()
	err = e.run(ctx, id, snap)
	if perr := <-prepared; err == nil {
		err = perr
	}
	return err
}

// compile renders a campaign record's content.
func (e *Engine) compile(c *core.Record) (*Compiled, error) {
	return e.compileContent(ContentOf(c))
}

// compileContent renders content with the charity's identity and the
// template functions as they are now.
func (e *Engine) compileContent(c Content) (*Compiled, error) {
	id, err := e.Identity()
	if err != nil {
		return nil, err
	}
	var funcs map[string]any
	if e.Funcs != nil {
		funcs = e.Funcs()
	}
	return Compile(c, e.Layouts, id, funcs)
}

// Check reports whether a record with a campaign's content fields (a
// campaign, or a schedule that builds campaigns) renders.
func (e *Engine) Check(r *core.Record) error {
	_, err := e.compile(r)
	return err
}

// ContentOf reads the staff-written fields of a campaign record.
func ContentOf(c *core.Record) Content {
	return Content{
		Subject:   c.GetString("subject"),
		Preheader: c.GetString("preheader"),
		Body:      c.GetString("body"),
		Format:    c.GetString("body_format"),
		Layout:    c.GetString("layout"),
	}
}

// finish sets a campaign's final (or paused) status with a note, only if it
// is still scheduled, preparing or sending: a pause or cancel by staff at
// the same moment wins.
func (e *Engine) finish(id, status, note string) error {
	return finishIn(e.App, id, status, note)
}

func finishIn(app core.App, id, status, note string) error {
	params := dbx.Params{"id": id, "status": status, "note": clip.Runes(note, 2000), "now": types.NowDateTime().String(),
		"scheduled": vocab.CampaignScheduled, "preparing": vocab.CampaignPreparing, "sending": vocab.CampaignSending}
	q := "UPDATE {{campaigns}} SET status = {:status}, last_error = {:note}, updated = {:now}"
	if status == vocab.CampaignSent || status == vocab.CampaignFailed {
		q += ", finished_at = {:now}"
	}
	q += " WHERE id = {:id} AND status IN ({:scheduled}, {:preparing}, {:sending})"
	_, err := app.DB().NewQuery(q).Bind(params).Execute()
	if err != nil {
		return fmt.Errorf("failed to mark campaign %s %s: %w", id, status, err)
	}
	return nil
}
