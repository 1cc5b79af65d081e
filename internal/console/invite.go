package console

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/outbox"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// Invitations: an admin names the address and role; the new member gets a
// signed link (tokens.StaffInvite, 3 days) to choose their own password. The
// link is bound to the record's token key, which PocketBase changes when the
// password is set, so it works once.

const (
	minPassword  = 12
	maxPassword  = 71 // bcrypt reads no further
	badInvite    = "This invitation link has expired or has already been used. Ask an admin to send a new one."
	invitePrefix = "/invite?token="
)

type invitePage struct {
	Form  *Form
	Token string
	Email string
}

func inviteSubject(rec *core.Record) string {
	sum := sha256.Sum256([]byte(rec.TokenKey()))
	return rec.Id + "-" + hex.EncodeToString(sum[:12])
}

// sendInvite queues the invitation mail for rec, from the admin by.
func (c *Console) sendInvite(app core.App, rec, by *core.Record) error {
	link := outbox.LinkOrigin + Prefix + invitePrefix + c.cfg.Signer.Sign(tokens.StaffInvite, inviteSubject(rec), tokens.InviteTTL)
	inviter := by.GetString("name")
	if inviter == "" {
		inviter = "An admin"
	}
	return c.queue(app, rec, vocab.KindStaffInvite, "staff_invite", staffMail{InviteURL: link, InvitedBy: inviter, Role: rec.GetString("role")})
}

// invited is the staff record an invitation token is for, while it is good.
func (c *Console) invited(app core.App, token string) *core.Record {
	claims, err := c.cfg.Signer.Verify(tokens.StaffInvite, token)
	if err != nil {
		return nil
	}
	id, _, _ := strings.Cut(claims.Subject, "-")
	rec, err := app.FindRecordById(vocab.Staff, id)
	if err != nil || rec.GetBool("disabled") || inviteSubject(rec) != claims.Subject {
		return nil
	}
	return rec
}

func (c *Console) invitePage(e *core.RequestEvent) error {
	tok := e.Request.URL.Query().Get("token")
	rec := c.invited(e.App, tok)
	if rec == nil {
		return c.RenderStatus(e, http.StatusBadRequest, "error", errorPage{Heading: "Invitation not valid", Message: badInvite})
	}
	return c.Render(e, "invite", invitePage{Form: NewForm(nil), Token: tok, Email: rec.Email()})
}

func (c *Console) acceptInvite(e *core.RequestEvent) error {
	f := NewForm(e)
	tok := f.Values.Get("token")
	rec := c.invited(e.App, tok)
	if rec == nil {
		return c.RenderStatus(e, http.StatusBadRequest, "error", errorPage{Heading: "Invitation not valid", Message: badInvite})
	}
	pw := f.Values.Get("password")
	switch {
	case len(pw) < minPassword:
		f.Fail("password", "Choose a password of at least 12 characters.")
	case len(pw) > maxPassword:
		f.Fail("password", "Choose a password of at most 71 characters.")
	case f.Values.Get("confirm") != pw:
		f.Fail("confirm", "The two passwords are not the same.")
	}
	if !f.OK() {
		return c.RenderStatus(e, http.StatusBadRequest, "invite", invitePage{Form: f, Token: tok, Email: rec.Email()})
	}
	rec.SetPassword(pw)
	rec.SetVerified(true)
	if err := e.App.Save(rec); err != nil {
		return err
	}
	if err := audit(e.App, rec, "staff.set_password", "staff/"+rec.Id, "accepted the invitation", e.RealIP()); err != nil {
		return err
	}
	return Redirect(e, "/login", "Your password is set. Sign in with it now.")
}
