package pb_hooks

import (
	"errors"
	"net/http"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/erasure"
	"supportercrm/internal/giftaid"
	"supportercrm/internal/signup"
)

// privacyRoutes adds the public Gift Aid page and the admins' erasure action.
func privacyRoutes(se *core.ServeEvent, s *signup.Service) {
	gift := &giftaid.Handlers{S: &giftaid.Service{App: s.App, Signer: s.Signer, Views: s.Views, Identity: s.Identity, Suppressed: signup.IsSuppressed, Notify: s.Notify}}
	se.Router.GET("/gift-aid", gift.Page)
	se.Router.POST("/gift-aid", gift.Submit).Bind(apis.BodyLimit(bodyLimit))
	se.Router.POST("/gift-aid/request", gift.Request).Bind(apis.BodyLimit(bodyLimit))

	eraser := &erasure.Eraser{App: s.App, Hash: signup.HashEmail}
	se.Router.POST("/api/crm/supporters/{id}/erase", func(e *core.RequestEvent) error {
		res, err := eraser.Erase(e.Request.PathValue("id"))
		if errors.Is(err, erasure.ErrNotFound) {
			return e.NotFoundError("No supporter has that id.", nil)
		}
		if err != nil {
			return err
		}
		return e.JSON(http.StatusOK, res)
	}).Bind(adminOnly()...)
	crmRoutes(se, s)
}
