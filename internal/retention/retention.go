// Package retention deletes signups that were never confirmed: a pending
// supporter whose last signup is older than the retention period (30 days
// by default) has not agreed to anything, so keeping their address would
// break the storage-limitation principle (UK GDPR Art. 5(1)(e)).
//
// Their consent rows are kept, anonymised and no longer linked to anyone:
// what was shown and when stays countable, whom it was shown to does not.
// Supporters with donations, pledges, Gift Aid declarations or campaign
// mail are never deleted here: those are financial or mail records with
// their own retention.
package retention

import (
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/vocab"
)

// DefaultAfter is how long an unconfirmed signup is kept.
const DefaultAfter = 30 * 24 * time.Hour

// Pruner deletes unconfirmed signups.
type Pruner struct {
	App core.App
	// Now is the clock; tests move it forward instead of waiting a month.
	Now func() time.Time
	// After is the retention period (DefaultAfter when zero).
	After time.Duration
	// Batch is how many supporters one transaction deletes (200 when zero),
	// so the single writer is never held for long.
	Batch int
	// Anonymise clears a consent row's personal data (erasure.Anonymise).
	Anonymise func(tx core.App, consent *core.Record) error
}

// Run deletes every expired signup and returns how many it deleted.
func (p *Pruner) Run() (int, error) {
	after, batch := p.After, p.Batch
	if after <= 0 {
		after = DefaultAfter
	}
	if batch <= 0 {
		batch = 200
	}
	cutoff := p.Now().Add(-after).UTC().Format(types.DefaultDateLayout)
	total := 0
	for {
		n := 0
		err := p.App.RunInTransaction(func(tx core.App) error {
			ids, err := expired(tx, cutoff, batch)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := p.delete(tx, id); err != nil {
					return fmt.Errorf("supporter %s: %w", id, err)
				}
			}
			n = len(ids)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("failed to delete unconfirmed signups: %w", err)
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}

// Tick runs the pruner from the cron job and logs the outcome.
func (p *Pruner) Tick() {
	n, err := p.Run()
	if err != nil {
		p.App.Logger().Error("retention: "+err.Error(), "deleted", n)
		return
	}
	if n > 0 {
		p.App.Logger().Info("retention: deleted unconfirmed signups", "deleted", n)
	}
}

// expired lists pending, never-confirmed supporters with no signup (consent
// row) since cutoff and nothing that must be kept.
func expired(tx core.App, cutoff string, limit int) ([]string, error) {
	var ids []string
	err := tx.DB().NewQuery(`
		SELECT s.id FROM {{supporters}} s
		WHERE s.status = {:pending} AND s.confirmed_at = '' AND s.created < {:cutoff}
		  AND NOT EXISTS (SELECT 1 FROM {{consents}} c WHERE c.supporter = s.id AND c.created >= {:cutoff})
		  AND NOT EXISTS (SELECT 1 FROM {{donations}} d WHERE d.supporter = s.id)
		  AND NOT EXISTS (SELECT 1 FROM {{pledges}} p WHERE p.supporter = s.id)
		  AND NOT EXISTS (SELECT 1 FROM {{gift_aid_declarations}} g WHERE g.supporter = s.id)
		  AND NOT EXISTS (SELECT 1 FROM {{deliveries}} v WHERE v.supporter = s.id)
		ORDER BY s.created LIMIT {:limit}`).
		Bind(dbx.Params{"pending": vocab.StatusPending, "cutoff": cutoff, "limit": limit}).
		Column(&ids)
	return ids, err
}

// delete anonymises the supporter's consent rows, drops the confirmation
// mail sent to them (it holds the address and a live link), and deletes
// the supporter; PocketBase then unlinks the anonymised consent rows.
func (p *Pruner) delete(tx core.App, id string) error {
	consents, err := tx.FindAllRecords(vocab.Consents, dbx.HashExp{"supporter": id})
	if err != nil {
		return err
	}
	for _, c := range consents {
		if err := p.Anonymise(tx, c); err != nil {
			return err
		}
	}
	if _, err := tx.DB().Delete(vocab.Outbox, dbx.HashExp{"supporter": id}).Execute(); err != nil {
		return err
	}
	sup, err := tx.FindRecordById(vocab.Supporters, id)
	if err != nil {
		return err
	}
	return tx.Delete(sup)
}
