package bouncehooks

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ConfigFromEnv reads CRM_WEBHOOK_*. Nothing set means every provider is
// switched off.
func ConfigFromEnv() (Config, error) {
	var c Config
	for _, arn := range strings.Split(os.Getenv("CRM_WEBHOOK_SES_TOPIC_ARNS"), ",") {
		if arn = strings.TrimSpace(arn); arn == "" {
			continue
		}
		if !strings.HasPrefix(arn, "arn:aws") || strings.Count(arn, ":") != 5 {
			return c, fmt.Errorf("CRM_WEBHOOK_SES_TOPIC_ARNS must list SNS topic ARNs (arn:aws:sns:REGION:ACCOUNT:TOPIC), got %q", arn)
		}
		c.SES.TopicARNs = append(c.SES.TopicARNs, arn)
	}
	c.Postmark.User, c.Postmark.Password = os.Getenv("CRM_WEBHOOK_POSTMARK_USER"), os.Getenv("CRM_WEBHOOK_POSTMARK_PASSWORD")
	if (c.Postmark.User == "") != (c.Postmark.Password == "") {
		return c, fmt.Errorf("CRM_WEBHOOK_POSTMARK_USER and CRM_WEBHOOK_POSTMARK_PASSWORD must be set together")
	}
	c.Mailgun.SigningKey = os.Getenv("CRM_WEBHOOK_MAILGUN_SIGNING_KEY")
	if v := os.Getenv("CRM_WEBHOOK_MAILGUN_WINDOW_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 60 || n > 86400 {
			return c, fmt.Errorf("CRM_WEBHOOK_MAILGUN_WINDOW_SECONDS must be a whole number of seconds from 60 to 86400, got %q", v)
		}
		c.Mailgun.Window = time.Duration(n) * time.Second
	}
	if v := os.Getenv("CRM_WEBHOOK_SENDGRID_PUBLIC_KEY"); v != "" {
		k, err := ParseSendGridKey(v)
		if err != nil {
			return c, fmt.Errorf("CRM_WEBHOOK_SENDGRID_PUBLIC_KEY: %w", err)
		}
		c.SendGrid.PublicKey = k
	}
	return c, nil
}
