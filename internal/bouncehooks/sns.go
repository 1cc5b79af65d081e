package bouncehooks

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// snsMessage is the SNS envelope of every post (notification, subscription
// and unsubscription confirmation).
type snsMessage struct {
	Type             string
	MessageID        string `json:"MessageId"`
	Token            string
	TopicArn         string
	Subject          string
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL"`
}

// snsHost is the only kind of host SNS signs from and confirms at.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// snsURL checks that raw is https on an SNS host (or a test's own host),
// so a forged message can't make us fetch from anywhere else.
func (c SESConfig) snsURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil {
		return nil, unauthorized("%s must be an https URL on an SNS host", field)
	}
	if slices.Contains(c.TestHosts, u.Host) || (u.Port() == "" && snsHost.MatchString(u.Hostname())) {
		return u, nil
	}
	return nil, unauthorized("%s is not on an SNS host", field)
}

// signedText is the string SNS signs (its "Verifying the signatures of
// Amazon SNS messages"): name and value lines of fixed fields in byte order.
func (m *snsMessage) signedText() (string, error) {
	var b strings.Builder
	add := func(name, value string) {
		b.WriteString(name)
		b.WriteByte('\n')
		b.WriteString(value)
		b.WriteByte('\n')
	}
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	switch m.Type {
	case "Notification":
		if m.Subject != "" {
			add("Subject", m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	default:
		return "", malformed("Type %q is not an SNS message type", m.Type)
	}
	return b.String(), nil
}

// verify checks m's signature against the certificate at SigningCertURL.
func (h *Hooks) verifySNS(ctx context.Context, m *snsMessage) error {
	text, err := m.signedText()
	if err != nil {
		return err
	}
	var hash crypto.Hash
	var digest []byte
	switch m.SignatureVersion {
	case "1":
		sum := sha1.Sum([]byte(text))
		hash, digest = crypto.SHA1, sum[:]
	case "2":
		sum := sha256.Sum256([]byte(text))
		hash, digest = crypto.SHA256, sum[:]
	default:
		return unauthorized("SignatureVersion must be 1 or 2")
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(sig) == 0 {
		return unauthorized("Signature is missing or not base64")
	}
	u, err := h.Config.SES.snsURL("SigningCertURL", m.SigningCertURL)
	if err != nil {
		return err
	}
	key, err := h.certs.key(ctx, h.Config.SES.Client, u.String(), h.Now())
	if err != nil {
		return err
	}
	if rsa.VerifyPKCS1v15(key, hash, digest, sig) != nil {
		return unauthorized("the SNS signature does not match")
	}
	return nil
}

// certCache keeps SNS signing keys by URL: SNS signs every message with
// the same few certificates, so each is fetched once while it is valid.
type certCache struct {
	mu   sync.Mutex
	keys map[string]cachedKey
}

type cachedKey struct {
	key      *rsa.PublicKey
	notAfter time.Time
}

// maxCerts bounds the cache; SNS uses one certificate per region at a time.
const maxCerts = 64

func (c *certCache) key(ctx context.Context, client *http.Client, url string, now time.Time) (*rsa.PublicKey, error) {
	c.mu.Lock()
	k, ok := c.keys[url]
	c.mu.Unlock()
	if ok && now.Before(k.notAfter) {
		return k.key, nil
	}
	cert, err := fetchCert(ctx, client, url)
	if err != nil {
		return nil, err
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, unauthorized("the SNS signing certificate is not valid now")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, unauthorized("the SNS signing certificate's key is not RSA")
	}
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCerts {
		c.keys = map[string]cachedKey{}
	}
	c.keys[url] = cachedKey{pub, cert.NotAfter}
	c.mu.Unlock()
	return pub, nil
}

// fetchCert downloads a PEM certificate. A failure to reach SNS is ours
// to retry (500), not a forgery.
func fetchCert(ctx context.Context, client *http.Client, url string) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("failed to fetch the SNS signing certificate: %w", err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode >= 400 && res.StatusCode < 500:
		return nil, unauthorized("SigningCertURL names no certificate (%s)", res.Status)
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("failed to fetch the SNS signing certificate: %s", res.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("failed to fetch the SNS signing certificate: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, unauthorized("SigningCertURL holds no certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, unauthorized("SigningCertURL holds no certificate")
	}
	return cert, nil
}

// confirm visits a verified SubscriptionConfirmation's SubscribeURL, as SNS
// asks, on an SNS host only.
func (h *Hooks) confirm(ctx context.Context, m *snsMessage) error {
	u, err := h.Config.SES.snsURL("SubscribeURL", m.SubscribeURL)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	res, err := h.Config.SES.Client.Do(req)
	if err != nil {
		return fmt.Errorf("failed to confirm the SNS subscription: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("failed to confirm the SNS subscription: %s", res.Status)
	}
	return nil
}

// parseSNS reads an SNS post: the envelope, its signature and topic, then
// a subscription confirmation or an SES notification.
func (h *Hooks) parseSNS(r *http.Request, body []byte) (batch, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return batch{}, malformed("The body is not an SNS message: %v", err)
	}
	if m.MessageID == "" || m.TopicArn == "" {
		return batch{}, malformed("MessageId and TopicArn are required: this is not an SNS message (with raw message delivery on, SNS signs nothing; turn it off)")
	}
	if err := h.verifySNS(r.Context(), &m); err != nil {
		return batch{}, err
	}
	if !slices.Contains(h.Config.SES.TopicARNs, m.TopicArn) {
		return batch{}, unauthorized("TopicArn is not one of CRM_WEBHOOK_SES_TOPIC_ARNS")
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		if err := h.confirm(r.Context(), &m); err != nil {
			return batch{}, err
		}
		h.App.Logger().Info("ses webhook: SNS subscription confirmed", "topic", m.TopicArn)
		return batch{answered: "Subscription confirmed."}, nil
	case "UnsubscribeConfirmation":
		h.App.Logger().Warn("ses webhook: SNS says the subscription was removed", "topic", m.TopicArn)
		return batch{answered: "Noted."}, nil
	}
	return parseSES(m.MessageID, []byte(m.Message))
}
