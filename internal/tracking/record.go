package tracking

import (
	"net/http"
	"strconv"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/groupcommit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// recordSQL writes an event only for a delivery of a campaign with tracking
// on, to a supporter still subscribed: one statement, so the check and the
// write can't drift apart.
var recordSQL = "INSERT INTO " + vocab.TrackingEvents + " (id, delivery, campaign, supporter, kind, link, url, created, updated) " +
	"SELECT substr(lower(hex(randomblob(8))), 1, 15), d.id, d.campaign, d.supporter, {:kind}, {:link}, {:url}, {:now}, {:now} " +
	"FROM " + vocab.Deliveries + " d JOIN " + vocab.Campaigns + " c ON c.id = d.campaign JOIN " + vocab.Supporters + " s ON s.id = d.supporter " +
	"WHERE d.id = {:d} AND c.tracking = 1 AND s.status = '" + vocab.StatusSubscribed + "'"

// Handlers serve the redirect and the pixel. Writes go through the group
// committer: a campaign's clicks arrive in bursts.
type Handlers struct {
	Signer *tokens.Signer
	Writes *groupcommit.Committer
}

// record adds one event; a failure is logged, never shown: the reader still
// gets their page.
func (h *Handlers) record(e *core.RequestEvent, delivery, kind string, link int, target string) {
	err := h.Writes.Do(func(tx core.App) error {
		_, err := tx.DB().NewQuery(recordSQL).Bind(dbx.Params{
			"kind": kind, "link": link, "url": target, "now": types.NowDateTime().String(), "d": delivery,
		}).Execute()
		return err
	})
	if err != nil {
		e.App.Logger().Error("tracking: failed to record an event", "kind", kind, "error", err.Error())
	}
}

// Click redirects a signed link (302), recording the click. A tampered or
// forged link gets 400 and goes nowhere.
func (h *Handlers) Click(e *core.RequestEvent) error {
	q := e.Request.URL.Query()
	c, err := VerifyClick(h.Signer, q.Get("t"), q.Get("u"))
	if err != nil {
		return e.BadRequestError(err.Error(), nil)
	}
	h.record(e, c.Delivery, vocab.TrackClick, c.Link, c.URL)
	noStore(e)
	return e.Redirect(http.StatusFound, c.URL)
}

// pixel is a transparent 1×1 GIF.
var pixel = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// Open serves the pixel, recording the open when its token is valid. It
// sets no cookie and forbids caching, so every open reaches it.
func (h *Handlers) Open(e *core.RequestEvent) error {
	if c, err := h.Signer.Verify(tokens.Open, e.Request.URL.Query().Get("t")); err == nil {
		h.record(e, c.Subject, vocab.TrackOpen, 0, "")
	}
	noStore(e)
	e.Response.Header().Set("Content-Length", strconv.Itoa(len(pixel)))
	return e.Blob(http.StatusOK, "image/gif", pixel)
}

func noStore(e *core.RequestEvent) {
	hd := e.Response.Header()
	hd.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	hd.Set("Pragma", "no-cache")
	hd.Set("Expires", "0")
}
