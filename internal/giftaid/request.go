package giftaid

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/charity"
	"supportercrm/internal/outbox"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// linksPerDay caps the Gift Aid links one address is sent: a forwarded
// newsletter's preferences link must not become a way to flood its reader.
const linksPerDay = 3

// requested is the one answer to every request with a genuine preferences
// link, whether or not mail was sent.
const requested = "If we can email you, a link to your Gift Aid page is on its way to the address on your preferences page. It works for 3 days. If it doesn't arrive, please check your spam folder."

// linkMail is what the gift_aid_link email templates see.
type linkMail struct {
	Charity        charity.Identity
	FirstName      string
	GiftAidURL     string
	PreferencesURL string
	UnsubscribeURL string // the layout's; empty, as this is no list mail
}

// RequestLink queues an email with a Gift Aid link to the address on file of
// the supporter a preferences link names. Nothing is sent to an erased,
// bounced, complained or suppressed address, nor past the daily cap, and the
// caller can't tell: only a forged or broken link is an error.
func (s *Service) RequestLink(prefsToken string) error {
	claims, err := s.Signer.Verify(tokens.Preferences, prefsToken)
	if err != nil {
		return &LinkError{"This link doesn't work", "It may have been cut short or changed. Please use the “Choose what you receive” link in one of our emails.", err}
	}
	id, err := s.Identity()
	if err != nil {
		return err
	}
	queued := false
	err = s.App.RunInTransaction(func(tx core.App) error {
		queued = false
		sup, err := tx.FindRecordById(vocab.Supporters, claims.Subject)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil || slices.Contains(unreachable, sup.GetString("status")) {
			return err
		}
		email := sup.GetString("email")
		if no, err := s.Suppressed(tx, email); err != nil || no {
			return err
		}
		n, err := tx.CountRecords(vocab.Outbox, dbx.HashExp{"to": email, "kind": vocab.KindGiftAidLink},
			dbx.NewExp("created > {:since}", dbx.Params{"since": time.Now().Add(-24 * time.Hour).UTC().Format(types.DefaultDateLayout)}))
		if err != nil || n >= linksPerDay {
			return err
		}
		first := sup.GetString("first_name")
		data := linkMail{
			Charity: id, FirstName: first,
			GiftAidURL:     s.link(id, "/gift-aid", tokens.GiftAid, sup.Id, tokens.GiftAidTTL),
			PreferencesURL: s.link(id, "/preferences", tokens.Preferences, sup.Id, tokens.PreferencesTTL),
		}
		if data.FirstName == "" {
			data.FirstName = "friend"
		}
		m, err := s.Views.Email("gift_aid_link", data)
		if err != nil {
			return err
		}
		queued = true
		_, err = outbox.Enqueue(tx, outbox.Mail{
			To: email, ToName: strings.TrimSpace(first + " " + sup.GetString("last_name")), SupporterID: sup.Id,
			Kind: vocab.KindGiftAidLink, Subject: m.Subject, HTML: m.HTML, Text: m.Text,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to queue a Gift Aid link: %w", err)
	}
	if queued && s.Notify != nil {
		s.Notify()
	}
	return nil
}

// Request serves POST /gift-aid/request, the preferences page's Gift Aid
// button; the preferences token comes in the form body.
func (h *Handlers) Request(e *core.RequestEvent) error {
	if err := e.Request.ParseForm(); err != nil {
		return h.say(e, http.StatusBadRequest, "We couldn't read that form", "Please go back and try again.", nil)
	}
	if err := h.S.RequestLink(e.Request.PostForm.Get("token")); err != nil {
		return h.failure(e, err)
	}
	return h.say(e, http.StatusOK, "Check your inbox", requested, nil)
}
