// Package giftaid records Gift Aid declarations: the donor's own form
// (reached by a signed link, valid for days, mailed with a donation's thanks
// or on request from the preferences page), cancellation from the same page,
// the checks that hold for declarations admins enter in the dashboard, and
// the thank-you email that invites a declaration. See compliance.md §3 for
// what HMRC requires.
package giftaid

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/clip"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
	"supportercrm/internal/vocab"
)

// Wording is the declaration a donor agrees to online: HMRC's model wording
// for past (4 years) and future donations, with the taxpayer statement. The
// exact text and its fingerprint are stored with every declaration.
func Wording(charityName string) string {
	return "I want to Gift Aid any donations I make in the future or have made in the past 4 years to " + charityName +
		". I am a UK taxpayer and understand that if I pay less Income Tax and/or Capital Gains Tax than the amount of" +
		" Gift Aid claimed on all my donations in that tax year it is my responsibility to pay any difference."
}

// Service runs the donor-facing declaration flows.
type Service struct {
	App      core.App
	Signer   *tokens.Signer
	Views    *views.Set
	Identity func() (charity.Identity, error)
	// Suppressed reports whether an address is on the suppression list.
	Suppressed func(app core.App, email string) (bool, error)
	// Notify is called after mail is queued (the outbox worker's Wake).
	Notify func()
}

// LinkError is why a Gift Aid link can't be used; its message is for the
// donor. Nothing was changed.
type LinkError struct {
	Heading, Message string
	Err              error
}

func (e *LinkError) Error() string { return e.Heading + ": " + e.Err.Error() }
func (e *LinkError) Unwrap() error { return e.Err }

// newLink tells a donor how to get a Gift Aid link when theirs has expired,
// or is one of the retired year-long ones.
const newLink = "Gift Aid links work for 3 days. For a new one, open “Choose what you receive” in any email from us and press “Email me a Gift Aid link”: we'll send it to the address we have for you."

// Donor returns the supporter a Gift Aid link names.
func (s *Service) Donor(token string) (*core.Record, error) {
	claims, err := s.Signer.Verify(tokens.GiftAid, token)
	if err != nil {
		if errors.Is(err, tokens.ErrExpired) || errors.Is(err, tokens.ErrPurpose) {
			return nil, &LinkError{"This link has expired", newLink, err}
		}
		return nil, &LinkError{"This link doesn't work", "It may have been cut short or changed. Please copy the whole link from the email.", err}
	}
	sup, err := s.App.FindRecordById(vocab.Supporters, claims.Subject)
	if err == nil && sup.GetString("status") == vocab.StatusErased {
		err = sql.ErrNoRows
	}
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, &LinkError{"This link doesn't work", "We couldn't find the supporter record it belongs to.", err}
		}
		return nil, err
	}
	return sup, nil
}

// Active lists a supporter's declarations that have not been cancelled,
// newest first.
func Active(app core.App, supporterID string) ([]*core.Record, error) {
	return app.FindRecordsByFilter(vocab.Declarations, "supporter = {:s} && cancelled_on = ''", "-declared_on", 0, 0, dbx.Params{"s": supporterID})
}

// StoredHome returns the supporter's latest declaration that names a home
// (house, address and a UK postcode), whose home the donor may confirm
// without seeing it; nil when there is none.
func StoredHome(app core.App, supporterID string) (*core.Record, error) {
	decls, err := app.FindRecordsByFilter(vocab.Declarations, "supporter = {:s} && house != '' && address != ''", "-declared_on", 0, 0, dbx.Params{"s": supporterID})
	if err != nil {
		return nil, fmt.Errorf("failed to read Gift Aid declarations: %w", err)
	}
	for _, d := range decls {
		if Outward(d.GetString("postcode")) != "" {
			return d, nil
		}
	}
	return nil, nil
}

// Covered reports whether a supporter has a declaration in force for their
// future donations: not cancelled, covering past and future gifts (an oral
// one can't be saved without its written confirmation).
func Covered(app core.App, supporterID string) (bool, error) {
	n, err := app.CountRecords(vocab.Declarations, dbx.HashExp{"supporter": supporterID, "cancelled_on": "", "scope": vocab.ScopePastAndFuture})
	if err != nil {
		return false, fmt.Errorf("failed to check Gift Aid declarations: %w", err)
	}
	return n > 0, nil
}

// Request is a submitted declaration with where it came from.
type Request struct {
	Input
	// WordingVersion is the fingerprint of the wording the page showed; if
	// the wording changed since, the donor is asked to read it again.
	WordingVersion string
	IP, UserAgent  string
}

// Declare records an online declaration for past and future donations. Bad
// input returns field errors and writes nothing.
func (s *Service) Declare(token string, req Request) (FieldErrors, error) {
	sup, err := s.Donor(token)
	if err != nil {
		return nil, err
	}
	id, err := s.Identity()
	if err != nil {
		return nil, err
	}
	// The stored home, when the donor confirms it; without one (a stale
	// page), what they typed, which is checked as usual.
	in := req.Input
	if in.SameHome {
		home, err := StoredHome(s.App, sup.Id)
		if err != nil {
			return nil, err
		}
		if home != nil {
			in.House, in.Address, in.Postcode = home.GetString("house"), home.GetString("address"), home.GetString("postcode")
		}
	}
	clean, errs := Validate(in)
	wording := Wording(id.Name)
	if req.WordingVersion != charity.WordingVersion(wording) {
		if errs == nil {
			errs = FieldErrors{}
		}
		errs["form"] = "The declaration's wording has changed since this page was opened. Please read it again and confirm."
	}
	if errs != nil {
		return errs, nil
	}
	col, err := s.App.FindCachedCollectionByNameOrId(vocab.Declarations)
	if err != nil {
		return nil, err
	}
	r := core.NewRecord(col)
	r.Set("supporter", sup.Id)
	r.Set("title", clean.Title)
	r.Set("first_name", clean.FirstName)
	r.Set("last_name", clean.LastName)
	r.Set("house", clean.House)
	r.Set("address", clean.Address)
	r.Set("postcode", clean.Postcode)
	r.Set("declared_on", time.Now())
	r.Set("scope", vocab.ScopePastAndFuture)
	r.Set("method", vocab.DeclaredOnline)
	r.Set("wording", wording)
	r.Set("ip", clip.Runes(req.IP, 64))
	r.Set("user_agent", clip.Runes(req.UserAgent, 500))
	if err := s.App.Save(r); err != nil {
		return nil, fmt.Errorf("failed to record Gift Aid declaration: %w", err)
	}
	return nil, nil
}

// Cancel cancels every active declaration of the link's supporter from now
// on (HMRC: cancellation is prospective). The declarations are kept. It
// returns how many were cancelled; none is a success too.
func (s *Service) Cancel(token string) (int, error) {
	sup, err := s.Donor(token)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.App.RunInTransaction(func(tx core.App) error {
		n = 0
		active, err := Active(tx, sup.Id)
		if err != nil {
			return err
		}
		for _, d := range active {
			d.Set("cancelled_on", time.Now())
			d.Set("cancellation_note", "Cancelled by the donor on the Gift Aid page.")
			if err := tx.Save(d); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("failed to cancel Gift Aid declarations: %w", err)
	}
	return n, nil
}
