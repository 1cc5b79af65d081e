package signup

import (
	"slices"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// OptIn is a newsletter box ticked on another form (the giving forms),
// recorded once that form's business is done (a gift paid): the same
// consent row as a signup (topics, the wording shown and its version, how,
// from where, when it was given) and the same confirmation email, written
// in the caller's transaction. A supporter already subscribed to the
// topics is left as they are (one subscribed to others keeps them); a complained or erased one is never mailed.
func (s *Service) OptIn(tx core.App, sup *core.Record, topics []Topic, wording, method, ip, userAgent string, givenAt time.Time) error {
	switch sup.GetString("status") {
	case vocab.StatusComplained, vocab.StatusErased:
		return nil
	case vocab.StatusSubscribed:
		mine := sup.GetStringSlice("topics")
		if !slices.ContainsFunc(topics, func(t Topic) bool { return !slices.Contains(mine, t.ID) }) {
			return nil
		}
	}
	id, err := s.Identity()
	if err != nil {
		return err
	}
	// Confirming sets the supporter's topics to the row's, so a subscriber's
	// own topics go in beside the new ones.
	var ids []string
	if sup.GetString("status") == vocab.StatusSubscribed {
		ids = slices.Clone(sup.GetStringSlice("topics"))
	}
	for _, t := range topics {
		if !slices.Contains(ids, t.ID) {
			ids = append(ids, t.ID)
		}
	}
	slugs := s.slugs(tx, ids)
	consentID := core.GenerateDefaultRandomId()
	m, err := s.confirmMail(id, sup.GetString("first_name"), consentID)
	if err != nil {
		return err
	}
	_, err = s.consentRow(tx, consentRow{
		id: consentID, supporter: sup, action: vocab.ActionGrant, topicIDs: ids, slugs: slugs,
		details: map[string]string{"first_name": sup.GetString("first_name"), "last_name": sup.GetString("last_name")},
		wording: wording, method: method, ip: ip, userAgent: userAgent, givenAt: givenAt,
	})
	if err != nil {
		return err
	}
	return s.enqueue(tx, sup, vocab.KindConfirm, sup.GetString("first_name"), m)
}
