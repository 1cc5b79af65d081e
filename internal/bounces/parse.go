package bounces

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // bounces come in every charset
	"github.com/emersion/go-message/textproto"
)

// Format is what kind of mail a message in the bounce mailbox is.
type Format string

// The formats Parse tells apart.
const (
	FormatDSN       Format = "dsn"        // RFC 3464 delivery status notification
	FormatARF       Format = "arf"        // RFC 5965 feedback report (a complaint)
	FormatText      Format = "text"       // a bounce in prose (Postfix, Exim, Exchange)
	FormatAutoReply Format = "auto-reply" // out of office and the like: not a bounce
	FormatOther     Format = "other"      // anything else: not a bounce
)

// Mail is one message from the bounce mailbox, read.
type Mail struct {
	Format  Format
	Reports []Report // none for an auto-reply, other mail, or a DSN that only reports successes
}

// MaxMail is the largest message Parse reads; a bounce quoting a huge
// message is cut there, which loses nothing it needs (the headers come first).
const MaxMail = 4 << 20

// Parse reads one message that came to a bounce address and returns the
// reports it holds, each with Source set to source and EventID to the
// message's own Message-ID (a recipient number added for a DSN about
// several). The VERP token is looked for in the headers that name the
// bounce address (To, Delivered-To, X-Original-To, Envelope-To), in an ARF
// report's Original-Mail-From, and then anywhere in the message (a
// returned copy's Return-Path); envelopeTo, when known (the SMTP
// listener's RCPT TO), comes first.
func Parse(r io.Reader, source, envelopeTo string) (Mail, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxMail))
	if err != nil {
		return Mail{}, fmt.Errorf("failed to read the message: %w", err)
	}
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return Mail{}, fmt.Errorf("not a mail message: %w", err)
	}
	p := &parsed{raw: raw, top: e.Header}
	if err := e.Walk(p.part); err != nil {
		// A truncated or broken MIME tree: what was read so far still counts.
		p.broken = err
	}
	m := p.mail()
	token := findToken(envelopeTo, e.Header, p.arfFrom, raw)
	eventID := strings.Trim(strings.TrimSpace(e.Header.Get("Message-Id")), "<>")
	at := time.Now()
	if d, err := mail.ParseDate(e.Header.Get("Date")); err == nil {
		at = d
	}
	for i := range m.Reports {
		rep := &m.Reports[i]
		rep.Source = source
		if rep.Token == "" {
			rep.Token = token
		}
		if rep.MessageID == "" {
			rep.MessageID = p.originalID
		}
		if rep.At.IsZero() {
			rep.At = at
		}
		if eventID != "" {
			rep.EventID = eventID
			if len(m.Reports) > 1 {
				rep.EventID = fmt.Sprintf("%s#%d", eventID, i+1)
			}
		}
		rep.EventID = oneLineMax(rep.EventID)
		rep.Recipient, rep.MessageID, rep.Token = oneLineMax(rep.Recipient), oneLineMax(rep.MessageID), oneLineMax(rep.Token)
	}
	return m, nil
}

// parsed gathers what a walk over the MIME tree finds.
type parsed struct {
	raw        []byte
	top        message.Header
	reportType string             // multipart/report's report-type
	dsn        []textproto.Header // per-recipient blocks of a delivery-status part
	feedback   *textproto.Header
	arfFrom    string // the feedback report's Original-Mail-From
	originalID string // the returned message's Message-ID
	text       strings.Builder
	broken     error
}

// part looks at one entity of the message.
func (p *parsed) part(path []int, e *message.Entity, err error) error {
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return err
	}
	ct, params, _ := e.Header.ContentType()
	switch ct {
	case "multipart/report":
		p.reportType = strings.ToLower(params["report-type"])
	case "message/delivery-status", "message/global-delivery-status":
		blocks, err := headerBlocks(e.Body)
		if err != nil && len(blocks) == 0 {
			return nil
		}
		if len(blocks) > 1 {
			p.dsn = append(p.dsn, blocks[1:]...) // the first block is per message
		}
	case "message/feedback-report":
		blocks, _ := headerBlocks(e.Body)
		if len(blocks) > 0 {
			p.feedback = &blocks[0]
			p.arfFrom = blocks[0].Get("Original-Mail-From")
		}
	case "text/rfc822-headers", "message/rfc822", "message/global", "message/global-headers":
		if p.originalID == "" {
			if h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(e.Body, 256<<10))); err == nil || h.Len() > 0 {
				p.originalID = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
			}
		}
	case "", "text/plain":
		if p.text.Len() < 256<<10 {
			_, _ = io.Copy(&p.text, io.LimitReader(e.Body, 256<<10))
			p.text.WriteByte('\n')
		}
	}
	return nil
}

// headerBlocks reads the blank-line separated header blocks of a DSN or
// feedback report body.
func headerBlocks(r io.Reader) ([]textproto.Header, error) {
	br := bufio.NewReader(io.LimitReader(r, 256<<10))
	var out []textproto.Header
	for len(out) < 100 {
		for { // skip blank lines between blocks
			b, err := br.Peek(1)
			if err != nil {
				return out, nil
			}
			if b[0] != '\r' && b[0] != '\n' {
				break
			}
			_, _ = br.ReadByte()
		}
		h, err := textproto.ReadHeader(br)
		if h.Len() > 0 {
			out = append(out, h)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
	return out, nil
}

// mail turns what was found into reports.
func (p *parsed) mail() Mail {
	switch {
	case p.feedback != nil || p.reportType == "feedback-report":
		return Mail{Format: FormatARF, Reports: p.arf()}
	case p.dsn != nil || p.reportType == "delivery-status":
		return Mail{Format: FormatDSN, Reports: p.dsnReports()}
	}
	if reps := p.textBounce(); reps != nil {
		return Mail{Format: FormatText, Reports: reps}
	}
	if autoReply(p.top) {
		return Mail{Format: FormatAutoReply}
	}
	return Mail{Format: FormatOther}
}

// arf reads a feedback report: abuse, fraud, virus and other are
// complaints; not-spam and auth-failure reports are not (nobody objected to
// the mail).
func (p *parsed) arf() []Report {
	if p.feedback == nil {
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(p.feedback.Get("Feedback-Type"))) {
	case "abuse", "fraud", "virus", "other", "":
	default:
		return nil
	}
	r := Report{Kind: Complaint, Recipient: bareAddress(p.feedback.Get("Original-Rcpt-To"))}
	if d, err := mail.ParseDate(p.feedback.Get("Arrival-Date")); err == nil {
		r.At = d
	}
	r.Diagnostic = "feedback-type " + strings.TrimSpace(p.feedback.Get("Feedback-Type"))
	if ua := p.feedback.Get("User-Agent"); ua != "" {
		r.Diagnostic += " from " + ua
	}
	return []Report{r}
}

// dsnReports reads each recipient block of a DSN: failed is a hard bounce
// (soft when its status says a policy refusal, 5.7.x: the address is fine,
// our sending isn't), delayed a soft one; delivered, relayed and expanded
// are no bounce.
func (p *parsed) dsnReports() []Report {
	var out []Report
	for _, b := range p.dsn {
		status := statusCode(b.Get("Status"))
		diag := strings.TrimSpace(b.Get("Diagnostic-Code"))
		if status == "" {
			status = statusCode(diag)
		}
		var kind Kind
		switch strings.ToLower(strings.TrimSpace(b.Get("Action"))) {
		case "failed":
			kind = Hard
		case "delayed":
			kind = Soft
		case "delivered", "relayed", "expanded":
			continue
		default: // no or an unknown Action: go by the status
			switch {
			case strings.HasPrefix(status, "5."):
				kind = Hard
			case strings.HasPrefix(status, "4."):
				kind = Soft
			default:
				continue
			}
		}
		out = append(out, Report{
			Kind: policy(kind, status), Status: status, Diagnostic: diag,
			Recipient: bareAddress(firstNonEmpty(b.Get("Original-Recipient"), b.Get("Final-Recipient"))),
		})
	}
	return out
}

// policy makes a permanent refusal on policy grounds (5.7.x: blocked,
// not authorised, failed authentication) soft: it says the receiver won't
// take our mail, not that the address is gone, and suppressing on it would
// empty a list after one blocklisting. Repeated, it still stops the mail.
func policy(k Kind, status string) Kind {
	if k == Hard && strings.HasPrefix(status, "5.7.") {
		return Soft
	}
	return k
}

var (
	enhancedRe = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	replyRe    = regexp.MustCompile(`\b([45])\d\d[ -]`)
)

// statusCode finds the enhanced status code in s, or makes a class-only one
// (5.0.0, 4.0.0) from an SMTP reply code.
func statusCode(s string) string {
	if m := enhancedRe.FindString(s); m != "" {
		return m
	}
	if m := replyRe.FindStringSubmatch(s); m != nil {
		return m[1] + ".0.0"
	}
	return ""
}

// bareAddress is the address in a DSN field ("rfc822; a@b") or a header.
func bareAddress(s string) string {
	s = strings.TrimSpace(s)
	if _, after, ok := strings.Cut(s, ";"); ok {
		s = strings.TrimSpace(after)
	}
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return strings.Trim(s, "<> ")
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

func oneLineMax(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxField {
		s = s[:maxField]
	}
	return s
}

var tokenRe = regexp.MustCompile(`(?i)bounces\+[a-z0-9]+\.[a-z0-9]+@[a-z0-9.-]+`)

// findToken finds the VERP address a report came back to.
func findToken(envelopeTo string, h message.Header, arfFrom string, raw []byte) string {
	for _, v := range []string{envelopeTo, h.Get("Delivered-To"), h.Get("X-Original-To"), h.Get("Envelope-To"), h.Get("X-Envelope-To"), h.Get("To"), arfFrom} {
		if m := tokenRe.FindString(v); m != "" {
			return strings.TrimRight(m, ".-")
		}
	}
	return strings.TrimRight(string(tokenRe.Find(raw)), ".-")
}
