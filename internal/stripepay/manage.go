package stripepay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/stripe/stripe-go/v82"

	"supportercrm/internal/vocab"
)

// manageLinksPerDay caps the links one address is sent, so the form can't
// be used to flood someone's inbox.
const manageLinksPerDay = 3

// manageFloor is the least time a request for a link takes to answer, so
// its time doesn't tell a donor's address from anyone else's.
const manageFloor = 40 * time.Millisecond

// manageAnswer is the one answer to every request for a link.
const manageAnswer = "If that address has a regular gift with us, we've emailed it a link to manage it. The link works for 24 hours. If it doesn't arrive, please check your spam folder."

// sendManageLink emails the donor with this address a link to their
// customer portal, when they have a regular gift collected by Stripe. The
// caller answers the same whatever happened.
func (s *Service) sendManageLink(email string) error {
	start := time.Now()
	defer func() { time.Sleep(time.Until(start.Add(manageFloor))) }()
	queued := false
	err := s.App.RunInTransaction(func(tx core.App) error {
		queued = false
		sup, err := tx.FindFirstRecordByData(vocab.Supporters, "email", email)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		p, err := portalPledge(tx, sup.Id)
		if err != nil || p == nil {
			return err
		}
		n, err := tx.CountRecords(vocab.Outbox, dbx.HashExp{"to": email, "kind": vocab.KindManageLink},
			dbx.NewExp("created > {:since}", dbx.Params{"since": time.Now().Add(-24 * time.Hour).UTC().Format(types.DefaultDateLayout)}))
		if err != nil || n >= manageLinksPerDay {
			return err
		}
		queued, err = s.queueGiftMail(tx, sup, p, vocab.KindManageLink, "manage_link")
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to queue a manage link: %w", err)
	}
	if queued && s.Notify != nil {
		s.Notify()
	}
	return nil
}

// portalPledge is the supporter's latest Stripe pledge with a customer
// portal to manage it in, or nil.
func portalPledge(tx core.App, supporterID string) (*core.Record, error) {
	p, err := tx.FindFirstRecordByFilter(vocab.Pledges, "supporter = {:s} && provider = {:p} && customer != ''",
		dbx.Params{"s": supporterID, "p": vocab.ProviderStripe})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return p, err
}

// errNoPortal is a link whose supporter has no Stripe pledge any more.
var errNoPortal = errors.New("no regular gift to manage")

// portalURL opens a customer portal session for the supporter a manage
// link names; Stripe's session URL lasts minutes, which is why the mail
// carries our link rather than Stripe's.
func (s *Service) portalURL(ctx context.Context, token string) (string, error) {
	c, err := s.Signer.Verify(portalPurpose, token)
	if err != nil {
		return "", err
	}
	p, err := portalPledge(s.App, c.Subject)
	if err != nil {
		return "", err
	}
	if p == nil {
		return "", errNoPortal
	}
	id, err := s.Identity()
	if err != nil {
		return "", err
	}
	sess, err := s.stripe.V1BillingPortalSessions.Create(ctx, &stripe.BillingPortalSessionCreateParams{
		Customer: stripe.String(p.GetString("customer")), ReturnURL: stripe.String(id.AppURL + "/sponsor-a-room"),
	})
	if err != nil {
		return "", fmt.Errorf("stripe refused a portal session: %w", stripeErr(err))
	}
	return sess.URL, nil
}
