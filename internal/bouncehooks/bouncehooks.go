// Package bouncehooks receives bounce and complaint webhooks from mail
// providers (Amazon SES through SNS, Postmark, Mailgun, SendGrid) at
// POST /api/webhooks/{provider}, checks each provider's signature, turns
// the payload into bounces.Report values and hands them to bounces.Process.
//
// Every provider is answered the same way:
//   - no secret configured: 503, so the provider keeps retrying until an
//     admin sets it, and nothing unsigned is ever accepted;
//   - a bad or missing signature: 401, nothing read further;
//   - a body that is not the provider's shape: 400 naming the field,
//     nothing written;
//   - otherwise 200, with what became of each report, including reports
//     about messages we never sent (logged by bounces.Process, without the
//     address), so the provider stops retrying them.
//
// All reports of one request are applied in one transaction: a failure
// answers 500 with nothing written, and the provider's retry is applied
// once (bounces.Process is idempotent by source event id). SNS and SendGrid
// sign the whole event, so an old copy replayed can only repeat a report
// (changing nothing), and their retries keep the first timestamp: they get
// no replay window. Mailgun signs only a timestamp and a token, so it gets
// both a window and a token used once.
package bouncehooks

import (
	"crypto/ecdsa"
	"net/http"
	"time"
)

// The providers, as they appear in the path and as bounces.Report.Source.
const (
	SES      = "ses"
	Postmark = "postmark"
	Mailgun  = "mailgun"
	SendGrid = "sendgrid"
)

// Config holds each provider's secret; a provider whose secret is empty is
// switched off (503).
type Config struct {
	SES      SESConfig
	Postmark PostmarkConfig
	Mailgun  MailgunConfig
	SendGrid SendGridConfig
}

// SESConfig: SNS signs with a certificate anyone can fetch, and anyone with
// an AWS account can point a topic of their own at us, so the topics we
// subscribed to are the secret: messages from any other topic are refused.
type SESConfig struct {
	// TopicARNs are the SNS topics accepted (env CRM_WEBHOOK_SES_TOPIC_ARNS).
	TopicARNs []string
	// TestHosts are host:port pairs trusted like sns.<region>.amazonaws.com,
	// for tests' own TLS servers. It has no environment variable: production
	// trusts SNS's hosts alone.
	TestHosts []string
	// Client fetches signing certificates and subscription confirmations
	// (default: a client with a 10 s timeout).
	Client *http.Client
}

// PostmarkConfig is the basic-auth pair set on the webhook's URL in
// Postmark (env CRM_WEBHOOK_POSTMARK_USER and _PASSWORD); Postmark signs
// nothing else.
type PostmarkConfig struct {
	User, Password string
}

// MailgunConfig is the HTTP webhook signing key (env
// CRM_WEBHOOK_MAILGUN_SIGNING_KEY). Mailgun's signature covers only a
// timestamp and a token, not the event, so a captured signature could be
// replayed with another event: a token is accepted once, within Window of
// its timestamp (env CRM_WEBHOOK_MAILGUN_WINDOW_SECONDS, default 15 min).
type MailgunConfig struct {
	SigningKey string
	Window     time.Duration
}

// DefaultMailgunWindow is how far a Mailgun timestamp may be from now.
const DefaultMailgunWindow = 15 * time.Minute

// SendGridConfig is the signed event webhook's verification key (env
// CRM_WEBHOOK_SENDGRID_PUBLIC_KEY, base64 as SendGrid shows it).
type SendGridConfig struct {
	PublicKey *ecdsa.PublicKey
}

func (c Config) configured(provider string) bool {
	switch provider {
	case SES:
		return len(c.SES.TopicARNs) > 0
	case Postmark:
		return c.Postmark.User != "" && c.Postmark.Password != ""
	case Mailgun:
		return c.Mailgun.SigningKey != ""
	case SendGrid:
		return c.SendGrid.PublicKey != nil
	}
	return false
}
