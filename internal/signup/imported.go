package signup

import (
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// The importer's entry points: the same consent rows and confirmation email
// as the web flows, written inside the importer's batch transaction.

// ImportedConsent builds (and leaves for the importer to store) the record
// of consent captured outside the app (a paper form, an older system): who,
// which topics, the evidence as the admin gave it and when it was given.
// wording is what the supporter agreed to, when the file says.
func ImportedConsent(tx core.App, sup *core.Record, topicIDs, slugs []string, evidence string, givenAt time.Time, wording string) (*core.Record, error) {
	c := importGrant(sup, topicIDs, slugs)
	c.wording, c.evidence, c.givenAt = wording, evidence, givenAt
	return buildConsent(tx, c)
}

// importGrant is a grant of topics recorded by an import, with the names
// the supporter has.
func importGrant(sup *core.Record, topicIDs, slugs []string) consentRow {
	return consentRow{
		supporter: sup, action: vocab.ActionGrant, topicIDs: topicIDs, slugs: slugs, method: vocab.MethodImport,
		details: map[string]string{"first_name": sup.GetString("first_name"), "last_name": sup.GetString("last_name")},
	}
}

// Invite asks an imported address to confirm, as a signup would: a grant row
// awaiting confirmation, and the confirmation email queued (sent once this
// transaction commits and the outbox worker runs).
func (s *Service) Invite(tx core.App, sup *core.Record, topicIDs, slugs []string) error {
	id, err := s.Identity()
	if err != nil {
		return err
	}
	consentID := core.GenerateDefaultRandomId()
	m, err := s.confirmMail(id, sup.GetString("first_name"), consentID)
	if err != nil {
		return err
	}
	c := importGrant(sup, topicIDs, slugs)
	c.id, c.wording = consentID, id.ConsentWording
	if _, err := s.consentRow(tx, c); err != nil {
		return err
	}
	return s.enqueue(tx, sup, vocab.KindConfirm, sup.GetString("first_name"), m)
}

// Withdraw records an unsubscribe that happened elsewhere (an older system's
// unsubscribe list): status unsubscribed, a withdrawal row, queued mail cancelled.
func (s *Service) Withdraw(tx core.App, sup *core.Record) error {
	return s.withdrawAll(tx, sup, vocab.MethodImport, "", "")
}
