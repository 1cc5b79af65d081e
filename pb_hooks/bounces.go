package pb_hooks

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/bounces"
	"supportercrm/internal/signup"
	"supportercrm/internal/tokens"
)

// BounceConfig is the bounce handling of issue 11 (env CRM_BOUNCE_*).
type BounceConfig struct {
	// Domain is the bounce domain of the VERP envelope senders
	// (CRM_BOUNCE_DOMAIN); empty keeps the sender's address as the
	// envelope sender, and reports match by Message-ID.
	Domain string
	// SoftLimit soft bounces within SoftWindow make a supporter bounced
	// (CRM_BOUNCE_SOFT_LIMIT, default 3; CRM_BOUNCE_SOFT_DAYS, default 30).
	SoftLimit  int
	SoftWindow time.Duration
}

var domainRe = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

func bounceConfigFromEnv() (BounceConfig, error) {
	c := BounceConfig{Domain: os.Getenv("CRM_BOUNCE_DOMAIN")}
	if c.Domain != "" && !domainRe.MatchString(c.Domain) {
		return c, fmt.Errorf("CRM_BOUNCE_DOMAIN must be a domain name such as bounces.example.org, got %q", c.Domain)
	}
	if v := os.Getenv("CRM_BOUNCE_SOFT_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return c, fmt.Errorf("CRM_BOUNCE_SOFT_LIMIT must be a whole number from 1 to 100, got %q", v)
		}
		c.SoftLimit = n
	}
	if v := os.Getenv("CRM_BOUNCE_SOFT_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 365 {
			return c, fmt.Errorf("CRM_BOUNCE_SOFT_DAYS must be a whole number of days from 1 to 365, got %q", v)
		}
		c.SoftWindow = time.Duration(n) * 24 * time.Hour
	}
	return c, nil
}

// bindBounces sets up bounce processing on app and returns the envelope
// senders for the outbox and the campaign engine.
func bindBounces(app core.App, cfg BounceConfig, signer *tokens.Signer) bounces.Addresses {
	addrs := bounces.Addresses{Signer: signer, Domain: cfg.Domain}
	bounces.Configure(app, bounces.Settings{
		Addresses: addrs, Hash: signup.HashEmail,
		SoftLimit: cfg.SoftLimit, SoftWindow: cfg.SoftWindow,
		Alert: alertStaff,
	})
	return addrs
}
