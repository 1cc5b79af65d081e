// Package doctor checks what mailbox providers look at before they accept a
// charity's bulk mail: the sender domain's SPF, DKIM and DMARC records, the
// bounce domain's MX, the app URL's TLS and its one-click unsubscribe. It
// reads DNS through one resolver address (so tests serve zones on loopback)
// and returns structured results that the CLI prints and the staff console
// can show. It knows nothing of PocketBase.
package doctor

import (
	"context"
	"crypto"
	"crypto/x509"
	"net/http"
	"strings"
	"time"
)

// Status is how one check went.
type Status string

// The statuses, from good to bad. Skipped means the check had nothing to
// look at (no bounce domain configured, say).
const (
	OK      Status = "ok"
	Skipped Status = "skipped"
	Warn    Status = "warn"
	Fail    Status = "fail"
)

// Check ids, stable for the console and the provider rules.
const (
	CheckSPF      = "spf"
	CheckDKIM     = "dkim"
	CheckDMARC    = "dmarc"
	CheckAlign    = "alignment"
	CheckBounceMX = "bounce_mx"
	CheckTLS      = "tls"
	CheckOneClick = "one_click"
)

// Check is one finding: what was looked at, what was found, and in plain
// words what to do about it.
type Check struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Found says what was seen (a record, a certificate's expiry, an answer).
	Found string `json:"found"`
	// Advice says what to change, empty when nothing needs changing.
	Advice string `json:"advice,omitempty"`
}

// Report is the whole check: each finding, then what each mailbox
// provider's bulk-sender rules still need.
type Report struct {
	At       time.Time `json:"at"`
	Checks   []Check   `json:"checks"`
	Verdicts []Verdict `json:"verdicts"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Check returns the finding with id, and whether there is one.
func (r Report) Check(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// Config is what to check.
type Config struct {
	// FromDomain is the domain of the From address (PocketBase's sender address).
	FromDomain string
	// DKIMDomain and DKIMSelector name the DKIM key record; DKIMKey, when
	// known, is the public half of the key this app signs with, compared
	// with the one published.
	DKIMDomain, DKIMSelector string
	DKIMKey                  crypto.PublicKey
	// BounceDomain is the VERP Return-Path domain (CRM_BOUNCE_DOMAIN); empty
	// when messages keep the sender's own Return-Path.
	BounceDomain string
	// AppURL is the public base URL unsubscribe links point at.
	AppURL string
	// OneClickURL is an unsubscribe link to POST to; OneClickNoop says it is
	// for a supporter already unsubscribed (the answer must be 200), rather
	// than for nobody (any answer but a redirect will do).
	OneClickURL  string
	OneClickNoop bool
	// Resolver is the DNS server, host:port; empty means the first
	// nameserver of /etc/resolv.conf.
	Resolver string
	// RootCAs verifies the app's certificate; nil means the system's roots.
	RootCAs *x509.CertPool
	// Timeout bounds each network step (default 10 s).
	Timeout time.Duration
	// Now is the clock (certificate expiry).
	Now func() time.Time
}

// Run performs every check. It never fails as a whole: a lookup that
// cannot be made is itself a finding.
func Run(ctx context.Context, cfg Config) Report {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.FromDomain = strings.ToLower(strings.TrimSuffix(cfg.FromDomain, "."))
	cfg.BounceDomain = strings.ToLower(strings.TrimSuffix(cfg.BounceDomain, "."))
	if cfg.DKIMDomain == "" {
		cfg.DKIMDomain = cfg.FromDomain
	}
	rep := Report{At: cfg.Now().UTC()}
	res, err := newResolver(cfg.Resolver, cfg.Timeout)
	if err != nil {
		for _, id := range []string{CheckSPF, CheckDKIM, CheckDMARC, CheckBounceMX} {
			rep.Checks = append(rep.Checks, Check{ID: id, Title: titles[id], Status: Fail, Found: err.Error(), Advice: "Give the doctor a DNS server it can reach (--resolver host:port)."})
		}
	} else {
		spf := checkSPF(ctx, res, envelopeDomain(cfg))
		dkim := checkDKIM(ctx, res, cfg)
		dmarc, policy := checkDMARC(ctx, res, cfg.FromDomain)
		rep.Checks = append(rep.Checks, spf, dkim, dmarc, checkAlignment(cfg, spf, dkim, policy), checkBounceMX(ctx, res, cfg.BounceDomain))
	}
	client := &http.Client{Timeout: cfg.Timeout, Transport: transport(cfg.RootCAs),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	rep.Checks = append(rep.Checks, checkTLS(ctx, cfg), checkOneClick(ctx, client, cfg))
	rep.Verdicts = verdicts(rep)
	return rep
}

// envelopeDomain is the domain SPF is checked against: the Return-Path's,
// which is the bounce domain under VERP and the sender's own otherwise.
func envelopeDomain(cfg Config) string {
	if cfg.BounceDomain != "" {
		return cfg.BounceDomain
	}
	return cfg.FromDomain
}

var titles = map[string]string{
	CheckSPF:      "SPF record of the envelope (Return-Path) domain",
	CheckDKIM:     "DKIM key record",
	CheckDMARC:    "DMARC record of the From domain",
	CheckAlign:    "From domain aligned with SPF or DKIM",
	CheckBounceMX: "Bounce domain receives mail (MX)",
	CheckTLS:      "App URL served over valid TLS",
	CheckOneClick: "One-click unsubscribe answers without a redirect",
}
