package campaigns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tools/types"
)

// A lease makes one process prepare and send a campaign, however many serve
// the same pb_data (an overlapping deploy). The campaign row names its
// holder and when the lease expires; the holder renews it every
// LeaseTTL/6 while it works, and another process takes it only once it has
// expired. A holder that finds its lease taken, or cannot renew it before it
// would expire, stops sending at once; a graceful stop releases it so that
// another process may take over straight away. After a crash the campaign
// waits for its lease to expire, then the next process to tick resumes it.
//
// Every change is one conditional UPDATE of the campaign's row, so two
// processes racing for a lease cannot both win it.

// newHolder names this process: its host and pid, for whoever reads the
// row, and a random part, unique even when a pid is reused.
func newHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// leaseFree reports whether a campaign's lease may be taken by holder: it
// is free, holder's own, or expired.
func leaseFree(holder, current string, expires types.DateTime, now time.Time) bool {
	return current == "" || current == holder || !expires.Time().After(now)
}

// acquire takes the campaign's lease for this process, if free.
func (e *Engine) acquire(id string) (bool, error) {
	now := time.Now()
	res, err := e.App.DB().NewQuery(`UPDATE {{campaigns}} SET lease_holder = {:me}, lease_expires = {:expires}
		WHERE id = {:id} AND (lease_holder IN ('', {:me}) OR lease_expires <= {:now})`).
		Bind(dbx.Params{"id": id, "me": e.holder, "now": dbTime(now), "expires": dbTime(now.Add(e.Config.LeaseTTL))}).Execute()
	if err != nil {
		return false, fmt.Errorf("failed to take the campaign's lease: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// renew extends this process's lease; false when it is no longer ours.
func (e *Engine) renew(id string) (bool, error) {
	res, err := e.App.DB().NewQuery(`UPDATE {{campaigns}} SET lease_expires = {:expires} WHERE id = {:id} AND lease_holder = {:me}`).
		Bind(dbx.Params{"id": id, "me": e.holder, "expires": dbTime(time.Now().Add(e.Config.LeaseTTL))}).Execute()
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// release gives the lease up, if it is still ours.
func (e *Engine) release(id string) {
	_, err := e.App.DB().NewQuery(`UPDATE {{campaigns}} SET lease_holder = '', lease_expires = '' WHERE id = {:id} AND lease_holder = {:me}`).
		Bind(dbx.Params{"id": id, "me": e.holder}).Execute()
	if err != nil {
		e.App.Logger().Warn("campaigns: failed to release a lease; it will expire", "campaign", id, "error", err.Error())
	}
}

// keep renews the lease every LeaseTTL/6 until ctx ends, and calls lost (which
// must stop the work) once the lease is another's, or once it may expire
// before it can be renewed: LeaseTTL after the last renewal, less one
// renewal interval for safety.
func (e *Engine) keep(ctx context.Context, id string, lost context.CancelFunc) {
	every := e.Config.LeaseTTL / 6
	t := time.NewTicker(every)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := e.renew(id)
		switch {
		case err == nil && ok:
			renewed = time.Now()
		case err == nil:
			e.App.Logger().Warn("campaigns: another process holds this campaign's lease; stopping here", "campaign", id)
			lost()
			return
		case time.Since(renewed) > e.Config.LeaseTTL-every:
			e.App.Logger().Error("campaigns: could not renew the lease in time; stopping here", "campaign", id, "error", err.Error())
			lost()
			return
		default:
			e.App.Logger().Warn("campaigns: failed to renew the lease; will retry", "campaign", id, "error", err.Error())
		}
	}
}

// dbTime formats t as PocketBase stores dates (UTC, so they compare as text).
func dbTime(t time.Time) string {
	return t.UTC().Format(types.DefaultDateLayout)
}
