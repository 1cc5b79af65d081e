package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// maxSPFLookups is RFC 7208 section 4.6.4's limit on the DNS lookups one
// evaluation may make; past it receivers answer permerror, which is a fail.
const maxSPFLookups = 10

// checkSPF reads the envelope domain's SPF record: there must be exactly
// one, it must not authorise the whole internet, and it must stay within
// the lookup limit.
func checkSPF(ctx context.Context, r *resolver, domain string) Check {
	c := Check{ID: CheckSPF, Title: titles[CheckSPF]}
	if domain == "" {
		c.Status, c.Found, c.Advice = Fail, "no sender address is set", "Set the sender address in the dashboard (Settings > Mail settings)."
		return c
	}
	rec, err := spfRecord(ctx, r, domain)
	switch {
	case errors.Is(err, errNoRecords):
		c.Status, c.Found = Fail, "no SPF record at "+domain
		c.Advice = fmt.Sprintf("Publish a TXT record at %s naming your relay, e.g. \"v=spf1 include:<your relay's SPF domain> -all\".", domain)
		return c
	case err != nil:
		c.Status, c.Found = Fail, err.Error()
		c.Advice = "Publish exactly one TXT record starting v=spf1 at " + domain + "."
		return c
	}
	c.Found = domain + ": " + rec
	all := allQualifier(rec)
	lookups, err := spfLookups(ctx, r, domain, rec, map[string]bool{domain: true})
	switch {
	case all == "+":
		c.Status, c.Advice = Fail, "The record ends +all, which lets anyone send as "+domain+": end it with ~all or -all."
	case err != nil:
		c.Status, c.Advice = Fail, err.Error()
	case lookups > maxSPFLookups:
		c.Status = Fail
		c.Advice = fmt.Sprintf("The record needs %d DNS lookups; receivers stop at %d and treat it as broken. Remove includes you no longer use.", lookups, maxSPFLookups)
	case all == "" || all == "?":
		c.Status, c.Advice = Warn, "The record has no ~all or -all at the end, so it says nothing about other senders: end it with ~all or -all."
	default:
		c.Status = OK
	}
	return c
}

// spfRecord is domain's one SPF record.
func spfRecord(ctx context.Context, r *resolver, domain string) (string, error) {
	txt, err := r.txt(ctx, domain)
	if err != nil {
		return "", err
	}
	recs := withPrefix(txt, "v=spf1")
	switch len(recs) {
	case 0:
		return "", errNoRecords
	case 1:
		return recs[0], nil
	}
	return "", fmt.Errorf("%s has %d SPF records; receivers treat more than one as broken (RFC 7208 section 4.5)", domain, len(recs))
}

// allQualifier is the qualifier of the record's "all" ("+", "-", "~",
// "?"), or "" when there is none.
func allQualifier(rec string) string {
	for _, term := range strings.Fields(rec)[1:] {
		q, mech := qualifier(term)
		if strings.EqualFold(mech, "all") {
			return q
		}
	}
	return ""
}

func qualifier(term string) (string, string) {
	if term != "" && strings.ContainsAny(term[:1], "+-~?") {
		return term[:1], term[1:]
	}
	return "+", term
}

// spfLookups counts the DNS lookups evaluating rec makes, following
// include: and redirect= into the records they name.
func spfLookups(ctx context.Context, r *resolver, domain, rec string, seen map[string]bool) (int, error) {
	n := 0
	for _, term := range strings.Fields(rec)[1:] {
		_, mech := qualifier(term)
		name, arg, _ := strings.Cut(mech, ":")
		if name == mech {
			name, arg, _ = strings.Cut(mech, "=")
		}
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[:i]
		}
		switch strings.ToLower(name) {
		case "a", "mx", "ptr", "exists":
			n++
		case "include", "redirect":
			n++
			arg = strings.ToLower(arg)
			if seen[arg] || n > maxSPFLookups {
				continue
			}
			seen[arg] = true
			sub, err := spfRecord(ctx, r, arg)
			if err != nil {
				if errors.Is(err, errNoRecords) {
					return n, fmt.Errorf("%s's SPF record names %s, which has no SPF record: receivers treat that as broken", domain, arg)
				}
				return n, err
			}
			m, err := spfLookups(ctx, r, arg, sub, seen)
			if err != nil {
				return n, err
			}
			n += m
		}
	}
	return n, nil
}
