// Package tokens signs and verifies the purpose-bound links the app mails out
// (confirm, unsubscribe, preferences, Gift Aid) and the signup form's timestamp.
//
// A token is "purpose.subject.issued.expires.mac": the fields are plain so a
// support engineer can read them, and the HMAC-SHA256 over all of them makes
// them unforgeable. It knows nothing of PocketBase.
package tokens

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Purpose binds a token to one use, so an unsubscribe link can't confirm.
type Purpose string

// The purposes the app signs for.
const (
	Confirm     Purpose = "confirm"
	Unsubscribe Purpose = "unsubscribe"
	Preferences Purpose = "preferences"
	Form        Purpose = "form"
	View        Purpose = "view"    // a delivery's "view in browser" link
	Preview     Purpose = "preview" // a campaign's preview for staff
	// GiftAid opens a donor's Gift Aid page. It is mailed only to the address
	// on file, on request or with a donation's thanks, and never sits in bulk
	// mail. The links of the retired year-long purpose "gift_aid" (signed by
	// preferences pages) fail as another purpose's.
	GiftAid Purpose = "gift_aid_link"
	// Bounce names a sent message in its envelope sender (VERP), so a
	// bounce or complaint maps back to it. See SignCompact.
	Bounce Purpose = "bounce"
	// The staff console's: a form's CSRF token, the half-done sign-in
	// between password and emailed code, and an invitation to set a password.
	CSRF        Purpose = "csrf"
	StaffMFA    Purpose = "staff_mfa"
	StaffInvite Purpose = "staff_invite"
	// Click names a delivery, a link's place in it and its URL's hash, for
	// a tracked campaign's redirect; Open names a delivery, for its pixel.
	Click Purpose = "click"
	Open  Purpose = "open"
)

// Lifetimes: confirm links expire after a week; unsubscribe and preferences
// links sit in old newsletters and must keep working for well over a year; a
// Gift Aid link opens a page about someone's giving, so it lasts days.
const (
	ConfirmTTL     = 7 * 24 * time.Hour
	UnsubscribeTTL = 2 * 365 * 24 * time.Hour
	PreferencesTTL = 2 * 365 * 24 * time.Hour
	FormTTL        = 24 * time.Hour
	ViewTTL        = 2 * 365 * 24 * time.Hour
	PreviewTTL     = 30 * 24 * time.Hour
	GiftAidTTL     = 3 * 24 * time.Hour
	InviteTTL      = 3 * 24 * time.Hour
	TrackingTTL    = 2 * 365 * 24 * time.Hour // links in old newsletters keep working
)

// Verification errors. Callers show a page per error; none changes data.
var (
	ErrMalformed = errors.New("token is malformed")
	ErrSignature = errors.New("token signature does not match")
	ErrPurpose   = errors.New("token was issued for another purpose")
	ErrExpired   = errors.New("token has expired")
)

// MinSecretLen is the shortest secret accepted (256 bits).
const MinSecretLen = 32

// Claims are what a valid token carries.
type Claims struct {
	Purpose   Purpose
	Subject   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Signer signs and verifies tokens with one secret.
type Signer struct {
	key []byte
	// Now is the clock; tests replace it to check expiry without sleeping.
	Now func() time.Time
}

// NewSigner returns a Signer for secret, which must be at least MinSecretLen bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("token secret must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	return &Signer{key: append([]byte(nil), secret...), Now: time.Now}, nil
}

// Sign returns a token for subject that is valid for ttl. Subjects are record
// ids, which never contain a dot.
func (s *Signer) Sign(p Purpose, subject string, ttl time.Duration) string {
	now := s.Now()
	payload := strings.Join([]string{
		string(p),
		subject,
		strconv.FormatInt(now.Unix(), 36),
		strconv.FormatInt(now.Add(ttl).Unix(), 36),
	}, ".")
	return payload + "." + s.mac(payload)
}

// Verify checks the signature first, then the purpose, then expiry.
func (s *Signer) Verify(p Purpose, token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 5 || len(token) > 512 {
		return Claims{}, ErrMalformed
	}
	payload := strings.Join(parts[:4], ".")
	if !hmac.Equal([]byte(s.mac(payload)), []byte(parts[4])) {
		return Claims{}, ErrSignature
	}
	issued, err1 := strconv.ParseInt(parts[2], 36, 64)
	expires, err2 := strconv.ParseInt(parts[3], 36, 64)
	if err1 != nil || err2 != nil {
		return Claims{}, ErrMalformed
	}
	c := Claims{Purpose: Purpose(parts[0]), Subject: parts[1], IssuedAt: time.Unix(issued, 0), ExpiresAt: time.Unix(expires, 0)}
	if c.Purpose != p {
		return Claims{}, ErrPurpose
	}
	if !s.Now().Before(c.ExpiresAt) {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// compactMAC is how much of the HMAC a compact token keeps: 80 bits, as 16
// base32 characters.
const compactMAC = 10

// compactEnc is lowercase base32 without padding: mail systems may fold the
// case of an address's local part, and a compact token must survive that.
var compactEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// SignCompact returns "subject.mac", a token short enough for an address's
// local part (64 characters at most) and made of lowercase letters, digits
// and one dot. It never expires: it names a message that was sent, for
// reports about it that may come days later, and grants nothing else.
// Subjects must be lowercase letters and digits (record ids).
func (s *Signer) SignCompact(p Purpose, subject string) string {
	return subject + "." + s.compactMAC(p, subject)
}

// VerifyCompact checks a SignCompact token, in any letter case, and returns
// its subject.
func (s *Signer) VerifyCompact(p Purpose, token string) (string, error) {
	token = strings.ToLower(token)
	subject, mac, ok := strings.Cut(token, ".")
	if !ok || subject == "" || len(token) > 64 || strings.Contains(mac, ".") {
		return "", ErrMalformed
	}
	if !hmac.Equal([]byte(s.compactMAC(p, subject)), []byte(mac)) {
		return "", ErrSignature
	}
	return subject, nil
}

func (s *Signer) compactMAC(p Purpose, subject string) string {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("compact." + string(p) + "." + subject))
	return compactEnc.EncodeToString(h.Sum(nil)[:compactMAC])
}

func (s *Signer) mac(payload string) string {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// LoadOrCreateSecret reads the hex secret at path, creating it (mode 0600)
// with 32 random bytes on first start. The secret lives beside the database so
// backups restore working links.
func LoadOrCreateSecret(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		secret, err := hex.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil || len(secret) < MinSecretLen {
			return nil, fmt.Errorf("token secret file %s is not %d+ hex-encoded bytes", path, MinSecretLen)
		}
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("failed to read token secret: %w", err)
	}
	secret := make([]byte, MinSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("failed to generate token secret: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("failed to create secret dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateSecret(path) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("failed to create token secret: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		return nil, fmt.Errorf("failed to write token secret: %w", err)
	}
	return secret, f.Sync()
}
