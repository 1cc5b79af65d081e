package stripepay_test

import (
	"fmt"
	"strings"
	"testing"

	"supportercrm/internal/stripepay"
)

// The configuration says what is set and never prints a secret, however
// it is formatted; bad values stop the start with the variable's name.
func TestConfig(t *testing.T) {
	t.Setenv("CRM_STRIPE_SECRET_KEY", "sk_test_supersecret")
	t.Setenv("STRIPE_WEBHOOK_SECRET", "whsec_supersecret")
	t.Setenv("CRM_STRIPE_API_BASE", "http://127.0.0.1:12111/")
	c, err := stripepay.ConfigFromEnv()
	if err != nil || !c.Enabled() || c.APIBase != "http://127.0.0.1:12111" || c.WebhookSecret != "whsec_supersecret" {
		t.Fatalf("%v, %v", c, err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", struct{ S stripepay.Config }{c})} {
		if strings.Contains(s, "supersecret") {
			t.Errorf("printed a secret: %s", s)
		}
	}
	for name, value := range map[string]string{"CRM_STRIPE_SECRET_KEY": "pk_test_public", "CRM_STRIPE_WEBHOOK_SECRET": "secret", "CRM_STRIPE_API_BASE": "127.0.0.1:12111"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := stripepay.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "supersecret") {
				t.Errorf("%s=%s: %v", name, value, err)
			}
		})
	}
}
