// Package mailsend sends mail over SMTP with go-mail. It knows nothing of
// PocketBase: callers pass a Config (built from the dashboard's mail settings)
// and Messages. A Conn keeps one SMTP connection open across many messages and
// redials after an error, which is what both the transactional outbox and the
// campaign engine need.
package mailsend

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Config says how to reach the SMTP relay.
type Config struct {
	Host string
	Port int
	// ImplicitTLS dials TLS at once (port 465). Otherwise STARTTLS is used
	// when the server offers it.
	ImplicitTLS bool
	Username    string
	Password    string
	// AuthMethod is "PLAIN" or "LOGIN"; empty means PLAIN when a username is set.
	AuthMethod string
	// HELO is the name sent in EHLO; empty means go-mail's default.
	HELO    string
	Timeout time.Duration
	// IdleTimeout closes a connection unused for longer before it is used
	// again (relays drop idle ones: Postfix after 300 s, hosted relays after
	// seconds). Zero means 30 s.
	IdleTimeout time.Duration
	// MaxMessages closes a connection after this many transactions, for
	// relays that limit them (Yahoo asks for 20). Zero means no limit.
	MaxMessages int
	// DKIM, when set, signs every message.
	DKIM *DKIM
}

// Header is one extra header field. go-mail writes extra headers sorted by
// name; values given for the same name are joined into one field with ", "
// (the list syntax of RFC 2369, e.g. List-Unsubscribe).
type Header struct{ Name, Value string }

// Message is one outgoing mail with an HTML and a plain-text part.
type Message struct {
	From      mail.Address
	To        mail.Address
	ReplyTo   string
	Subject   string
	HTML      string
	Text      string
	MessageID string // without angle brackets; generated when empty
	Headers   []Header
	// EnvelopeFrom is the SMTP MAIL FROM (the Return-Path), when it is not
	// From: a VERP address naming the message, for its bounces.
	EnvelopeFrom string
}

// Sender is what the outbox and the campaign engine depend on.
type Sender interface {
	Send(ctx context.Context, m *Message) error
	Close() error
}

// Conn is a reusable SMTP connection. It is not safe for concurrent use: a
// pool of senders holds one Conn each.
type Conn struct {
	cfg      Config
	client   *gomail.Client
	sc       *smtp.Client // the open session; nil when closed
	raw      net.Conn     // its socket, closed when a dial fails half-way
	lastUsed time.Time
	uses     int // transactions begun on sc
}

// Dial connects to the relay described by cfg. A failure is NotSent.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp host is not configured")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	c := &Conn{cfg: cfg}
	// No NOOP before each message (go-mail's default): it is a round trip a
	// message, a third of a connection's rate to a relay 20 ms away, and
	// finds nothing MAIL FROM doesn't. A connection that died while idle
	// gets no reply (or a 421) to MAIL, before the relay has seen any of
	// the message: Send redials and tries again (see beforeHandOver).
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout), gomail.WithDialContextFunc(c.dialContext),
		gomail.WithoutNoop()}
	if cfg.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if cfg.Username != "" {
		auth := gomail.SMTPAuthPlain
		if strings.EqualFold(cfg.AuthMethod, "LOGIN") {
			auth = gomail.SMTPAuthLogin
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	if cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(cfg.HELO))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("failed to configure smtp client: %w", err)
	}
	c.client = client
	if err := c.dial(ctx); err != nil {
		return nil, notSent(err)
	}
	return c, nil
}

// dialContext opens the socket for go-mail (TLS at once for ImplicitTLS,
// as go-mail would) and keeps it, so a session that fails after the
// connect (greeting, EHLO, AUTH) does not leak it.
func (c *Conn) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{}
	var conn net.Conn
	var err error
	if c.cfg.ImplicitTLS {
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: c.cfg.Host, MinVersion: gomail.DefaultTLSMinVersion}}
		conn, err = td.DialContext(ctx, network, addr)
	} else {
		conn, err = d.DialContext(ctx, network, addr)
	}
	c.raw = conn
	return conn, err
}

func (c *Conn) dial(ctx context.Context) error {
	c.raw = nil
	sc, err := c.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		if c.raw != nil {
			c.raw.Close()
		}
		return fmt.Errorf("failed to connect to smtp %s:%d: %w", c.cfg.Host, c.cfg.Port, err)
	}
	c.sc, c.lastUsed, c.uses = sc, time.Now(), 0
	return nil
}

// Send delivers one message. It returns nil once the relay accepted it
// (the end of its data got 250); a connection lost after that is found by
// the next Send. A connection idle
// past Config.IdleTimeout or at Config.MaxMessages is replaced first, and
// a failure before the hand-over (dial, greeting, EHLO, STARTTLS, AUTH, a
// 421 or no reply to MAIL) is redialled at once;
// if the second try also fails there, the error is NotSent. A message that
// cannot go at all is Unsendable and leaves the connection as it was.
func (c *Conn) Send(ctx context.Context, m *Message) error {
	msg, err := Build(m)
	if err != nil {
		return err
	}
	w, err := encode(msg)
	if err != nil {
		return err
	}
	defer w.release()
	if c.cfg.DKIM != nil {
		if w.signature, err = c.cfg.DKIM.sign(w.data.Bytes()); err != nil {
			return fmt.Errorf("dkim signing failed: %w", err)
		}
	}
	needUTF8 := !ascii(m.From.Address) || !ascii(m.To.Address)
	for range 2 {
		if err = c.ready(ctx); err != nil {
			continue
		}
		if ok, _ := c.sc.Extension("SMTPUTF8"); needUTF8 && !ok {
			return &Error{Unsendable: true, Reason: "the relay does not offer SMTPUTF8, needed for this address"}
		}
		if err = c.transact(w, needUTF8); err == nil || !beforeHandOver(err) {
			return err
		}
	}
	return notSent(err)
}

// ready makes sure an open session that may be used is there.
func (c *Conn) ready(ctx context.Context) error {
	if c.sc != nil && (time.Since(c.lastUsed) > c.cfg.IdleTimeout || (c.cfg.MaxMessages > 0 && c.uses >= c.cfg.MaxMessages)) {
		c.quit()
	}
	if c.sc == nil {
		return c.dial(ctx)
	}
	return nil
}

// quit ends a healthy session politely, without waiting long for a relay
// that has gone.
func (c *Conn) quit() {
	_ = c.sc.UpdateDeadline(time.Second)
	_ = c.sc.Quit()
	c.drop()
}

// drop closes the socket of a session that is broken or done.
func (c *Conn) drop() {
	if c.sc != nil {
		_ = c.sc.Close()
		c.sc = nil
	}
}

// Close ends the SMTP session.
func (c *Conn) Close() error {
	if c.sc == nil {
		return nil
	}
	err := c.sc.Quit()
	c.drop()
	return err
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Build turns a Message into a go-mail Msg. Header values are stripped of CR
// and LF so no caller can inject headers. A message that cannot be built is
// an Unsendable *Error.
func Build(m *Message) (*gomail.Msg, error) {
	if err := addrSpec(m.From.Address); err != nil {
		return nil, &Error{Unsendable: true, Reason: "invalid from address", Err: err}
	}
	if err := addrSpec(m.To.Address); err != nil {
		return nil, &Error{Unsendable: true, Reason: "invalid to address", Err: err}
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	// net/mail quotes or encodes the names (O"Brien, Bob\, Zoë) itself.
	msg.FromMailAddress(&mail.Address{Name: oneLine(m.From.Name), Address: m.From.Address})
	msg.AddToMailAddress(&mail.Address{Name: oneLine(m.To.Name), Address: m.To.Address})
	if m.ReplyTo != "" {
		rt, err := mail.ParseAddress(m.ReplyTo)
		if err != nil {
			return nil, &Error{Unsendable: true, Reason: "invalid reply-to address", Err: err}
		}
		msg.ReplyToMailAddress(rt)
	}
	if m.EnvelopeFrom != "" {
		if err := addrSpec(m.EnvelopeFrom); err != nil {
			return nil, &Error{Unsendable: true, Reason: "invalid envelope sender", Err: err}
		}
		if err := msg.EnvelopeFrom(m.EnvelopeFrom); err != nil {
			return nil, &Error{Unsendable: true, Reason: "invalid envelope sender", Err: err}
		}
	}
	msg.Subject(oneLine(m.Subject))
	id := m.MessageID
	if id == "" {
		id = NewMessageID(m.From.Address)
	}
	msg.SetMessageIDWithValue(oneLine(id))
	msg.SetDate()
	var names []string
	values := map[string][]string{}
	for _, h := range m.Headers {
		name := oneLine(h.Name)
		if _, seen := values[name]; !seen {
			names = append(names, name)
		}
		values[name] = append(values[name], oneLine(h.Value))
	}
	for _, name := range names {
		msg.SetGenHeader(gomail.Header(name), values[name]...)
	}
	msg.SetBodyWriter(gomail.TypeTextPlain, bodyWriter(m.Text))
	if m.HTML != "" {
		msg.AddAlternativeWriter(gomail.TypeTextHTML, bodyWriter(m.HTML))
	}
	return msg, nil
}

// chunks are the copy buffers of bodyWriter.
var chunks = sync.Pool{New: func() any { return new([4096]byte) }}

// bodyWriter writes a part's content straight from the string, in 4 KB
// chunks through a pooled buffer: go-mail's SetBodyString would copy the
// whole body into a new buffer for every message (and the quoted-printable
// writer has no WriteString). The encoder is a stream, so its output is the
// same however the content is split. It may be called more than once (DKIM).
func bodyWriter(s string) func(io.Writer) (int64, error) {
	return func(w io.Writer) (int64, error) {
		buf := chunks.Get().(*[4096]byte)
		defer chunks.Put(buf)
		var n int64
		for rest := s; rest != ""; {
			k := copy(buf[:], rest)
			m, err := w.Write(buf[:k])
			n += int64(m)
			if err != nil {
				return n, err
			}
			rest = rest[k:]
		}
		return n, nil
	}
}

// NewMessageID returns a unique id ("random@domain") in the sender's domain.
func NewMessageID(fromAddress string) string {
	domain := "localhost"
	if at := strings.LastIndexByte(fromAddress, '@'); at >= 0 && at < len(fromAddress)-1 {
		domain = fromAddress[at+1:]
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b) + "@" + domain
}

var newlines = strings.NewReplacer("\r", " ", "\n", " ")

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return newlines.Replace(s)
}

// addrSpec checks that s is one bare address (local@domain) as net/mail
// reads it: no display name, no list, nothing it would read differently.
func addrSpec(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return err
	}
	if a.Name != "" || a.Address != s {
		return errors.New("not a single bare address")
	}
	return nil
}

// CheckSender says whether name and address make a From header every relay
// takes, in words for the person who typed them: the address is one bare
// ASCII address, and the name is plain text (no control characters, no
// RFC 2047 encoded word that mail clients would decode into something
// else). go-mail then encodes the name as it needs.
func CheckSender(name, address string) error {
	if err := addrSpec(address); err != nil {
		return errors.New("the sender address must be a single email address such as news@example.org")
	}
	if !ascii(address) {
		return errors.New("the sender address must be plain ASCII: not every relay offers SMTPUTF8")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return errors.New("the sender name must not contain line breaks, tabs or other control characters")
	}
	if decoded, err := new(mime.WordDecoder).DecodeHeader(name); err != nil || decoded != name {
		return errors.New("the sender name must be plain text, not an encoded word (=?...?=)")
	}
	_, err := Build(&Message{From: mail.Address{Name: name, Address: address}, To: mail.Address{Address: address}})
	return err
}
