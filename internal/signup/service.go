// Package signup is the supporter-facing capability: double opt-in signup,
// confirmation, one-click unsubscribe and the preferences page, with an
// append-only consent record for each of them. The Service holds the logic
// and is testable without HTTP; http.go maps it onto the public routes.
package signup

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/clip"
	"supportercrm/internal/groupcommit"
	"supportercrm/internal/outbox"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
	"supportercrm/internal/vocab"
)

// Service runs the signup flows.
type Service struct {
	App      core.App
	Signer   *tokens.Signer
	Views    *views.Set
	Identity func() (charity.Identity, error)
	Topics   *TopicCache
	// Unsubscribed, when set, is told of each unsubscribe in its
	// transaction, with the delivery whose link was used (may be empty), so
	// the campaign can count it.
	Unsubscribed func(tx core.App, supporterID, deliveryID string) error
	// Writes, when set, shares one transaction among concurrent signups
	// (group commit); nil runs each signup in its own transaction.
	Writes *groupcommit.Committer
	// Notify is called after mail is queued (the outbox worker's Wake).
	Notify func()
	// MinSubmit is the shortest believable time between showing the form and
	// submitting it; faster posts are bots and are dropped silently.
	MinSubmit time.Duration
	// ResendAfter spaces confirmation (or "already subscribed") emails to
	// one address: at most one per period, and PerAddressPerDay a day.
	ResendAfter time.Duration
	// ConfirmationsPerDay caps those emails from public signups in 24 hours
	// across the app; 0 means no cap.
	ConfirmationsPerDay int
	// Alert, when set, tells staff (once a day) that the cap was reached.
	Alert func(subject, text string)

	capAlert capAlert
}

// Request is one signup, with where it came from.
type Request struct {
	Input
	Method    string // vocab.MethodWebForm, MethodEmbeddedForm or MethodAPI
	IP        string
	UserAgent string
}

// Topic is a topic as the pages show it.
type Topic struct {
	ID          string
	Slug        string
	Name        string
	Description string
	Public      bool
}

// PublicTopics lists the topics offered to the public, in display order.
func (s *Service) PublicTopics() ([]Topic, error) {
	return s.Topics.Public()
}

func toTopics(recs []*core.Record) []Topic {
	out := make([]Topic, len(recs))
	for i, r := range recs {
		out[i] = Topic{ID: r.Id, Slug: r.GetString("slug"), Name: r.GetString("name"), Description: r.GetString("description"), Public: r.GetBool("public")}
	}
	return out
}

// answerFloor is the least time an accepted signup takes to answer. Every
// signup does the same reads and rendering (see Subscribe), but only some
// write rows, which costs a millisecond or two; holding every answer to a
// floor a little above a writing signup's usual time hides that. It is
// kept low because it caps what one connection can post (8 connections,
// at most 1,600 a second, above the 900 the design asks for); under load
// signups take longer than the floor anyway, and then share one group
// commit, so the write is a small part of everyone's wait.
const answerFloor = 5 * time.Millisecond

// Subscribe validates and records a signup. It returns field errors for bad
// input (nothing is written), an error for a fault, or nil. The caller
// answers every accepted signup the same way, whether the address was new,
// known, suppressed, erased or over a limit, so the form can't tell anyone
// who is on the list: not by its words, nor by its time.
func (s *Service) Subscribe(req Request) (FieldErrors, error) {
	start := time.Now()
	clean, errs := Validate(req.Input)
	public, err := s.PublicTopics()
	if err != nil {
		return nil, err
	}
	// Unknown topics are reported beside any other field errors.
	if _, ok := pickTopics(public, cleanSlugs(req.Topics)); !ok && errs["topics"] == "" {
		if errs == nil {
			errs = FieldErrors{}
		}
		errs["topics"] = "One of the topics chosen doesn't exist."
	}
	if errs != nil {
		return errs, nil
	}
	defer func() { time.Sleep(time.Until(start.Add(answerFloor))) }()
	topicIDs, _ := pickTopics(public, clean.Topics)
	id, err := s.Identity()
	if err != nil {
		return nil, err
	}
	// Every accepted signup does the same work, whatever the address: the
	// suppression check, one email rendered, and a turn in the write
	// transaction that reads the supporter and the mail limits. So the
	// answer's time tells a new address from a known, suppressed or erased
	// one no more than its words do. Reads and rendering that need no
	// supporter happen before the transaction, which holds the database's
	// single writer. The outbox worker checks suppressions again before
	// sending.
	suppressed, err := IsSuppressed(s.App, clean.Email)
	if err != nil {
		return nil, err
	}
	consentID := core.GenerateDefaultRandomId()
	confirm, err := s.confirmMail(id, clean.FirstName, consentID)
	if err != nil {
		return nil, err
	}
	queued, capped := false, false
	err = s.write(func(tx core.App) error {
		queued, capped = false, false
		now := time.Now()
		sup, err := tx.FindFirstRecordByData(vocab.Supporters, "email", clean.Email)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		limits, err := s.allowance(tx, clean.Email, now)
		if err != nil || suppressed {
			return err
		}
		capped = limits.appFull
		spaced := now.Add(-s.ResendAfter)
		if sup == nil {
			if !limits.may(vocab.KindConfirm, spaced) {
				return nil
			}
			if sup, err = s.createSupporter(tx, clean, topicIDs, req.Method); err != nil {
				return err
			}
		} else {
			switch sup.GetString("status") {
			case vocab.StatusComplained, vocab.StatusErased:
				return nil // never mail them again
			case vocab.StatusSubscribed:
				if !limits.may(vocab.KindAlreadySubscribed, spaced) {
					return nil
				}
				queued = true
				return s.queueAlreadySubscribed(tx, id, sup, now)
			}
			// pending, unsubscribed or bounced: a fresh confirmation, within
			// the limits (an unsubscribe since the last one ends its spacing).
			if un := sup.GetDateTime("unsubscribed_at").Time(); un.After(spaced) {
				spaced = un
			}
			if !limits.may(vocab.KindConfirm, spaced) {
				return nil
			}
		}
		if err := s.recordGrant(tx, consentID, sup, clean, topicIDs, id, req); err != nil {
			return err
		}
		queued = true
		if err := countMailed(tx, now); err != nil {
			return err
		}
		return s.enqueue(tx, sup, vocab.KindConfirm, clean.FirstName, confirm)
	})
	if err != nil {
		return nil, fmt.Errorf("failed to record signup: %w", err)
	}
	if capped {
		s.capAlert.raise(s, time.Now())
	}
	if queued && s.Notify != nil {
		s.Notify()
	}
	return nil, nil
}

func (s *Service) write(job groupcommit.Job) error {
	if s.Writes == nil {
		return s.App.RunInTransaction(job)
	}
	return s.Writes.Do(job)
}

func pickTopics(public []Topic, slugs []string) ([]string, bool) {
	bySlug := map[string]string{}
	for _, t := range public {
		bySlug[t.Slug] = t.ID
	}
	ids := make([]string, 0, len(slugs))
	for _, s := range slugs {
		id, ok := bySlug[s]
		if !ok {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

func (s *Service) createSupporter(tx core.App, c Clean, topicIDs []string, method string) (*core.Record, error) {
	col, err := tx.FindCachedCollectionByNameOrId(vocab.Supporters)
	if err != nil {
		return nil, err
	}
	sup := core.NewRecord(col)
	sup.Set("email", c.Email)
	sup.Set("first_name", c.FirstName)
	sup.Set("last_name", c.LastName)
	sup.Set("status", vocab.StatusPending)
	sup.Set("topics", topicIDs)
	sup.Set("source", method)
	// Every value was validated above, more strictly than the field
	// validators would (and they would re-query the topic ids we just read);
	// hooks and the unique email index still apply.
	if err := tx.SaveNoValidate(sup); err != nil {
		return nil, fmt.Errorf("failed to create supporter: %w", err)
	}
	return sup, nil
}

// recordGrant writes the consent evidence for a signup: who, which topics,
// the exact wording shown and its version, how, when and from where.
func (s *Service) recordGrant(tx core.App, consentID string, sup *core.Record, c Clean, topicIDs []string, id charity.Identity, req Request) error {
	_, err := s.consentRow(tx, consentRow{
		id: consentID, supporter: sup, action: vocab.ActionGrant, topicIDs: topicIDs, slugs: c.Topics,
		details: map[string]string{"first_name": c.FirstName, "last_name": c.LastName},
		wording: id.ConsentWording, method: req.Method, ip: req.IP, userAgent: req.UserAgent,
	})
	return err
}

type consentRow struct {
	id        string // optional: chosen in advance
	supporter *core.Record
	action    string
	topicIDs  []string
	slugs     []string
	details   map[string]string
	wording   string
	method    string
	ip        string
	userAgent string
	confirmed bool
	evidence  string    // how consent was captured elsewhere (imports)
	givenAt   time.Time // when it was given, if not now (imports)
}

func (s *Service) consentRow(tx core.App, c consentRow) (*core.Record, error) {
	r, err := buildConsent(tx, c)
	if err != nil {
		return nil, err
	}
	// Built from validated input and ids read in this transaction; skip the
	// field validators' extra queries (hooks still run).
	if err := tx.SaveNoValidate(r); err != nil {
		return nil, fmt.Errorf("failed to record consent: %w", err)
	}
	return r, nil
}

// buildConsent makes a consent row, unsaved.
func buildConsent(tx core.App, c consentRow) (*core.Record, error) {
	col, err := tx.FindCachedCollectionByNameOrId(vocab.Consents)
	if err != nil {
		return nil, err
	}
	r := core.NewRecord(col)
	if c.id != "" {
		r.Set("id", c.id)
	}
	r.Set("supporter", c.supporter.Id)
	r.Set("email", c.supporter.GetString("email"))
	r.Set("action", c.action)
	r.Set("basis", vocab.BasisConsent)
	r.Set("topics", c.topicIDs)
	r.Set("topic_slugs", nonNil(c.slugs))
	if c.details != nil {
		r.Set("details", c.details)
	}
	r.Set("wording", c.wording)
	if c.wording != "" {
		r.Set("wording_version", charity.WordingVersion(c.wording))
	}
	r.Set("method", c.method)
	r.Set("ip", clip.Runes(c.ip, 64))
	r.Set("user_agent", clip.Runes(c.userAgent, 500))
	if c.confirmed {
		r.Set("confirmed_at", time.Now())
	}
	if c.evidence != "" {
		r.Set("evidence", clip.Runes(c.evidence, 500))
	}
	if !c.givenAt.IsZero() {
		r.Set("given_at", c.givenAt)
	}
	return r, nil
}

// IsSuppressed reports whether a normalised address is on the suppression list.
// Every signup and every outbox message asks, so it is one plain indexed
// query rather than a record query.
func IsSuppressed(app core.App, normalized string) (bool, error) {
	var n int
	err := app.DB().Select("count(*)").From(vocab.Suppressions).Where(dbx.HashExp{"email_hash": HashEmail(normalized)}).Row(&n)
	if err != nil {
		return false, fmt.Errorf("failed to check suppressions: %w", err)
	}
	return n > 0, nil
}

// mailData is what the email templates see.
type mailData struct {
	Charity        charity.Identity
	FirstName      string
	ConfirmURL     string
	PreferencesURL string
	UnsubscribeURL string
}

func (s *Service) link(id charity.Identity, path string, p tokens.Purpose, subject string, ttl time.Duration) string {
	return id.AppURL + path + "?token=" + url.QueryEscape(s.Signer.Sign(p, subject, ttl))
}

func (s *Service) baseMail(id charity.Identity, sup *core.Record, firstName string) mailData {
	id = outbox.LinksAtSend(id)
	if firstName == "" {
		firstName = "friend"
	}
	return mailData{
		Charity:        id,
		FirstName:      firstName,
		PreferencesURL: s.link(id, "/preferences", tokens.Preferences, sup.Id, tokens.PreferencesTTL),
		UnsubscribeURL: s.link(id, "/unsubscribe", tokens.Unsubscribe, sup.Id, tokens.UnsubscribeTTL),
	}
}

// confirmMail renders the double opt-in email. An unconfirmed address has not
// agreed to anything yet, so it carries no preferences or unsubscribe links.
func (s *Service) confirmMail(id charity.Identity, firstName, consentID string) (views.Email, error) {
	id = outbox.LinksAtSend(id)
	if firstName == "" {
		firstName = "friend"
	}
	return s.Views.Email("confirm", mailData{
		Charity:    id,
		FirstName:  firstName,
		ConfirmURL: s.link(id, "/confirm", tokens.Confirm, consentID, tokens.ConfirmTTL),
	})
}

func (s *Service) queueAlreadySubscribed(tx core.App, id charity.Identity, sup *core.Record, now time.Time) error {
	if err := countMailed(tx, now); err != nil {
		return err
	}
	d := s.baseMail(id, sup, sup.GetString("first_name"))
	return s.queue(tx, sup, vocab.KindAlreadySubscribed, "already_subscribed", sup.GetString("first_name"), d)
}

func (s *Service) queue(tx core.App, sup *core.Record, kind, template, name string, d mailData) error {
	m, err := s.Views.Email(template, d)
	if err != nil {
		return err
	}
	return s.enqueue(tx, sup, kind, name, m)
}

func (s *Service) enqueue(tx core.App, sup *core.Record, kind, name string, m views.Email) error {
	_, err := outbox.Enqueue(tx, mailTo(sup, kind, name, m))
	return err
}

func mailTo(sup *core.Record, kind, name string, m views.Email) outbox.Mail {
	return outbox.Mail{
		To: sup.GetString("email"), ToName: strings.TrimSpace(name + " " + sup.GetString("last_name")),
		SupporterID: sup.Id, Kind: kind, Subject: m.Subject, HTML: m.HTML, Text: m.Text,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
