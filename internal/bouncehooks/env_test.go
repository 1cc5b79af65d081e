package bouncehooks_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/bouncehooks"
)

func TestConfigFromEnv(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CRM_WEBHOOK_SES_TOPIC_ARNS", " arn:aws:sns:eu-west-2:123456789012:a , arn:aws:sns:eu-west-1:123456789012:b")
	t.Setenv("CRM_WEBHOOK_POSTMARK_USER", "u")
	t.Setenv("CRM_WEBHOOK_POSTMARK_PASSWORD", "p")
	t.Setenv("CRM_WEBHOOK_MAILGUN_SIGNING_KEY", "k")
	t.Setenv("CRM_WEBHOOK_MAILGUN_WINDOW_SECONDS", "300")
	t.Setenv("CRM_WEBHOOK_SENDGRID_PUBLIC_KEY", base64.StdEncoding.EncodeToString(der))
	c, err := bouncehooks.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SES.TopicARNs) != 2 || c.SES.TopicARNs[1] != "arn:aws:sns:eu-west-1:123456789012:b" || len(c.SES.TestHosts) != 0 ||
		c.Postmark.Password != "p" || c.Mailgun.Window != 5*time.Minute || !c.SendGrid.PublicKey.Equal(&key.PublicKey) {
		t.Errorf("config: %+v", c)
	}

	for name, env := range map[string][2]string{
		"CRM_WEBHOOK_SES_TOPIC_ARNS":         {"CRM_WEBHOOK_SES_TOPIC_ARNS", "my-topic"},
		"CRM_WEBHOOK_POSTMARK_USER":          {"CRM_WEBHOOK_POSTMARK_PASSWORD", ""},
		"CRM_WEBHOOK_MAILGUN_WINDOW_SECONDS": {"CRM_WEBHOOK_MAILGUN_WINDOW_SECONDS", "5"},
		"CRM_WEBHOOK_SENDGRID_PUBLIC_KEY":    {"CRM_WEBHOOK_SENDGRID_PUBLIC_KEY", "bm90IGEga2V5"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(env[0], env[1])
			if _, err := bouncehooks.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: err %v, want one naming %s", env[0], env[1], err, name)
			}
		})
	}
}
