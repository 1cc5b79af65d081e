package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	"supportercrm/internal/clip"
)

// dmarcPolicy is what alignment needs from the DMARC record: the mode of
// each identifier ("r" relaxed, "s" strict).
type dmarcPolicy struct{ aspf, adkim string }

// checkDMARC reads _dmarc at the From domain, falling back to its
// organisational domain as receivers do (RFC 7489 section 6.6.3).
func checkDMARC(ctx context.Context, r *resolver, from string) (Check, dmarcPolicy) {
	c := Check{ID: CheckDMARC, Title: titles[CheckDMARC]}
	pol := dmarcPolicy{aspf: "r", adkim: "r"}
	if from == "" {
		c.Status, c.Found, c.Advice = Fail, "no sender address is set", "Set the sender address in the dashboard (Settings > Mail settings)."
		return c, pol
	}
	names := []string{"_dmarc." + from}
	if org := orgDomain(from); org != from {
		names = append(names, "_dmarc."+org)
	}
	var recs []string
	var at string
	for _, name := range names {
		txt, err := r.txt(ctx, name)
		if err != nil && !errors.Is(err, errNoRecords) {
			c.Status, c.Found = Fail, err.Error()
			return c, pol
		}
		if recs = withPrefix(txt, "v=DMARC1"); len(recs) > 0 {
			at = name
			break
		}
	}
	switch len(recs) {
	case 0:
		c.Status, c.Found = Fail, "no DMARC record at "+names[0]
		c.Advice = fmt.Sprintf("Publish a TXT record at %s: \"v=DMARC1; p=none; rua=mailto:<a mailbox that reads reports>\" is enough to start.", names[0])
		return c, pol
	case 1:
	default:
		c.Status, c.Found, c.Advice = Fail, fmt.Sprintf("%d DMARC records at %s", len(recs), at), "Keep exactly one; receivers ignore DMARC when there are several."
		return c, pol
	}
	c.Found = at + ": " + recs[0]
	tags := tagList(recs[0])
	if tags["aspf"] == "s" {
		pol.aspf = "s"
	}
	if tags["adkim"] == "s" {
		pol.adkim = "s"
	}
	switch p := strings.ToLower(tags["p"]); p {
	case "none":
		c.Status = OK
		c.Advice = "p=none meets the bulk-sender rules; once reports show only your own mail passing, p=quarantine stops others sending as you."
	case "quarantine", "reject":
		c.Status = OK
	case "":
		c.Status, c.Advice = Fail, "The record has no p= policy tag, so receivers ignore it: add p=none."
	default:
		c.Status, c.Advice = Fail, fmt.Sprintf("p=%s is not a DMARC policy: use none, quarantine or reject.", p)
	}
	if c.Status == OK && tags["rua"] == "" {
		c.Advice = strings.TrimSpace(c.Advice + " Add rua=mailto:… to receive the aggregate reports that show who sends as you.")
	}
	return c, pol
}

// checkAlignment: DMARC passes only when SPF's domain (the Return-Path) or
// DKIM's d= shares the From domain's organisational domain (relaxed), or
// equals it (strict).
func checkAlignment(cfg Config, spf, dkim Check, pol dmarcPolicy) Check {
	c := Check{ID: CheckAlign, Title: titles[CheckAlign]}
	env := envelopeDomain(cfg)
	spfAligned := spf.Status != Fail && aligned(env, cfg.FromDomain, pol.aspf)
	dkimAligned := dkim.Status != Fail && aligned(cfg.DKIMDomain, cfg.FromDomain, pol.adkim)
	c.Found = fmt.Sprintf("From %s; Return-Path domain %s (SPF %s); DKIM d=%s (%s)", cfg.FromDomain, env, spf.Status, cfg.DKIMDomain, dkim.Status)
	switch {
	case cfg.FromDomain == "":
		c.Status, c.Advice = Fail, "No sender address is set."
	case spfAligned && dkimAligned:
		c.Status = OK
	case spfAligned || dkimAligned:
		c.Status = OK
		c.Advice = "Only one of SPF and DKIM aligns with the From domain; DMARC needs one, but both make mail survive forwarding better."
	default:
		c.Status = Fail
		c.Advice = "Neither a passing SPF domain nor a valid DKIM key shares the From domain, so DMARC fails: sign with DKIM as the From domain (or a subdomain of it) and authorise the relay in SPF."
	}
	return c
}

func aligned(a, b, mode string) bool {
	if a == "" || b == "" {
		return false
	}
	if mode == "s" {
		return a == b
	}
	return orgDomain(a) == orgDomain(b)
}

// orgDomain is the registrable domain (example.org.uk for news.example.org.uk).
func orgDomain(d string) string {
	if org, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return org
	}
	return d
}

// checkBounceMX: under VERP, bounces come back to the bounce domain, so it
// must have a mail exchanger that resolves.
func checkBounceMX(ctx context.Context, r *resolver, domain string) Check {
	c := Check{ID: CheckBounceMX, Title: titles[CheckBounceMX]}
	if domain == "" {
		c.Status, c.Found = Skipped, "CRM_BOUNCE_DOMAIN is not set: bounces are matched by Message-ID only"
		c.Advice = "Set CRM_BOUNCE_DOMAIN to a domain whose MX reaches your bounce mailbox, so every bounce maps to its message (VERP)."
		return c
	}
	rrs, err := r.query(ctx, domain, dns.TypeMX)
	if errors.Is(err, errNoRecords) {
		c.Status, c.Found = Fail, "no MX record at "+domain
		c.Advice = "Publish an MX record at " + domain + " pointing at the server that holds the bounce mailbox (or the inbound SMTP listener)."
		return c
	}
	if err != nil {
		c.Status, c.Found = Fail, err.Error()
		return c
	}
	var hosts []string
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		hosts = append(hosts, fmt.Sprintf("%d %s", mx.Preference, strings.TrimSuffix(mx.Mx, ".")))
		if mx.Mx == "." {
			c.Status, c.Found = Fail, domain+" has a null MX (RFC 7505): it accepts no mail"
			c.Advice = "Replace the null MX with one pointing at the bounce mailbox's server."
			return c
		}
	}
	c.Found = domain + " MX " + strings.Join(hosts, ", ")
	for _, rr := range rrs {
		host := rr.(*dns.MX).Mx
		_, errA := r.query(ctx, host, dns.TypeA)
		_, errAAAA := r.query(ctx, host, dns.TypeAAAA)
		if errA != nil && errAAAA != nil {
			c.Status = Fail
			c.Advice = fmt.Sprintf("The mail exchanger %s has no address (A or AAAA record).", strings.TrimSuffix(host, "."))
			return c
		}
	}
	c.Status = OK
	return c
}

// shortRecord shortens a long key record for display.
func shortRecord(s string) string {
	if short := clip.Runes(s, 77); short != s {
		return short + "..."
	}
	return s
}
