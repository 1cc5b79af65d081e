// Package segments keeps saved audiences honest: a segment must read as a
// campaigns.Segment (each field checked, the problem named), giving filters
// are for admins (giving is admin data: comms staff may neither write a
// segment that filters on it, nor target one, nor count one), and a segment
// a campaign or schedule still relies on can't be deleted (the audience
// would widen). Count answers how many a segment or a campaign reaches,
// with the query the snapshot runs.
package segments

import (
	"errors"
	"net/http"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/vocab"
)

// BindHooks binds the checks on segments and on what targets them.
func BindHooks(app core.App) {
	app.OnRecordValidate(vocab.Segments).BindFunc(func(e *core.RecordEvent) error {
		if _, err := campaigns.SegmentOf(e.Record); err != nil {
			var ae *campaigns.AudienceError
			if errors.As(err, &ae) {
				return ae.Validation()
			}
			return err
		}
		return e.Next()
	})
	writes := func(e *core.RecordRequestEvent) error {
		if gives(e.Record) || (!e.Record.IsNew() && gives(e.Record.Original())) {
			if err := adminOnly(e.RequestEvent); err != nil {
				return err
			}
		}
		return e.Next()
	}
	app.OnRecordCreateRequest(vocab.Segments).BindFunc(writes)
	app.OnRecordUpdateRequest(vocab.Segments).BindFunc(writes)
	app.OnRecordDeleteRequest(vocab.Segments).BindFunc(writes)
	app.OnRecordDelete(vocab.Segments).BindFunc(func(e *core.RecordEvent) error {
		n, err := users(e.App, e.Record.Id)
		if err != nil {
			return err
		}
		if n > 0 {
			return validation.Errors{"id": validation.NewError("validation_in_use",
				"This segment is the audience of a campaign not yet sent or of a schedule; change those first.")}
		}
		return e.Next()
	})
	targets := func(e *core.RecordRequestEvent) error {
		if id := e.Record.GetString("segment"); id != "" && id != e.Record.Original().GetString("segment") {
			seg, err := e.App.FindRecordById(vocab.Segments, id)
			if err == nil && gives(seg) {
				if err := adminOnly(e.RequestEvent); err != nil {
					return err
				}
			}
		}
		return e.Next()
	}
	for _, c := range []string{vocab.Campaigns, vocab.Schedules} {
		app.OnRecordCreateRequest(c).BindFunc(targets)
		app.OnRecordUpdateRequest(c).BindFunc(targets)
	}
}

func gives(r *core.Record) bool { return r.GetString("giving") != "" }

// adminOnly refuses comms staff, naming the giving field.
func adminOnly(e *core.RequestEvent) error {
	if e.HasSuperuserAuth() || (e.Auth != nil && e.Auth.Collection().Name == vocab.Staff && e.Auth.GetString("role") == vocab.RoleAdmin) {
		return nil
	}
	return e.ForbiddenError("Giving filters are for admins: giving is admin data.",
		validation.Errors{"giving": validation.NewError("validation_admins_only", "Only admins can use giving filters.")})
}

// users counts the campaigns not yet done and the schedules that target segment id.
func users(app core.App, id string) (int, error) {
	var n int
	err := app.DB().NewQuery(`SELECT (SELECT count(*) FROM {{campaigns}} WHERE segment = {:id} AND status NOT IN ({:sent}, {:cancelled}))
		+ (SELECT count(*) FROM {{schedules}} WHERE segment = {:id})`).
		Bind(dbx.Params{"id": id, "sent": vocab.CampaignSent, "cancelled": vocab.CampaignCancelled}).Row(&n)
	return n, err
}

// CountSegment serves GET /api/crm/segments/{id}/count: how many subscribed
// supporters, in any topic, are in the segment now: {"count": n}.
func CountSegment(e *core.RequestEvent) error {
	seg, err := e.App.FindRecordById(vocab.Segments, e.Request.PathValue("id"))
	if err != nil {
		return e.NotFoundError("No such segment.", nil)
	}
	if gives(seg) {
		if err := adminOnly(e); err != nil {
			return err
		}
	}
	s, err := campaigns.SegmentOf(seg)
	if err != nil {
		return e.BadRequestError(err.Error(), nil)
	}
	a := campaigns.Audience{Segment: &s}
	if err := e.App.DB().Select("id").From(vocab.Topics).Column(&a.Topics); err != nil {
		return err
	}
	return answer(e, func() (int, error) { return campaigns.CountAudience(e.App, a) })
}

// CountCampaign serves GET /api/crm/{campaigns|schedules}/{id}/count: how
// many the snapshot would write for it now: {"count": n}.
func CountCampaign(collection string) func(e *core.RequestEvent) error {
	return func(e *core.RequestEvent) error {
		c, err := e.App.FindRecordById(collection, e.Request.PathValue("id"))
		if err != nil {
			return e.NotFoundError("Not found.", nil)
		}
		if id := c.GetString("segment"); id != "" {
			if seg, err := e.App.FindRecordById(vocab.Segments, id); err == nil && gives(seg) {
				if err := adminOnly(e); err != nil {
					return err
				}
			}
		}
		return answer(e, func() (int, error) { return campaigns.CountCampaign(e.App, c) })
	}
}

func answer(e *core.RequestEvent, count func() (int, error)) error {
	n, err := count()
	var ae *campaigns.AudienceError
	if errors.As(err, &ae) {
		return e.BadRequestError(ae.Error(), ae.Validation())
	}
	if err != nil {
		return err
	}
	return e.JSON(http.StatusOK, map[string]int{"count": n})
}
