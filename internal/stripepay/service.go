package stripepay

import (
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/stripe/stripe-go/v82"

	"supportercrm/internal/charity"
	"supportercrm/internal/signup"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
	"supportercrm/internal/vocab"
)

// Service runs online giving. Build it with New.
type Service struct {
	App      core.App
	Config   Config
	Signer   *tokens.Signer
	Views    *views.Set
	Identity func() (charity.Identity, error)
	// Signup records the newsletter box's consent and mails its
	// confirmation, as a signup does.
	Signup *signup.Service
	// Alert tells the admins (failed payments, a refund of a claimed gift).
	Alert func(subject, text string)
	// Notify is called after mail is queued (the outbox worker's Wake).
	Notify func()
	// MinSubmit is the shortest believable time to fill a form; faster
	// posts are bots.
	MinSubmit time.Duration

	stripe *stripe.Client
}

// New returns the service; a Config without keys gives pages that say
// online giving isn't set up.
func New(s Service) *Service {
	if s.Config.SecretKey != "" {
		s.stripe = s.Config.client()
	}
	return &s
}

// settings reads the charity's giving settings, with the defaults of the
// migration for a record that lacks them.
func (s *Service) settings() (amounts, error) {
	a := amounts{Suggested: []int64{1000, 2500, 5000, 10000}, RoomWeek: 250, RoomStep: 250}
	recs, err := s.App.FindRecordsByFilter(vocab.Charity, "", "created", 1, 0)
	if err != nil || len(recs) == 0 {
		return a, err
	}
	r := recs[0]
	var suggested []int64
	if r.UnmarshalJSONField("donation_amounts", &suggested) == nil && len(suggested) > 0 {
		a.Suggested = suggested
	}
	if n := int64(r.GetInt("room_week_pence")); n > 0 {
		a.RoomWeek = n
	}
	if n := int64(r.GetInt("room_step_pence")); n > 0 {
		a.RoomStep = n
	}
	a.GivingURL = r.GetString("giving_url")
	return a, nil
}
