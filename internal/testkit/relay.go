package testkit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// RelayOptions are fixed when the relay starts. The zero value is a
// well-behaved relay, the same as NewSMTPSink.
type RelayOptions struct {
	// SMTPUTF8 offers the SMTPUTF8 extension (RFC 6531) in the EHLO reply.
	SMTPUTF8 bool
	// Username and Password, when set, offer AUTH PLAIN and require it
	// before MAIL.
	Username, Password string
	// IdleTimeout closes a connection that sends no command for this long,
	// with "421 4.4.2 Idle timeout" as Postfix and hosted relays do (0: 10 s).
	IdleTimeout time.Duration
	// MessagesPerConn answers the MAIL after this many accepted messages on
	// one connection with 421 4.7.0 and closes it (0: unlimited).
	MessagesPerConn int
	// NoPipelining leaves PIPELINING (RFC 2920) out of the EHLO reply, as
	// some older relays do, so a client must wait for each reply.
	NoPipelining bool
}

// Stage is the point in an SMTP session where a Fault applies.
type Stage string

const (
	AtGreeting Stage = "greeting" // instead of the 220 greeting, then close
	AtEHLO     Stage = "ehlo"     // EHLO, and the HELO a client falls back to
	AtAuth     Stage = "auth"     // AUTH
	AtMail     Stage = "mail"     // MAIL FROM
	AtRcpt     Stage = "rcpt"     // RCPT TO
	AtDataCmd  Stage = "datacmd"  // the DATA command: answered, then closed
	AtData     Stage = "data"     // the reply to the end of the message data
	// AfterData accepts the message (it is recorded and answered 250), then
	// closes the connection: the client's NOOP or RSET finds it gone. Only
	// Rcpt, First and Every of its Fault matter.
	AfterData Stage = "afterdata"
	AtRset    Stage = "rset" // RSET: answered with the fault's reply, then closed
)

// Fault is one misbehaviour. It fires on the occurrences of its stage that
// match Rcpt, counted from the Fail call that set it (1-based): all of them,
// only the first First, or only every Every-th.
type Fault struct {
	// Code is the reply, e.g. 421, 451, 550. A 421 closes the connection
	// after it is written, as RFC 5321 says.
	Code int
	// Enhanced is the RFC 3463 code; zero means X.0.0 for the class.
	Enhanced smtp.EnhancedCode
	// Drop closes the connection without any reply.
	Drop bool
	// First limits the fault to the first First occurrences (0: no limit).
	First int
	// Every fires on every Every-th occurrence only (0 or 1: each one).
	Every int
	// Rcpt limits an AtRcpt, AtData or AfterData fault to transactions for
	// this recipient (case-insensitive); occurrences for others are not
	// counted.
	Rcpt string
}

func (f Fault) reply() *smtp.SMTPError {
	ec := f.Enhanced
	if ec == (smtp.EnhancedCode{}) {
		ec = smtp.EnhancedCode{f.Code / 100, 0, 0}
	}
	return &smtp.SMTPError{Code: f.Code, EnhancedCode: ec, Message: "fault injected by the test relay"}
}

// NewRelay starts, on a fresh loopback port, an SMTPSink that misbehaves the way real relays do: it refuses
// or drops the line at any stage on demand (Fail), closes idle connections,
// and limits the messages a connection may carry (RelayOptions). What it
// accepted is recorded as the sink records it (Mails, Accepted), so a test
// can assert that each recipient got a message exactly once whatever went
// wrong. A typical test:
//
//	r := testkit.NewRelay(t, testkit.RelayOptions{IdleTimeout: time.Second})
//	r.Fail(testkit.AtRcpt, testkit.Fault{Code: 451, Every: 10})
//	r.Fail(testkit.AfterData, testkit.Fault{First: 3})
//	... send ...
//	for addr, n := range r.Accepted() { /* n == 1 */ }
func NewRelay(t testing.TB, opts RelayOptions) *SMTPSink {
	s := NewSMTPSink(t)
	s.opts = opts
	s.Start(t)
	return s
}

// Fail sets the fault for stage, replacing any earlier one and restarting
// its count. The zero Fault clears the stage.
func (s *SMTPSink) Fail(stage Stage, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults, s.seen, s.fired = map[Stage]Fault{}, map[Stage]int{}, map[Stage]int{}
	}
	if f == (Fault{}) {
		delete(s.faults, stage)
	} else {
		s.faults[stage] = f
	}
	s.seen[stage] = 0
}

// Heal clears every fault; Fired counts are kept.
func (s *SMTPSink) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Fired returns how many times a fault at stage has fired, so a test can
// show the trouble it set up really happened.
func (s *SMTPSink) Fired(stage Stage) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired[stage]
}

// IdleCloses returns how many connections were closed for idling.
func (s *SMTPSink) IdleCloses() int { return int(s.idleCloses.Load()) }

// Noops returns how many NOOP commands clients sent: a sender that checks
// its connection before every message sends one per message.
func (s *SMTPSink) Noops() int { return int(s.noops.Load()) }

// LimitCloses returns how many connections were closed at MessagesPerConn.
func (s *SMTPSink) LimitCloses() int { return int(s.limitCloses.Load()) }

// Accepted returns, per recipient (lower-cased), how many messages the
// relay accepted for it: the count a test compares with "exactly once".
func (s *SMTPSink) Accepted() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.mails))
	for _, m := range s.mails {
		for _, r := range m.To {
			out[strings.ToLower(r)]++
		}
	}
	return out
}

// fault reports whether the fault at stage fires now for a transaction
// with these recipients.
func (s *SMTPSink) fault(stage Stage, rcpts ...string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.faults[stage]
	if !ok {
		return Fault{}, false
	}
	if f.Rcpt != "" && !slices.ContainsFunc(rcpts, func(r string) bool { return strings.EqualFold(r, f.Rcpt) }) {
		return Fault{}, false
	}
	s.seen[stage]++
	n := s.seen[stage]
	if (f.First > 0 && n > f.First) || (f.Every > 1 && n%f.Every != 0) {
		return Fault{}, false
	}
	s.fired[stage]++
	return f, true
}

// errDropped is returned to go-smtp when a fault closed the connection;
// nobody reads the reply it would write.
var errDropped = errors.New("connection dropped by the test relay")

// inject applies a fault that fired inside a session callback: the error to
// return, after arranging a drop or the close that follows a 421.
func (c *relayConn) inject(f Fault) error {
	if f.Drop {
		c.Conn.Close()
		return errDropped
	}
	if f.Code == 421 {
		c.closeAfterWrite.Store(true)
	}
	return f.reply()
}

// relayConn is the sink's view of one client connection. It sees the raw
// bytes, which is where the faults go-smtp has no hook for live: the RSET
// and DATA command replies and the close right after the 250 to DATA.
type relayConn struct {
	net.Conn
	s               *SMTPSink
	inData          atomic.Bool // reading message data: lines are not commands
	closeAfterWrite atomic.Bool // close once the next reply is written
	midLine         bool        // the last read ended inside a command line
	pending         *Fault      // a command fault to answer at the next Read

	mu       sync.Mutex
	ehlo     *Fault // the EHLO fault decided for this connection, if any
	decided  bool
	messages int // accepted on this connection
}

// dataTimeout bounds a pause inside message data. The idle limit (go-smtp's
// ReadTimeout, set before each command) is between commands only, as real
// relays keep it: a timeout mid-message would come back as a 554, a
// permanent refusal no relay gives for a slow client.
const dataTimeout = 10 * time.Second

func (c *relayConn) Read(p []byte) (int, error) {
	if f := c.pending; f != nil {
		c.pending = nil
		return c.fail(*f)
	}
	if c.inData.Load() {
		_ = c.Conn.SetReadDeadline(time.Now().Add(dataTimeout))
	}
	n, err := c.Conn.Read(p)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.s.idleCloses.Add(1)
	}
	if c.inData.Load() {
		return n, err
	}
	// A pipelining client (RFC 2920) sends several commands in one write:
	// each line is looked at. Those before a faulty one are handed to
	// go-smtp, which answers them; the fault answers on the next Read.
	for at := 0; at < n; {
		line := p[at:n]
		if end := bytes.IndexByte(line, '\n'); end >= 0 {
			line = line[:end+1]
		}
		if !c.midLine && len(line) >= 4 {
			verb := string(line[:4])
			if strings.EqualFold(verb, "NOOP") {
				c.s.noops.Add(1)
			}
			if f, ok := c.commandFault(verb); ok {
				if at == 0 {
					return c.fail(f)
				}
				c.pending = &f
				return at, nil
			}
		}
		c.midLine = line[len(line)-1] != '\n'
		at += len(line)
	}
	return n, err
}

// fail answers a command with its fault and closes the connection.
func (c *relayConn) fail(f Fault) (int, error) {
	if !f.Drop {
		writeReply(c.Conn, f.reply())
	}
	c.Conn.Close()
	return 0, io.EOF
}

// commandFault is the fault, if one fires, for the command a client line
// starts with, among those go-smtp has no hook for.
func (c *relayConn) commandFault(verb string) (Fault, bool) {
	switch strings.ToUpper(verb) {
	case "RSET":
		return c.s.fault(AtRset)
	case "DATA":
		return c.s.fault(AtDataCmd)
	}
	return Fault{}, false
}

func (c *relayConn) Write(p []byte) (int, error) {
	// go-smtp writes (and flushes) the EHLO reply a line at a time.
	if c.s.opts.NoPipelining && string(p) == "250-PIPELINING\r\n" {
		return len(p), nil
	}
	n, err := c.Conn.Write(p)
	if c.closeAfterWrite.Swap(false) {
		c.Conn.Close()
	}
	return n, err
}

// ehloFault decides once per connection whether its greeting commands
// fail, so the HELO a client falls back to fails the same way.
func (c *relayConn) ehloFault() (Fault, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.decided {
		c.decided = true
		if f, ok := c.s.fault(AtEHLO); ok {
			c.ehlo = &f
		}
	}
	if c.ehlo == nil {
		return Fault{}, false
	}
	return *c.ehlo, true
}

// greet answers a new connection: nil hands it to go-smtp for the 220,
// otherwise the greeting fault has been written and the connection closed.
func (s *SMTPSink) greet(c net.Conn) net.Conn {
	f, ok := s.fault(AtGreeting)
	if !ok {
		return &relayConn{Conn: c, s: s}
	}
	if !f.Drop {
		writeReply(c, f.reply())
	}
	c.Close()
	return nil
}

// writeReply writes a reply straight to the wire, for the faults that
// answer in go-smtp's place.
func writeReply(w io.Writer, r *smtp.SMTPError) {
	ec := r.EnhancedCode
	fmt.Fprintf(w, "%d %d.%d.%d %s\r\n", r.Code, ec[0], ec[1], ec[2], r.Message)
}

// AuthMechanisms offers PLAIN when the relay has credentials.
func (s *session) AuthMechanisms() []string {
	if s.sink.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth checks PLAIN credentials, after any AtAuth fault.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || s.sink.opts.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if f, ok := s.sink.fault(AtAuth); ok {
			return s.conn.inject(f)
		}
		if user != s.sink.opts.Username || pass != s.sink.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (c *relayConn) accepted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.messages
}
