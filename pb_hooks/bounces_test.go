package pb_hooks_test

import (
	"strings"
	"testing"
	"time"

	"supportercrm/pb_hooks"
)

// The CRM_BOUNCE_* variables are read with their defaults, and a bad one
// stops the start with a message naming it.
func TestBounceConfigFromEnv(t *testing.T) {
	t.Setenv("CRM_BOUNCE_DOMAIN", "bounces.example.org")
	t.Setenv("CRM_BOUNCE_IMAP_ADDR", "imap.example.org:993")
	t.Setenv("CRM_BOUNCE_IMAP_USERNAME", "bounces")
	t.Setenv("CRM_BOUNCE_IMAP_PASSWORD", "secret")
	t.Setenv("CRM_BOUNCE_SOFT_DAYS", "14")
	c, err := pb_hooks.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bounces
	if b.Domain != "bounces.example.org" || b.IMAP.MoveTo != "Processed" || b.IMAPSpec != "@every 5m" || b.SoftWindow != 14*24*time.Hour || b.SoftLimit != 0 {
		t.Errorf("config %+v", b)
	}
	t.Setenv("CRM_BOUNCE_IMAP_MOVE_TO", "")
	if c, err := pb_hooks.ConfigFromEnv(); err != nil || c.Bounces.IMAP.MoveTo != "" {
		t.Errorf("an empty CRM_BOUNCE_IMAP_MOVE_TO: %q %v, want flagging in place", c.Bounces.IMAP.MoveTo, err)
	}
	for name, value := range map[string]string{
		"CRM_BOUNCE_DOMAIN":        "not a domain",
		"CRM_BOUNCE_IMAP_SPEC":     "every now and then",
		"CRM_BOUNCE_IMAP_SECURITY": "none",
		"CRM_BOUNCE_SOFT_LIMIT":    "0",
		"CRM_BOUNCE_SOFT_DAYS":     "a month",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := pb_hooks.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: %v, want an error naming it", name, value, err)
			}
		})
	}
	t.Setenv("CRM_BOUNCE_DOMAIN", "")
	t.Setenv("CRM_BOUNCE_SMTP_ADDR", ":2525")
	if _, err := pb_hooks.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "CRM_BOUNCE_DOMAIN") {
		t.Errorf("the listener without a bounce domain: %v", err)
	}
}
