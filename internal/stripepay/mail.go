package stripepay

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/giving"
	"supportercrm/internal/outbox"
	"supportercrm/internal/tokens"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// portalPurpose signs the "manage my sponsorship" link: it opens Stripe's
// customer portal for one supporter's regular gifts, so it goes only to the
// address on file and lasts a day.
const (
	portalPurpose tokens.Purpose = "stripe_portal"
	portalTTL                    = 24 * time.Hour
	portalPath                   = "/sponsor-a-room/manage/portal"
)

// dateForPeople is how the mail writes a date.
const dateForPeople = "2 January 2006"

var london = tz.London

// unreachable statuses get no mail about their giving.
var unreachable = []string{vocab.StatusBounced, vocab.StatusComplained, vocab.StatusErased}

// giftMail is what the payment_failed and manage_link templates see.
type giftMail struct {
	Charity        charity.Identity
	FirstName      string
	Purpose        string
	Amount         string
	Frequency      string
	ManageURL      string
	PreferencesURL string // the layout's; empty, as these are no list mail
	UnsubscribeURL string
}

// portalLink is a signed link to the supporter's customer portal.
func (s *Service) portalLink(id charity.Identity, supporterID string) string {
	return id.AppURL + portalPath + "?token=" + url.QueryEscape(s.Signer.Sign(portalPurpose, supporterID, portalTTL))
}

// queueGiftMail renders a template for a supporter's pledge and queues it
// to the address on file, unless it can't be reached.
func (s *Service) queueGiftMail(tx core.App, sup, p *core.Record, kind, template string) (bool, error) {
	if slices.Contains(unreachable, sup.GetString("status")) {
		return false, nil
	}
	id, err := s.Identity()
	if err != nil {
		return false, err
	}
	id = outbox.LinksAtSend(id)
	first := sup.GetString("first_name")
	data := giftMail{Charity: id, FirstName: first, ManageURL: s.portalLink(id, sup.Id)}
	if data.FirstName == "" {
		data.FirstName = "friend"
	}
	if p != nil {
		data.Purpose = strings.ToLower(p.GetString("purpose"))
		data.Amount = giving.Pounds(int64(p.GetInt("amount_pence")))
		data.Frequency = map[string]string{vocab.PledgeWeekly: "a week", vocab.PledgeMonthly: "a month"}[p.GetString("frequency")]
	}
	m, err := s.Views.Email(template, data)
	if err != nil {
		return false, err
	}
	_, err = outbox.Enqueue(tx, outbox.Mail{
		To: sup.GetString("email"), ToName: strings.TrimSpace(first + " " + sup.GetString("last_name")), SupporterID: sup.Id,
		Kind: kind, Subject: m.Subject, HTML: m.HTML, Text: m.Text,
	})
	return err == nil, err
}

// tellDonor writes to the donor of a pledge Stripe stopped collecting.
func (s *Service) tellDonor(tx core.App, p *core.Record) error {
	sup, err := tx.FindRecordById(vocab.Supporters, p.GetString("supporter"))
	if err != nil {
		return err
	}
	_, err = s.queueGiftMail(tx, sup, p, vocab.KindPaymentFailed, "payment_failed")
	return err
}
