package signup

import (
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/outbox"
	"supportercrm/internal/vocab"
)

// queueWelcome queues the welcome email. It is the first message of the
// subscription, not a transactional one, so it carries the one-click
// unsubscribe a campaign does (List-Unsubscribe and List-Unsubscribe-Post,
// which the outbox adds when it sends); the confirmation before it, sent to
// an address that has agreed to nothing yet, does not.
func (s *Service) queueWelcome(tx core.App, sup *core.Record, d mailData) error {
	m, err := s.Views.Email("welcome", d)
	if err != nil {
		return err
	}
	mail := mailTo(sup, vocab.KindWelcome, sup.GetString("first_name"), m)
	mail.Unsubscribe = d.UnsubscribeURL
	_, err = outbox.Enqueue(tx, mail)
	return err
}
