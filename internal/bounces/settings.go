package bounces

import (
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/tokens"
)

// Settings are what Process needs beyond the report. pb_hooks sets them once
// at start (Configure); they ride on the app so every caller of Process (the
// mailbox reader, the SMTP listener, the provider webhooks) shares them.
type Settings struct {
	// Addresses makes and reads the VERP envelope senders.
	Addresses Addresses
	// Hash gives an address's key on the suppression list.
	Hash func(email string) string
	// SoftLimit soft bounces, each about a different message, within
	// SoftWindow make the supporter bounced (3 in 30 days).
	SoftLimit  int
	SoftWindow time.Duration
	// ComplaintRate above which a campaign alerts admins, once (0.001).
	ComplaintRate float64
	// Alert tells the admins, in tx: the alert is queued with the report.
	Alert func(tx core.App, subject, text string)
	// Now is the clock (time.Now).
	Now func() time.Time
}

// The defaults of Settings.
const (
	DefaultSoftLimit     = 3
	DefaultSoftWindow    = 30 * 24 * time.Hour
	DefaultComplaintRate = 0.001
)

const storeKey = "bounces.settings"

// Configure sets the settings Process uses on app.
func Configure(app core.App, s Settings) {
	if s.SoftLimit <= 0 {
		s.SoftLimit = DefaultSoftLimit
	}
	if s.SoftWindow <= 0 {
		s.SoftWindow = DefaultSoftWindow
	}
	if s.ComplaintRate <= 0 {
		s.ComplaintRate = DefaultComplaintRate
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Hash == nil {
		panic("bounces.Configure: Hash is required")
	}
	app.Store().Set(storeKey, s)
}

func settingsOf(app core.App) (Settings, bool) {
	s, ok := app.Store().Get(storeKey).(Settings)
	return s, ok
}

// Addresses makes the envelope sender that names a message,
// bounces+TOKEN@Domain, and reads it back. TOKEN is a compact signed token
// (internal/tokens) over "d" + delivery id or "o" + outbox id, so a report
// sent to a made-up address is refused and the address fits any MTA's
// limits (41 characters before the @).
type Addresses struct {
	Signer *tokens.Signer
	// Domain is the bounce domain (CRM_BOUNCE_DOMAIN); empty means no VERP:
	// messages keep the sender's address, and reports match by Message-ID.
	Domain string
}

// localPrefix starts every bounce address's local part.
const localPrefix = "bounces+"

// Delivery is the envelope sender of a campaign delivery, or "" without a
// bounce domain.
func (a Addresses) Delivery(id string) string { return a.address("d" + id) }

// Outbox is the envelope sender of an outbox message, or "" without a
// bounce domain.
func (a Addresses) Outbox(id string) string { return a.address("o" + id) }

func (a Addresses) address(subject string) string {
	if a.Domain == "" || a.Signer == nil {
		return ""
	}
	return localPrefix + a.Signer.SignCompact(tokens.Bounce, subject) + "@" + a.Domain
}

// Ref reads a bounce address, or its token alone, and returns the message
// it names: "d" + delivery id or "o" + outbox id. ok is false for anything
// else, a forged token among them.
func (a Addresses) Ref(addr string) (ref string, ok bool) {
	if a.Signer == nil {
		return "", false
	}
	tok := strings.TrimSpace(strings.Trim(strings.TrimSpace(addr), "<>"))
	if at := strings.LastIndexByte(tok, '@'); at >= 0 {
		if a.Domain != "" && !strings.EqualFold(tok[at+1:], a.Domain) {
			return "", false
		}
		tok = tok[:at]
	}
	if len(tok) >= len(localPrefix) && strings.EqualFold(tok[:len(localPrefix)], localPrefix) {
		tok = tok[len(localPrefix):]
	}
	ref, err := a.Signer.VerifyCompact(tokens.Bounce, tok)
	if err != nil || len(ref) < 2 || (ref[0] != 'd' && ref[0] != 'o') {
		return "", false
	}
	return ref, true
}
