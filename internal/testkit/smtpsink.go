// Package testkit starts the real application for tests: PocketBase on a
// SQLite database in a temp dir, the app's routes on a loopback HTTP server,
// and a real SMTP server (go-smtp) that records what it receives. It is used
// by tests only, but is a plain package so `go test ./...` needs no tags.
package testkit

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one message the sink accepted.
type Mail struct {
	From   string
	To     []string
	Header mail.Header
	Text   string
	HTML   string
	Raw    []byte
}

// SMTPSink is an SMTP server on 127.0.0.1 that stores every message.
type SMTPSink struct {
	Addr string
	Port int

	mu       sync.Mutex
	mails    []Mail
	server   *smtp.Server
	listener net.Listener
	// Refuse, when set, is asked for each recipient; a non-nil error (an
	// *smtp.SMTPError such as 451 or 550) refuses it.
	Refuse func(rcpt string) error
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
	s := &SMTPSink{Addr: addr.String(), Port: addr.Port}
	t.Cleanup(s.Stop)
	return s
}

// Start listens on the reserved port.
func (s *SMTPSink) Start(t testing.TB) {
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "127.0.0.1"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	s.mu.Lock()
	s.server, s.listener = srv, l
	s.mu.Unlock()
	go srv.Serve(l)
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

// Mails returns a copy of what has arrived so far.
func (s *SMTPSink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// To returns the messages addressed to rcpt.
func (s *SMTPSink) To(rcpt string) []Mail {
	var out []Mail
	for _, m := range s.Mails() {
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

type backend struct{ s *SMTPSink }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{sink: b.s}, nil }

type session struct {
	sink *SMTPSink
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := s.sink.Refuse; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return err
	}
	m.From, m.To = s.from, s.to
	s.sink.mu.Lock()
	s.sink.mails = append(s.sink.mails, m)
	s.sink.mu.Unlock()
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
