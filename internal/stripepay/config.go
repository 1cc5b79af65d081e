// Package stripepay takes gifts online through Stripe Checkout: the public
// /donate and /sponsor-a-room forms (amount, frequency, Gift Aid, newsletter
// opt-in), the signed webhook that turns what Stripe reports into donations
// and pledges, the failed-payment mail, and the "manage my sponsorship" link
// to Stripe's customer portal. pb_hooks/stripe.go wires it.
package stripepay

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/stripe/stripe-go/v82"
)

// Config says how to reach Stripe. Its secrets never reach a log: String
// and LogValue say only whether each is set.
type Config struct {
	// SecretKey is the API key (sk_live_… or sk_test_…; a restricted rk_ key
	// with Checkout Sessions, Customer portal and Invoices access will do).
	SecretKey string
	// WebhookSecret is the endpoint's signing secret (whsec_…).
	WebhookSecret string
	// APIBase replaces https://api.stripe.com, for stripe-mock in tests.
	APIBase string
}

// ConfigFromEnv reads CRM_STRIPE_SECRET_KEY, CRM_STRIPE_WEBHOOK_SECRET and
// CRM_STRIPE_API_BASE (each also as STRIPE_…, the names Stripe's own tools use).
func ConfigFromEnv() (Config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(os.Getenv("CRM_" + name)); v != "" {
			return v
		}
		return strings.TrimSpace(os.Getenv(name))
	}
	c := Config{SecretKey: get("STRIPE_SECRET_KEY"), WebhookSecret: get("STRIPE_WEBHOOK_SECRET"), APIBase: get("STRIPE_API_BASE")}
	if c.APIBase != "" {
		u, err := url.Parse(c.APIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("CRM_STRIPE_API_BASE must be a URL like http://127.0.0.1:12111, got %q", c.APIBase)
		}
		c.APIBase = strings.TrimRight(c.APIBase, "/")
	}
	if c.SecretKey != "" && !strings.HasPrefix(c.SecretKey, "sk_") && !strings.HasPrefix(c.SecretKey, "rk_") {
		return c, fmt.Errorf("CRM_STRIPE_SECRET_KEY must be a Stripe secret key (sk_… or rk_…)")
	}
	if c.WebhookSecret != "" && !strings.HasPrefix(c.WebhookSecret, "whsec_") {
		return c, fmt.Errorf("CRM_STRIPE_WEBHOOK_SECRET must be the endpoint's signing secret (whsec_…)")
	}
	return c, nil
}

// Enabled reports whether the giving pages can take gifts: they need the
// API key to start a checkout and the signing secret to hear it was paid.
func (c Config) Enabled() bool { return c.SecretKey != "" && c.WebhookSecret != "" }

// String says what is set, never a secret.
func (c Config) String() string {
	set := func(s string) string {
		if s == "" {
			return "unset"
		}
		return "set"
	}
	return fmt.Sprintf("stripe(secret key %s, webhook secret %s, api base %q)", set(c.SecretKey), set(c.WebhookSecret), c.APIBase)
}

// GoString keeps %#v from printing the secrets too.
func (c Config) GoString() string { return c.String() }

// client is the Stripe API client. The library's own logger is off: its
// messages would go around ours, and ours never carry a key or an address.
func (c Config) client() *stripe.Client {
	bc := &stripe.BackendConfig{
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		MaxNetworkRetries: stripe.Int64(2),
	}
	if c.APIBase != "" {
		bc.URL = stripe.String(c.APIBase)
	}
	return stripe.NewClient(c.SecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc)))
}
