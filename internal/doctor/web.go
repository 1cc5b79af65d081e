package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// certWarning is how close to expiry a certificate is worth a warning.
const certWarning = 14 * 24 * time.Hour

func transport(roots *x509.CertPool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return t
}

// checkTLS: RFC 8058 requires the List-Unsubscribe URL to be https, and
// Gmail expects TLS throughout, so the app URL must present a certificate
// that verifies, for its name, and is not about to expire.
func checkTLS(ctx context.Context, cfg Config) Check {
	c := Check{ID: CheckTLS, Title: titles[CheckTLS]}
	u, err := url.Parse(cfg.AppURL)
	if err != nil || u.Host == "" {
		c.Status, c.Found = Fail, fmt.Sprintf("the app URL %q is not a URL", cfg.AppURL)
		c.Advice = "Set the app URL in the dashboard (Settings > Application) to the public https address."
		return c
	}
	if u.Scheme != "https" {
		c.Status, c.Found = Fail, "the app URL is "+u.Scheme+"://"
		c.Advice = "Serve the app over https and set that URL in the dashboard: one-click unsubscribe (RFC 8058) needs an https link, and Gmail and Yahoo require one-click for bulk mail."
		return c
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: cfg.Timeout}, Config: &tls.Config{RootCAs: cfg.RootCAs, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12,
		Time: cfg.Now}}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		c.Status, c.Found = Fail, "TLS to "+host+" failed: "+err.Error()
		c.Advice = "Install a certificate for " + u.Hostname() + " from a public CA (Let's Encrypt is free) and renew it automatically."
		return c
	}
	defer conn.Close()
	state := conn.(*tls.Conn).ConnectionState()
	leaf := state.PeerCertificates[0]
	left := leaf.NotAfter.Sub(cfg.Now())
	c.Found = fmt.Sprintf("%s, certificate for %s valid until %s", tls.VersionName(state.Version), u.Hostname(), leaf.NotAfter.UTC().Format("2 Jan 2006"))
	if left < certWarning {
		c.Status = Warn
		c.Advice = fmt.Sprintf("The certificate expires in %d days: renew it (automatically, if you can).", int(left.Hours()/24))
		return c
	}
	c.Status = OK
	return c
}

// checkOneClick posts what a mailbox provider posts (RFC 8058 section 3.2)
// to an unsubscribe link of the app and checks the answer is not a
// redirect, which section 3.1 forbids.
func checkOneClick(ctx context.Context, client *http.Client, cfg Config) Check {
	c := Check{ID: CheckOneClick, Title: titles[CheckOneClick]}
	if cfg.OneClickURL == "" {
		c.Status, c.Found = Fail, "no unsubscribe link to try"
		return c
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.OneClickURL, strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		c.Status, c.Found = Fail, err.Error()
		return c
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := client.Do(req)
	if err != nil {
		c.Status, c.Found = Fail, "the app did not answer: "+redactToken(err.Error(), cfg.OneClickURL)
		c.Advice = "Start the app (supportercrm serve) where the app URL points, then run the doctor again."
		return c
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	c.Found = "POST /unsubscribe answered " + res.Status
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		c.Status = Fail
		c.Found += " to " + res.Header.Get("Location")
		c.Advice = "Something in front of the app (a proxy or CDN rule) redirects the one-click POST; mailbox providers treat that as a broken unsubscribe. Let POST /unsubscribe through unchanged."
	case res.StatusCode == http.StatusOK:
		c.Status = OK
	case !cfg.OneClickNoop && res.StatusCode >= 400 && res.StatusCode < 500:
		c.Status = OK
		c.Found += " (the link named no supporter, so a refusal is right; no supporter is unsubscribed yet to try a 200 on)"
	default:
		c.Status = Fail
		c.Advice = "One-click unsubscribe must answer 200. Check the app's log for the error."
	}
	return c
}

// redactToken keeps the link's token out of a printed error.
func redactToken(msg, link string) string {
	if u, err := url.Parse(link); err == nil && u.RawQuery != "" {
		msg = strings.ReplaceAll(msg, u.RawQuery, "token=…")
	}
	return msg
}
