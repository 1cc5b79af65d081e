package journeys

import (
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/vocab"
)

// View serves the view-in-browser link of a journey email (the engine's
// ViewElse: the link's signed subject is the send's id). It shows the step
// as it is now, to its own supporter, while both exist.
func (s *Service) View(ev *core.RequestEvent, sendID string) error {
	gone := func() error { return ev.NotFoundError("This email is no longer available.", nil) }
	send, err := s.App.FindRecordById(vocab.JourneySends, sendID)
	if err != nil {
		return gone()
	}
	step, err := s.App.FindRecordById(vocab.JourneySteps, send.GetString("step"))
	if err != nil {
		return gone()
	}
	sup, err := s.App.FindRecordById(vocab.Supporters, send.GetString("supporter"))
	if err != nil || sup.GetString("status") == vocab.StatusErased {
		return gone()
	}
	return s.Engine.ServeCopy(ev, campaigns.ContentOf(step), campaigns.Addressee{ID: send.Id, Supporter: sup.Id,
		Email: sup.GetString("email"), FirstName: sup.GetString("first_name"), LastName: sup.GetString("last_name")})
}
