package pb_hooks

import (
	"encoding/hex"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"supportercrm/internal/bouncehooks"
	"supportercrm/internal/campaigns"
	"supportercrm/internal/journeys"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/outbox"
	"supportercrm/internal/signup"
	"supportercrm/internal/stripepay"
	"supportercrm/internal/tokens"
)

// Config holds the operational knobs. Mail settings are not here: they are
// PocketBase's own (dashboard: Settings > Mail settings).
type Config struct {
	// TemplatesDir overrides templates/ file by file (flag --templates, env CRM_TEMPLATES_DIR).
	TemplatesDir string
	// TokenSecret signs links (env CRM_TOKEN_SECRET, 64 hex chars). Empty means
	// a secret generated on first start and kept in pb_data/.token_secret.
	TokenSecret string
	// MinSubmit is the shortest believable form fill (env CRM_MIN_SUBMIT_SECONDS, default 2).
	MinSubmit time.Duration
	// ResendAfter spaces confirmation emails to one address (10 minutes).
	ResendAfter time.Duration
	// ConfirmationsPerDay caps the confirmation and "already subscribed"
	// emails the public signup sends in 24 hours (env
	// CRM_CONFIRMATIONS_PER_DAY, default signup.DefaultConfirmationsPerDay;
	// 0 means no cap).
	ConfirmationsPerDay int
	// Outbox tunes the transactional mail worker.
	Outbox outbox.Config
	// Campaigns tunes sending (env CRM_SMTP_CONNECTIONS, CRM_SEND_RATE,
	// CRM_UNSUBSCRIBE_MAILTO, CRM_CAMPAIGN_LEASE_SECONDS).
	Campaigns campaigns.Config
	// Journeys tunes the journey worker (its clock and how often it looks).
	Journeys journeys.Config
	// SMTP holds DKIM, which signs every outgoing message when set (env
	// CRM_DKIM_DOMAIN, CRM_DKIM_SELECTOR, CRM_DKIM_KEY_FILE), and the
	// connection limits (env CRM_SMTP_IDLE_TIMEOUT,
	// CRM_SMTP_MESSAGES_PER_CONNECTION).
	SMTP outbox.Connections
	// Facebook is the events sync (env FACEBOOK_*).
	Facebook FacebookConfig
	// PendingRetention is how long a signup that was never confirmed is kept
	// (env CRM_PENDING_RETENTION_DAYS, default 30).
	PendingRetention time.Duration
	// Bounces is bounce and complaint handling (env CRM_BOUNCE_*).
	Bounces BounceConfig
	// Webhooks are the providers' bounce webhooks (env CRM_WEBHOOK_*).
	Webhooks bouncehooks.Config
	// Stripe takes gifts online (env CRM_STRIPE_SECRET_KEY,
	// CRM_STRIPE_WEBHOOK_SECRET, CRM_STRIPE_API_BASE).
	Stripe stripepay.Config
	// PprofAddr, when set, serves net/http/pprof there with block and mutex
	// profiling on (env CRM_PPROF_ADDR, loopback only, e.g. 127.0.0.1:6060).
	PprofAddr string
}

// ConfigFromEnv reads the environment; flags may override it afterwards.
func ConfigFromEnv() (Config, error) {
	c := Config{
		TemplatesDir:        os.Getenv("CRM_TEMPLATES_DIR"),
		TokenSecret:         os.Getenv("CRM_TOKEN_SECRET"),
		MinSubmit:           2 * time.Second,
		ResendAfter:         10 * time.Minute,
		ConfirmationsPerDay: signup.DefaultConfirmationsPerDay,
	}
	var err error
	if c.Facebook, err = facebookFromEnv(); err != nil {
		return c, err
	}
	if c.SMTP, err = outbox.ConnectionsFromEnv(); err != nil {
		return c, err
	}
	if c.Webhooks, err = bouncehooks.ConfigFromEnv(); err != nil {
		return c, err
	}
	if c.Bounces, err = bounceConfigFromEnv(); err != nil {
		return c, err
	}
	if c.Stripe, err = stripepay.ConfigFromEnv(); err != nil {
		return c, err
	}
	if v := os.Getenv("CRM_SMTP_CONNECTIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return c, fmt.Errorf("CRM_SMTP_CONNECTIONS must be a whole number from 1 to 100, got %q", v)
		}
		c.Campaigns.Connections = n
	}
	if v := os.Getenv("CRM_SEND_RATE"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			return c, fmt.Errorf("CRM_SEND_RATE must be messages per second (0 for no limit), got %q", v)
		}
		c.Campaigns.PerSecond = n
	}
	if v := os.Getenv("CRM_UNSUBSCRIBE_MAILTO"); v != "" {
		if a, err := mail.ParseAddress(v); err != nil || a.Address != v {
			return c, fmt.Errorf("CRM_UNSUBSCRIBE_MAILTO must be a plain email address, got %q", v)
		}
		c.Campaigns.UnsubscribeMailto = v
	}
	if v := os.Getenv("CRM_CAMPAIGN_LEASE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 || n > 3600 {
			return c, fmt.Errorf("CRM_CAMPAIGN_LEASE_SECONDS must be a whole number of seconds from 3 to 3600, got %q", v)
		}
		c.Campaigns.LeaseTTL = time.Duration(n) * time.Second
	}
	if file := os.Getenv("CRM_DKIM_KEY_FILE"); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("CRM_DKIM_KEY_FILE: %w", err)
		}
		if c.SMTP.DKIM, err = mailsend.LoadDKIM(os.Getenv("CRM_DKIM_DOMAIN"), os.Getenv("CRM_DKIM_SELECTOR"), pem); err != nil {
			return c, fmt.Errorf("CRM_DKIM_*: %w", err)
		}
	}
	if v := os.Getenv("CRM_PENDING_RETENTION_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return c, fmt.Errorf("CRM_PENDING_RETENTION_DAYS must be a whole number of days from 1 to 3650, got %q", v)
		}
		c.PendingRetention = time.Duration(n) * 24 * time.Hour
	}
	if v := os.Getenv("CRM_PPROF_ADDR"); v != "" {
		if err := checkPprofAddr(v); err != nil {
			return c, err
		}
		c.PprofAddr = v
	}
	if v := os.Getenv("CRM_CONFIRMATIONS_PER_DAY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("CRM_CONFIRMATIONS_PER_DAY must be a whole number of emails (0 for no cap), got %q", v)
		}
		c.ConfirmationsPerDay = n
	}
	if v := os.Getenv("CRM_MIN_SUBMIT_SECONDS"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			return c, fmt.Errorf("CRM_MIN_SUBMIT_SECONDS must be a number of seconds, got %q", v)
		}
		c.MinSubmit = time.Duration(n * float64(time.Second))
	}
	return c, nil
}

// signer builds the link signer from the configured secret or the one kept
// in the data directory.
func (c Config) signer(dataDir string) (*tokens.Signer, error) {
	if c.TokenSecret != "" {
		secret, err := hex.DecodeString(c.TokenSecret)
		if err != nil {
			return nil, fmt.Errorf("CRM_TOKEN_SECRET must be hex-encoded: %w", err)
		}
		return tokens.NewSigner(secret)
	}
	secret, err := tokens.LoadOrCreateSecret(filepath.Join(dataDir, ".token_secret"))
	if err != nil {
		return nil, err
	}
	return tokens.NewSigner(secret)
}
