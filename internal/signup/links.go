package signup

import (
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/outbox"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// LinkError is why a mailed link can't be used. Its message is written for
// the supporter; nothing was changed.
type LinkError struct {
	Heading string
	Message string
	Err     error
}

func (e *LinkError) Error() string { return e.Heading + ": " + e.Err.Error() }
func (e *LinkError) Unwrap() error { return e.Err }

func linkError(err error, what string) *LinkError {
	switch {
	case errors.Is(err, tokens.ErrExpired) && what == "confirmation":
		return &LinkError{"This link has expired", "Confirmation links work for 7 days. Please sign up again and we'll send you a new one.", err}
	case errors.Is(err, tokens.ErrExpired):
		return &LinkError{"This link has expired", "Please use the link in a more recent email from us.", err}
	default:
		return &LinkError{"This link doesn't work", "It may have been cut short or changed. Please copy the whole link from the email, or click it again.", err}
	}
}

// Outcomes of following a link, for the page shown afterwards.
type Outcome int

const (
	Done Outcome = iota
	AlreadyDone
)

// Confirm completes a double opt-in: the supporter becomes subscribed to the
// topics they asked for and the consent row gets its confirmation time.
// Saving the supporter so starts the journeys that begin on confirmation
// (internal/journeys), the welcome email among them. Following the link
// again changes nothing.
func (s *Service) Confirm(token string) (Outcome, *core.Record, error) {
	claims, err := s.Signer.Verify(tokens.Confirm, token)
	if err != nil {
		return 0, nil, linkError(err, "confirmation")
	}
	outcome := Done
	var sup *core.Record
	err = s.App.RunInTransaction(func(tx core.App) error {
		outcome = Done
		consent, err := tx.FindRecordById(vocab.Consents, claims.Subject)
		if err != nil {
			return notFound(err)
		}
		if sup, err = tx.FindRecordById(vocab.Supporters, consent.GetString("supporter")); err != nil {
			return notFound(err)
		}
		if !consent.GetDateTime("confirmed_at").IsZero() {
			outcome = AlreadyDone
			return nil
		}
		status := sup.GetString("status")
		suppressed, err := IsSuppressed(tx, sup.GetString("email"))
		if err != nil {
			return err
		}
		if suppressed || status == vocab.StatusComplained || status == vocab.StatusErased {
			return &LinkError{"This link doesn't work", "We can no longer email this address.", errors.New("supporter is suppressed")}
		}
		// A withdrawal after this request outranks it: the supporter said no later.
		if un := sup.GetDateTime("unsubscribed_at"); !un.IsZero() && un.Time().After(consent.GetDateTime("created").Time()) {
			return &LinkError{"This link is out of date", "You unsubscribed after asking for this link, so we haven't subscribed you. Sign up again if you'd like to hear from us.", errors.New("withdrawn after request")}
		}
		now := time.Now()
		consent.Set("confirmed_at", now)
		if err := tx.Save(consent); err != nil {
			return err
		}
		var details map[string]string
		_ = consent.UnmarshalJSONField("details", &details)
		if details["first_name"] != "" || details["last_name"] != "" {
			sup.Set("first_name", details["first_name"])
			sup.Set("last_name", details["last_name"])
		}
		sup.Set("status", vocab.StatusSubscribed)
		sup.Set("topics", consent.GetStringSlice("topics"))
		sup.Set("confirmed_at", now)
		sup.Set("unsubscribed_at", "")
		return tx.Save(sup)
	})
	if err != nil {
		return 0, nil, err
	}
	return outcome, sup, nil
}

// Supporter returns the supporter a link of purpose p names, without changing anything.
func (s *Service) Supporter(p tokens.Purpose, token string) (*core.Record, error) {
	claims, err := s.Signer.Verify(p, token)
	if err != nil {
		return nil, linkError(err, string(p))
	}
	sup, err := s.App.FindRecordById(vocab.Supporters, claims.Subject)
	if err != nil {
		return nil, notFound(err)
	}
	if sup.GetString("status") == vocab.StatusErased {
		return nil, notFound(sql.ErrNoRows)
	}
	return sup, nil
}

// Unsubscribe stops all mail to the supporter at once: status unsubscribed,
// a withdrawal row, and every queued message cancelled. Repeating it is a
// success that changes nothing. deliveryID names the campaign message whose
// link was used, when there was one.
func (s *Service) Unsubscribe(token, deliveryID, method, ip, userAgent string) (Outcome, error) {
	claims, err := s.Signer.Verify(tokens.Unsubscribe, token)
	if err != nil {
		return 0, linkError(err, "unsubscribe")
	}
	outcome := Done
	err = s.App.RunInTransaction(func(tx core.App) error {
		outcome = Done
		sup, err := tx.FindRecordById(vocab.Supporters, claims.Subject)
		if err != nil {
			return notFound(err)
		}
		switch sup.GetString("status") {
		case vocab.StatusUnsubscribed, vocab.StatusErased, vocab.StatusComplained:
			outcome = AlreadyDone
			return nil
		}
		if err := s.withdrawAll(tx, sup, method, ip, userAgent); err != nil {
			return err
		}
		if s.Unsubscribed != nil {
			return s.Unsubscribed(tx, sup.Id, deliveryID)
		}
		return nil
	})
	return outcome, err
}

func (s *Service) withdrawAll(tx core.App, sup *core.Record, method, ip, userAgent string) error {
	topics := sup.GetStringSlice("topics")
	sup.Set("status", vocab.StatusUnsubscribed)
	sup.Set("unsubscribed_at", time.Now())
	if err := tx.Save(sup); err != nil {
		return err
	}
	if _, err := s.consentRow(tx, consentRow{
		supporter: sup, action: vocab.ActionWithdraw, topicIDs: topics, slugs: s.slugs(tx, topics),
		method: method, ip: ip, userAgent: userAgent, confirmed: true,
	}); err != nil {
		return err
	}
	_, err := outbox.CancelQueued(tx, sup.Id)
	return err
}

// Choices are the topics a preferences page offers: every public topic, plus
// any private one the supporter already has (so saving doesn't drop it).
func (s *Service) Choices(sup *core.Record) ([]Topic, error) {
	all, err := s.Topics.All()
	if err != nil {
		return nil, err
	}
	mine := sup.GetStringSlice("topics")
	var out []Topic
	for _, t := range all {
		if t.Public || slices.Contains(mine, t.ID) {
			out = append(out, t)
		}
	}
	return out, nil
}

// PreferencesInput is a submitted preferences form.
type PreferencesInput struct {
	FirstName, LastName string
	Topics              []string // slugs
	IP, UserAgent       string
}

// UpdatePreferences applies a preferences form. Each kind of change is its
// own consent row: topics added (a grant, confirmed, since the link proves
// the mailbox), topics removed (a withdrawal), names changed (details).
// Unticking every topic is an unsubscribe.
func (s *Service) UpdatePreferences(token string, in PreferencesInput) (FieldErrors, error) {
	sup, err := s.Supporter(tokens.Preferences, token)
	if err != nil {
		return nil, err
	}
	errs := FieldErrors{}
	first, msg := CleanName(in.FirstName)
	if msg != "" {
		errs["first_name"] = msg
	}
	last, msg := CleanName(in.LastName)
	if msg != "" {
		errs["last_name"] = msg
	}
	choices, err := s.Choices(sup)
	if err != nil {
		return nil, err
	}
	var want []string
	if len(in.Topics) > 0 {
		slugs, msg := cleanTopics(in.Topics)
		if msg != "" {
			errs["topics"] = msg
		} else if want, _ = pickTopics(choices, slugs); want == nil {
			errs["topics"] = "One of the topics chosen doesn't exist."
		}
	}
	if len(errs) > 0 {
		return errs, nil
	}
	id, err := s.Identity()
	if err != nil {
		return nil, err
	}
	return nil, s.App.RunInTransaction(func(tx core.App) error {
		sup, err := tx.FindRecordById(vocab.Supporters, sup.Id)
		if err != nil {
			return err
		}
		status := sup.GetString("status")
		if status == vocab.StatusComplained || status == vocab.StatusErased {
			return &LinkError{"We can't email this address", "This address is on our do-not-contact list.", errors.New("suppressed")}
		}
		have := sup.GetStringSlice("topics")
		active := status == vocab.StatusSubscribed
		var added, removed []string
		for _, t := range want {
			if !active || !slices.Contains(have, t) {
				added = append(added, t)
			}
		}
		for _, t := range have {
			if active && !slices.Contains(want, t) {
				removed = append(removed, t)
			}
		}
		row := consentRow{supporter: sup, method: vocab.MethodPreferences, ip: in.IP, userAgent: in.UserAgent, confirmed: true}
		if first != sup.GetString("first_name") || last != sup.GetString("last_name") {
			sup.Set("first_name", first)
			sup.Set("last_name", last)
			r := row
			r.action, r.details = vocab.ActionDetails, map[string]string{"first_name": first, "last_name": last}
			if _, err := s.consentRow(tx, r); err != nil {
				return err
			}
		}
		if len(want) == 0 {
			if err := tx.Save(sup); err != nil {
				return err
			}
			if active || status == vocab.StatusPending {
				return s.withdrawAll(tx, sup, vocab.MethodPreferences, in.IP, in.UserAgent)
			}
			return nil
		}
		if len(removed) > 0 {
			r := row
			r.action, r.topicIDs, r.slugs = vocab.ActionWithdraw, removed, s.slugs(tx, removed)
			if _, err := s.consentRow(tx, r); err != nil {
				return err
			}
		}
		if len(added) > 0 {
			r := row
			r.action, r.topicIDs, r.slugs, r.wording = vocab.ActionGrant, added, s.slugs(tx, added), id.ConsentWording
			if _, err := s.consentRow(tx, r); err != nil {
				return err
			}
		}
		sup.Set("topics", want)
		if !active {
			sup.Set("status", vocab.StatusSubscribed)
			sup.Set("confirmed_at", time.Now())
			sup.Set("unsubscribed_at", "")
		}
		return tx.Save(sup)
	})
}

func (s *Service) slugs(app core.App, ids []string) []string {
	out := []string{}
	if len(ids) == 0 {
		return out
	}
	recs, err := app.FindRecordsByIds(vocab.Topics, ids)
	if err != nil {
		return out
	}
	for _, r := range recs {
		out = append(out, r.GetString("slug"))
	}
	slices.Sort(out)
	return out
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return &LinkError{"This link doesn't work", "We couldn't find the subscription it belongs to.", err}
	}
	return err
}
