// Package charity reads the charity's identity (name, number, address, logo,
// consent wording) from the single record admins edit in the dashboard, and
// keeps that record single.
package charity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// Identity is what every page and email footer shows.
type Identity struct {
	Name         string
	Number       string
	Address      string
	Website      string
	ContactEmail string
	PrivacyURL   string
	// LogoPath is the logo on this app's own origin, for pages (SVG is
	// fine there); LogoURL is the same logo as a PNG (EmailLogoPath) with
	// the app's public URL in front, for emails, where SVG doesn't show.
	LogoPath       string
	LogoURL        string
	Tagline        string
	SignupIntro    string
	ConsentWording string
	// PrivacyTracking is what the privacy notice says of open and click
	// tracking (internal/tracking), shown beside the consent wording.
	PrivacyTracking string
	// ConsentVersion is derived from the wording, so it changes whenever the
	// wording does and no one has to remember to bump it.
	ConsentVersion string
	EmbedOrigins   []string
	// HelpLines are the referral lines every public page shows under "Need
	// help now?"; LeaveURL is the neutral site "Leave this site quickly"
	// replaces the page with.
	HelpLines []HelpLine
	LeaveURL  string
	// AppURL is the public base URL of this app (dashboard setting), without a trailing slash.
	AppURL string
}

// EmailLogoPath is where the logo is served as a PNG for email
// (internal/emaillogo): the charity's upload, or the built-in logo.
const EmailLogoPath = "/logo.png"

// Source caches the identity and reloads it after the record or the app
// settings change.
type Source struct {
	app    core.App
	mu     sync.RWMutex
	cached *Identity
}

// NewSource returns a Source and binds the hooks that keep it fresh and keep
// the identity a single record.
func NewSource(app core.App) *Source {
	s := &Source{app: app}
	app.OnRecordAfterUpdateSuccess(vocab.Charity).BindFunc(func(e *core.RecordEvent) error {
		s.Invalidate()
		return e.Next()
	})
	app.OnSettingsReload().BindFunc(func(e *core.SettingsReloadEvent) error {
		s.Invalidate()
		return e.Next()
	})
	app.OnRecordCreate(vocab.Charity).BindFunc(func(e *core.RecordEvent) error {
		n, err := e.App.CountRecords(vocab.Charity)
		if err != nil {
			return err
		}
		if n > 0 {
			return errors.New("there is already a charity identity record; edit it instead")
		}
		return e.Next()
	})
	app.OnRecordDelete(vocab.Charity).BindFunc(func(e *core.RecordEvent) error {
		return errors.New("the charity identity can be edited but not deleted")
	})
	bindSafety(app)
	return s
}

// Invalidate drops the cached identity.
func (s *Source) Invalidate() {
	s.mu.Lock()
	s.cached = nil
	s.mu.Unlock()
}

// Get returns the current identity.
func (s *Source) Get() (Identity, error) {
	s.mu.RLock()
	c := s.cached
	s.mu.RUnlock()
	if c != nil {
		return *c, nil
	}
	id, err := Load(s.app)
	if err != nil {
		return Identity{}, err
	}
	s.mu.Lock()
	s.cached = &id
	s.mu.Unlock()
	return id, nil
}

// Load reads the identity record.
func Load(app core.App) (Identity, error) {
	recs, err := app.FindRecordsByFilter(vocab.Charity, "", "created", 1, 0)
	if err != nil {
		return Identity{}, fmt.Errorf("failed to load charity identity: %w", err)
	}
	if len(recs) == 0 {
		return Identity{}, errors.New("the charity identity record is missing")
	}
	r := recs[0]
	appURL := strings.TrimRight(app.Settings().Meta.AppURL, "/")
	logo := "/static/logo.svg"
	if f := r.GetString("logo"); f != "" {
		logo = "/api/files/" + r.Collection().Id + "/" + r.Id + "/" + f
	}
	var origins []string
	_ = r.UnmarshalJSONField("embed_origins", &origins)
	wording := r.GetString("consent_wording")
	lines, err := helpLines(r)
	if err != nil {
		return Identity{}, fmt.Errorf("failed to load charity identity: %w", err)
	}
	return Identity{
		Name:            r.GetString("name"),
		Number:          r.GetString("charity_number"),
		Address:         r.GetString("postal_address"),
		Website:         r.GetString("website"),
		ContactEmail:    r.GetString("contact_email"),
		PrivacyURL:      r.GetString("privacy_url"),
		LogoPath:        logo,
		LogoURL:         appURL + EmailLogoPath,
		Tagline:         r.GetString("tagline"),
		SignupIntro:     r.GetString("signup_intro"),
		ConsentWording:  wording,
		PrivacyTracking: r.GetString("privacy_tracking"),
		ConsentVersion:  WordingVersion(wording),
		EmbedOrigins:    origins,
		HelpLines:       lines,
		LeaveURL:        leaveURL(r),
		AppURL:          appURL,
	}, nil
}

// WordingVersion is a short, stable fingerprint of a consent statement.
func WordingVersion(wording string) string {
	sum := sha256.Sum256([]byte(wording))
	return hex.EncodeToString(sum[:6])
}
