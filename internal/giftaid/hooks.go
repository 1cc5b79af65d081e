package giftaid

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/outbox"
	"supportercrm/internal/tokens"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// When a donation is thanked: recent gifts only (an import of last year's
// donations must not mail every donor), at most one thank-you per donor per
// period (a weekly pledge payment isn't a weekly email), and never for
// money that can't be Gift Aided or whose donor we can't email. The
// thank-you invites a Gift Aid declaration when none covers the gift.
const (
	thankWithin   = 30 * 24 * time.Hour
	thankEvery    = 30 * 24 * time.Hour
	noThanksFor   = "other"
	dateForPeople = "2 January 2006"
)

// unreachable statuses get no thank-you email.
var unreachable = []string{vocab.StatusBounced, vocab.StatusComplained, vocab.StatusErased}

// BindHooks binds, for every writer (dashboard, REST API, imports, Go):
// the checks on Gift Aid declarations, and the thank-you email queued in the
// same transaction as a donation (with the Gift Aid link when no
// declaration covers it).
func (s *Service) BindHooks() {
	check := func(e *core.RecordEvent) error {
		if err := s.checkDeclaration(e.Record); err != nil {
			return err
		}
		return e.Next()
	}
	s.App.OnRecordCreate(vocab.Declarations).BindFunc(check)
	s.App.OnRecordUpdate(vocab.Declarations).BindFunc(check)
	s.App.OnRecordCreate(vocab.Donations).BindFunc(func(e *core.RecordEvent) error {
		return e.App.RunInTransaction(func(tx core.App) error {
			e.App = tx
			if err := e.Next(); err != nil {
				return err
			}
			queued, err := s.thank(tx, e.Record)
			if err != nil || !queued || s.Notify == nil {
				return err
			}
			if info := tx.TxInfo(); info != nil {
				info.OnComplete(func(txErr error) error {
					if txErr == nil {
						s.Notify()
					}
					return nil
				})
			}
			return nil
		})
	})
}

// checkDeclaration holds for online declarations and those admins enter:
// a UK postcode in HMRC's form, an oral declaration only once its written
// confirmation was sent, the wording recorded with its fingerprint, and a
// cancellation never undone.
func (s *Service) checkDeclaration(r *core.Record) error {
	errs := validation.Errors{}
	if pc, ok := NormalizePostcode(r.GetString("postcode")); ok {
		r.Set("postcode", pc)
	} else {
		errs["postcode"] = validation.NewError("invalid_postcode", "Enter a UK postcode, like LS1 1AA.")
	}
	if r.GetString("method") == vocab.DeclaredOral && r.GetDateTime("confirmation_sent_on").IsZero() {
		errs["confirmation_sent_on"] = validation.NewError("confirmation_required",
			"An oral declaration is valid only once the donor has been sent a written record of it (with their right to cancel within 30 days): enter the date it was sent.")
	}
	if !r.IsNew() {
		if was := r.Original().GetDateTime("cancelled_on"); !was.IsZero() && r.GetDateTime("cancelled_on") != was {
			errs["cancelled_on"] = validation.NewError("cancelled", "A cancellation can't be changed or undone; record a new declaration instead.")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if strings.TrimSpace(r.GetString("wording")) == "" {
		id, err := s.Identity()
		if err != nil {
			return err
		}
		r.Set("wording", Wording(id.Name))
	}
	r.Set("wording_version", charity.WordingVersion(r.GetString("wording")))
	return nil
}

// thankYou is what the thank-you email templates see.
type thankYou struct {
	Charity        charity.Identity
	FirstName      string
	Amount         string
	Date           string
	GiftAidURL     string
	PreferencesURL string
	UnsubscribeURL string
}

// thank queues a thank-you when the donation is recent, of a kind Gift Aid
// applies to, from a reachable donor who hasn't been thanked lately; it
// invites Gift Aid when no declaration covers the gift. It reports whether
// mail was queued.
func (s *Service) thank(tx core.App, d *core.Record) (bool, error) {
	if d.GetString("method") == noThanksFor || time.Since(d.GetDateTime("donated_on").Time()) > thankWithin {
		return false, nil
	}
	sup, err := tx.FindRecordById(vocab.Supporters, d.GetString("supporter"))
	if err != nil {
		return false, err
	}
	email := sup.GetString("email")
	if slices.Contains(unreachable, sup.GetString("status")) {
		return false, nil
	}
	covered, err := Covered(tx, sup.Id)
	if err != nil {
		return false, err
	}
	covered = covered || d.GetString("gift_aid_declaration") != ""
	if recent, err := outbox.QueuedSince(tx, email, vocab.KindThankYou, time.Now().Add(-thankEvery)); err != nil || recent {
		return false, err
	}
	if no, err := s.Suppressed(tx, email); err != nil || no {
		return false, err
	}
	id, err := s.Identity()
	if err != nil {
		return false, err
	}
	first := sup.GetString("first_name")
	data := thankYou{
		Charity:        id,
		FirstName:      first,
		Amount:         fmt.Sprintf("£%d.%02d", d.GetInt("amount_pence")/100, d.GetInt("amount_pence")%100),
		Date:           d.GetDateTime("donated_on").Time().In(london).Format(dateForPeople),
		PreferencesURL: s.link(id, "/preferences", tokens.Preferences, sup.Id, tokens.PreferencesTTL),
	}
	if !covered {
		data.GiftAidURL = s.link(id, "/gift-aid", tokens.GiftAid, sup.Id, tokens.GiftAidTTL)
	}
	if data.FirstName == "" {
		data.FirstName = "friend"
	}
	m, err := s.Views.Email("thank_you", data)
	if err != nil {
		return false, err
	}
	_, err = outbox.Enqueue(tx, outbox.Mail{
		To: email, ToName: strings.TrimSpace(first + " " + sup.GetString("last_name")), SupporterID: sup.Id,
		Kind: vocab.KindThankYou, Subject: m.Subject, HTML: m.HTML, Text: m.Text,
	})
	return err == nil, err
}

func (s *Service) link(id charity.Identity, path string, p tokens.Purpose, subject string, ttl time.Duration) string {
	return id.AppURL + path + "?token=" + url.QueryEscape(s.Signer.Sign(p, subject, ttl))
}

// london is where donors read dates.
var london = tz.London
