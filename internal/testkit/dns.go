package testkit

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// DNS is an authoritative DNS server on loopback (UDP and TCP on one port)
// answering from records a test sets in zone-file syntax, e.g.
// `example.org. 300 IN TXT "v=spf1 -all"`. A name with no records at all
// is NXDOMAIN; a name with records of other types answers empty.
type DNS struct {
	Addr string
	mu   sync.Mutex
	rrs  []dns.RR
}

// NewDNS starts a server holding records; it stops when the test ends.
func NewDNS(t testing.TB, records ...string) *DNS {
	t.Helper()
	d := &DNS{}
	d.Set(t, records...)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	d.Addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: d}, {Listener: l, Handler: d}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return d
}

// Set replaces every record.
func (d *DNS) Set(t testing.TB, records ...string) {
	t.Helper()
	rrs := make([]dns.RR, 0, len(records))
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("bad test record %q: %v", r, err)
		}
		rrs = append(rrs, rr)
	}
	d.mu.Lock()
	d.rrs = rrs
	d.mu.Unlock()
}

// ServeDNS answers one query from the records.
func (d *DNS) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	d.mu.Lock()
	known := false
	for _, question := range q.Question {
		for _, rr := range d.rrs {
			h := rr.Header()
			if !strings.EqualFold(h.Name, question.Name) {
				continue
			}
			known = true
			if h.Rrtype == question.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
	}
	d.mu.Unlock()
	if !known {
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}
