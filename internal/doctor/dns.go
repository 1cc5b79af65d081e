package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// resolver asks one DNS server directly, so a test can stand one up on
// loopback and a charity can point the check at the resolver it trusts.
type resolver struct {
	addr     string
	udp, tcp *dns.Client
}

// errNoRecords is a name that exists without the asked type, or no name at all.
var errNoRecords = errors.New("no records")

func newResolver(addr string, timeout time.Duration) (*resolver, error) {
	if addr == "" {
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(conf.Servers) == 0 {
			return nil, fmt.Errorf("no DNS server: /etc/resolv.conf names none (%v)", err)
		}
		addr = net.JoinHostPort(conf.Servers[0], conf.Port)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("DNS server %q is not host:port", addr)
	}
	return &resolver{
		addr: addr,
		udp:  &dns.Client{Net: "udp", Timeout: timeout},
		tcp:  &dns.Client{Net: "tcp", Timeout: timeout},
	}, nil
}

// query returns the answers of type t for name, errNoRecords when there
// are none, and an error naming the name when the server could not answer.
func (r *resolver) query(ctx context.Context, name string, t uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), t)
	m.SetEdns0(4096, false)
	in, _, err := r.udp.ExchangeContext(ctx, m, r.addr)
	if err == nil && in.Truncated {
		in, _, err = r.tcp.ExchangeContext(ctx, m, r.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("DNS lookup of %s %s failed: %w", dns.TypeToString[t], name, err)
	}
	switch in.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, fmt.Errorf("DNS server answered %s for %s %s", dns.RcodeToString[in.Rcode], dns.TypeToString[t], name)
	}
	var out []dns.RR
	for _, rr := range in.Answer {
		if rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	if len(out) == 0 {
		return nil, errNoRecords
	}
	return out, nil
}

// txt returns each TXT record of name, its strings joined as RFC 7208
// section 3.3 and RFC 6376 section 3.6.2.2 read them.
func (r *resolver) txt(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = strings.Join(rr.(*dns.TXT).Txt, "")
	}
	return out, nil
}

// withPrefix keeps the records that start with prefix (case-insensitive).
func withPrefix(records []string, prefix string) []string {
	var out []string
	for _, r := range records {
		if len(r) >= len(prefix) && strings.EqualFold(r[:len(prefix)], prefix) && (len(r) == len(prefix) || r[len(prefix)] == ' ' || r[len(prefix)] == ';') {
			out = append(out, r)
		}
	}
	return out
}
