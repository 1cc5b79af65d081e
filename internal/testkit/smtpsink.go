// Package testkit starts the real application for tests: PocketBase on a
// SQLite database in a temp dir, the app's routes on a loopback HTTP server,
// and a real SMTP server (go-smtp) that records what it receives. It is used
// by tests only, but is a plain package so `go test ./...` needs no tags.
package testkit

import (
	"bytes"
	"errors"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one message the sink accepted.
type Mail struct {
	From     string
	To       []string
	SMTPUTF8 bool // MAIL FROM carried SMTPUTF8 (RFC 6531)
	Header   mail.Header
	Text     string
	HTML     string
	Raw      []byte
}

// SMTPSink is an SMTP server on 127.0.0.1 that stores every message. It is
// safe for concurrent sessions; its counters and stored mail survive a Stop
// and a later Start.
type SMTPSink struct {
	Addr string
	Port int

	conns    atomic.Int64 // TCP connections accepted
	sessions atomic.Int64 // SMTP sessions (one per connection that says HELO/EHLO)

	opts        RelayOptions // see relay.go
	idleCloses  atomic.Int64
	limitCloses atomic.Int64
	noops       atomic.Int64

	mu       sync.Mutex
	mails    []Mail
	rcpts    map[string]int // RCPT TO commands seen, by address as given
	policy   func(rcpt string, attempt int) error
	faults   map[Stage]Fault
	seen     map[Stage]int // occurrences matched since each Fail
	fired    map[Stage]int
	server   *smtp.Server
	listener net.Listener
}

// NewSMTPSink reserves a loopback port without listening on it yet, so a
// test can start with the relay down and Start it later.
func NewSMTPSink(t testing.TB) *SMTPSink {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	s := &SMTPSink{Addr: addr.String(), Port: addr.Port, rcpts: map[string]int{}}
	t.Cleanup(s.Stop)
	return s
}

// Start listens on the reserved port; after a Stop it listens there again.
func (s *SMTPSink) Start(t testing.TB) {
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "127.0.0.1"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	if s.opts.IdleTimeout > 0 {
		srv.ReadTimeout = s.opts.IdleTimeout
	}
	srv.WriteTimeout = 10 * time.Second
	srv.EnableSMTPUTF8 = s.opts.SMTPUTF8
	srv.ErrorLog = log.New(io.Discard, "", 0) // injected faults are not news
	s.mu.Lock()
	s.server, s.listener = srv, l
	s.mu.Unlock()
	go srv.Serve(countingListener{l, s})
}

// Stop closes the server; clients see refused connections.
func (s *SMTPSink) Stop() {
	s.mu.Lock()
	srv, l := s.server, s.listener
	s.server, s.listener = nil, nil
	s.mu.Unlock()
	if l != nil {
		l.Close() // go-smtp only learns of it once Serve runs
	}
	if srv != nil {
		srv.Close()
	}
}

// SetPolicy decides each RCPT TO from now on: a non-nil error (an
// *smtp.SMTPError such as 451 or 550) refuses the recipient. attempt is the
// 1-based count of RCPT commands seen so far for that address, this one
// included. A nil policy accepts everything. The policy runs with no lock
// held, so it may call back into the sink or the app, and it must be safe
// for concurrent use.
func (s *SMTPSink) SetPolicy(f func(rcpt string, attempt int) error) {
	s.mu.Lock()
	s.policy = f
	s.mu.Unlock()
}

// RcptCount returns how many RCPT commands named rcpt (exactly as the
// client spelled it), refused ones included.
func (s *SMTPSink) RcptCount(rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts[rcpt]
}

// Conns returns how many TCP connections the sink has accepted.
func (s *SMTPSink) Conns() int { return int(s.conns.Load()) }

// Sessions returns how many SMTP sessions have begun.
func (s *SMTPSink) Sessions() int { return int(s.sessions.Load()) }

// Mails returns a copy of what has arrived so far, in arrival order.
func (s *SMTPSink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// To returns the messages addressed to rcpt (case-insensitively).
func (s *SMTPSink) To(rcpt string) []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Mail
	for _, m := range s.mails {
		for _, r := range m.To {
			if strings.EqualFold(r, rcpt) {
				out = append(out, m)
			}
		}
	}
	return out
}

// WaitFor polls until n messages have reached rcpt, or fails the test.
func (s *SMTPSink) WaitFor(t testing.TB, rcpt string, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := s.To(rcpt)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %d mail(s) to %s, got %d", timeout, n, rcpt, len(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countingListener counts the connections it accepts and greets them
// (relay.go): a greeting fault answers them itself.
type countingListener struct {
	net.Listener
	s *SMTPSink
}

func (l countingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.conns.Add(1)
		if rc := l.s.greet(c); rc != nil {
			return rc, nil
		}
	}
}

type backend struct{ s *SMTPSink }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	rc := c.Conn().(*relayConn)
	if f, ok := rc.ehloFault(); ok {
		return nil, rc.inject(f)
	}
	b.s.sessions.Add(1)
	return &session{sink: b.s, conn: rc}, nil
}

type session struct {
	sink   *SMTPSink
	conn   *relayConn
	authed bool
	from   string
	utf8   bool
	to     []string
}

func (s *session) Reset()        { s.from, s.utf8, s.to = "", false, nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.sink.opts.Username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	if lim := s.sink.opts.MessagesPerConn; lim > 0 && s.conn.accepted() >= lim {
		s.sink.limitCloses.Add(1)
		return s.conn.inject(Fault{Code: 421, Enhanced: smtp.EnhancedCode{4, 7, 0}})
	}
	if f, ok := s.sink.fault(AtMail); ok {
		return s.conn.inject(f)
	}
	s.from, s.utf8 = from, opts != nil && opts.UTF8
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.sink.mu.Lock()
	s.sink.rcpts[to]++
	n, policy := s.sink.rcpts[to], s.sink.policy
	s.sink.mu.Unlock()
	if policy != nil {
		if err := policy(to, n); err != nil {
			return err
		}
	}
	if f, ok := s.sink.fault(AtRcpt, to); ok {
		return s.conn.inject(f)
	}
	s.to = append(s.to, to)
	return nil
}

// Data stores the message; one that does not parse is refused.
func (s *session) Data(r io.Reader) error {
	s.conn.inData.Store(true)
	raw, err := io.ReadAll(r)
	s.conn.inData.Store(false)
	if err != nil {
		return err
	}
	if f, ok := s.sink.fault(AtData, s.to...); ok {
		return s.conn.inject(f)
	}
	m, err := Parse(raw)
	if err != nil {
		return err
	}
	m.From, m.To, m.SMTPUTF8 = s.from, slices.Clone(s.to), s.utf8
	s.sink.mu.Lock()
	s.sink.mails = append(s.sink.mails, m)
	s.sink.mu.Unlock()
	s.conn.mu.Lock()
	s.conn.messages++
	s.conn.mu.Unlock()
	if _, ok := s.sink.fault(AfterData, s.to...); ok {
		s.conn.closeAfterWrite.Store(true)
	}
	return nil
}

// Parse decodes a message's headers and its text and HTML parts.
func Parse(raw []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Mail{}, err
	}
	m := Mail{Header: msg.Header, Raw: raw}
	err = walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, &m)
	return m, err
}

func walk(contentType, encoding string, body io.Reader, m *Mail) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, m); err != nil {
				return err
			}
		}
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}
