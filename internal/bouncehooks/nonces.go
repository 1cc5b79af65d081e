package bouncehooks

import (
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// NonceTable holds the signature tokens already accepted, for providers
// whose signature does not cover the event (Mailgun): a plain table that
// only this package reads (no REST API, no rules).
const NonceTable = "webhook_nonces"

// claimNonce records nonce as used, in the transaction that applies its
// reports, so a failed request leaves it free for the provider's retry and
// a restart forgets nothing. A nonce seen before is refused. Rows older
// than keep (past any replay window) are dropped as it goes.
func claimNonce(tx core.App, provider, nonce string, now time.Time, keep time.Duration) error {
	if _, err := tx.DB().Delete(NonceTable, dbx.NewExp("seen_at < {:cutoff}", dbx.Params{"cutoff": now.Add(-keep).Unix()})).Execute(); err != nil {
		return err
	}
	_, err := tx.DB().Insert(NonceTable, dbx.Params{"provider": provider, "nonce": nonce, "seen_at": now.Unix()}).Execute()
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return unauthorized("signature.token was used before")
	}
	return err
}
