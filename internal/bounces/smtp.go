package bounces

import (
	"bytes"
	"errors"
	"io"
	"net"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/pocketbase/core"
)

// Listener is an inbound SMTP server for the bounce domain: the domain's
// MX points at it (CRM_BOUNCE_SMTP_ADDR). It accepts mail only to bounce
// addresses whose token verifies, so it is no relay and no inbox for spam;
// each message's reports are processed before the 250, and a database
// error answers 451 so the sending MTA tries again later.
type Listener struct {
	App       core.App
	Addresses Addresses
	srv       *smtp.Server
}

// Listen starts serving on addr and returns the address it listens on.
func (l *Listener) Listen(addr string) (net.Addr, error) {
	if l.Addresses.Domain == "" {
		return nil, errors.New("CRM_BOUNCE_SMTP_ADDR needs CRM_BOUNCE_DOMAIN: the listener takes mail for the bounce domain only")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{l: l}, nil }))
	s.Domain = l.Addresses.Domain
	s.MaxMessageBytes = MaxMail
	s.MaxRecipients = 10
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	s.ErrorLog = discard{}
	l.srv = s
	go s.Serve(ln)
	return ln.Addr(), nil
}

// Close stops the listener.
func (l *Listener) Close() error {
	if l.srv == nil {
		return nil
	}
	return l.srv.Close()
}

var (
	errNoSuchAddress = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such address here"}
	errTryLater      = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Cannot take the message now, try again later"}
)

// session is one SMTP transaction's state.
type session struct {
	l    *Listener
	rcpt []string
}

func (s *session) Reset()                                      { s.rcpt = nil }
func (s *session) Logout() error                               { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error { return nil }

// Rcpt takes bounce addresses with a valid token only.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if _, ok := s.l.Addresses.Ref(to); !ok {
		return errNoSuchAddress
	}
	s.rcpt = append(s.rcpt, to)
	return nil
}

// Data processes the message's reports for the address it came to.
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, to := range s.rcpt {
		// The envelope's address names the message, whatever the text says.
		m, err := Parse(bytes.NewReader(raw), "smtp", to)
		if err != nil {
			return nil // not a message we can read: taken and dropped
		}
		for _, rep := range m.Reports {
			if _, err := Process(s.l.App, rep); err != nil {
				var bad *InvalidReport
				if errors.As(err, &bad) {
					continue
				}
				s.l.App.Logger().Error("bounces: failed to record a report from smtp", "error", err.Error())
				return errTryLater
			}
		}
	}
	return nil
}
