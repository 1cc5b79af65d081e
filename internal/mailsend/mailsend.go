// Package mailsend sends mail over SMTP with go-mail. It knows nothing of
// PocketBase: callers pass a Config (built from the dashboard's mail settings)
// and Messages. A Conn keeps one SMTP connection open across many messages and
// redials after an error, which is what both the transactional outbox and the
// campaign engine need.
package mailsend

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
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
	// DKIM, when set, signs every message.
	DKIM *DKIM
}

// DKIM is a signing identity: the d= domain, the s= selector whose DNS
// record holds the public key, and the private key.
type DKIM struct {
	Domain   string
	Selector string
	Key      crypto.Signer
}

// dkimHeaders are signed in every message: From (RFC 6376) and both
// List-Unsubscribe headers (RFC 8058 section 4), with the headers that
// identify the message. Absent ones are signed as empty, which also stops
// anyone adding them later. Keep the h= tag under one folded line (77
// characters): go-mail v0.8.1 (and v0.8.2) hard-wraps a longer tag inside a
// header name, which it signs unfolded, so relaxed verification fails.
var dkimHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"}

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
}

// Sender is what the outbox and the campaign engine depend on.
type Sender interface {
	Send(ctx context.Context, m *Message) error
	Close() error
}

// Conn is a reusable SMTP connection. It is not safe for concurrent use: a
// pool of senders holds one Conn each.
type Conn struct {
	cfg    Config
	client *gomail.Client
	open   bool
}

// Dial connects to the relay described by cfg.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp host is not configured")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout)}
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
	if d := cfg.DKIM; d != nil {
		signer := gomail.NewDKIMSigner(d.Domain, d.Selector, d.Key)
		signer.SignHeaders(dkimHeaders...)
		opts = append(opts, gomail.WithAlwaysDKIMSign(signer))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("failed to configure smtp client: %w", err)
	}
	c := &Conn{cfg: cfg, client: client}
	if err := c.dial(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Conn) dial(ctx context.Context) error {
	if err := c.client.DialWithContext(ctx); err != nil {
		return fmt.Errorf("failed to connect to smtp %s:%d: %w", c.cfg.Host, c.cfg.Port, err)
	}
	c.open = true
	return nil
}

// Send delivers one message. After a failed send the connection is reset, or
// redialled on the next Send if the server dropped it.
func (c *Conn) Send(ctx context.Context, m *Message) error {
	msg, err := Build(m)
	if err != nil {
		return err
	}
	if !c.open {
		if err := c.dial(ctx); err != nil {
			return err
		}
	}
	if err := c.client.Send(msg); err != nil {
		if IsConnectionError(err) {
			_ = c.client.Close()
			c.open = false
		} else if rerr := c.client.Reset(); rerr != nil {
			_ = c.client.Close()
			c.open = false
		}
		return err
	}
	return nil
}

// Close ends the SMTP session.
func (c *Conn) Close() error {
	if !c.open {
		return nil
	}
	c.open = false
	return c.client.Close()
}

// Build turns a Message into a go-mail Msg. Header values are stripped of CR
// and LF so no caller can inject headers.
func Build(m *Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.FromFormat(oneLine(m.From.Name), m.From.Address); err != nil {
		return nil, fmt.Errorf("invalid from address: %w", err)
	}
	if err := msg.AddToFormat(oneLine(m.To.Name), m.To.Address); err != nil {
		return nil, fmt.Errorf("invalid to address: %w", err)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("invalid reply-to address: %w", err)
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

// LoadDKIM reads a PEM private key (RSA or Ed25519) for signing as domain
// with selector.
func LoadDKIM(domain, selector string, pemBytes []byte) (*DKIM, error) {
	if domain == "" || selector == "" {
		return nil, errors.New("dkim needs a domain and a selector")
	}
	key, err := gomail.PrivKeyFromPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	return &DKIM{Domain: domain, Selector: selector, Key: key}, nil
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
