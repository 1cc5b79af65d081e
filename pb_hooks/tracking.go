package pb_hooks

import (
	"database/sql"
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/groupcommit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/tracking"
	"supportercrm/internal/vocab"
)

// bindTracking serves the tracked campaigns' redirect and pixel (public,
// signed) and their results for staff.
func bindTracking(app core.App, signer *tokens.Signer, writes *groupcommit.Committer) {
	h := &tracking.Handlers{Signer: signer, Writes: writes}
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.GET(tracking.ClickPath, h.Click)
		se.Router.GET(tracking.OpenPath, h.Open)
		se.Router.GET("/api/crm/campaigns/{id}/engagement", campaignEngagement).
			Bind(apis.RequireAuth(core.CollectionNameSuperusers, vocab.Staff))
		return se.Next()
	})
}

// campaignEngagement answers a campaign's opens, clicks, top links and
// unsubscribes.
func campaignEngagement(e *core.RequestEvent) error {
	c, err := e.App.FindRecordById(vocab.Campaigns, e.Request.PathValue("id"))
	if errors.Is(err, sql.ErrNoRows) {
		return e.NotFoundError("No campaign has that id.", nil)
	}
	if err != nil {
		return err
	}
	res, err := tracking.ResultsOf(e.App, c)
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, res)
}
