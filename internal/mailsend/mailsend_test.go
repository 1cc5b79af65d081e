package mailsend_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"supportercrm/internal/mailsend"
	"supportercrm/internal/testkit"
)

// newRelay starts a testkit.SMTPSink: a real go-smtp server on loopback
// that counts TCP connections and SMTP sessions and keeps every message
// exactly as it arrived (Mail.Raw).
func newRelay(t *testing.T) *testkit.SMTPSink {
	t.Helper()
	r := testkit.NewSMTPSink(t)
	r.Start(t)
	return r
}

func config(r *testkit.SMTPSink) mailsend.Config {
	return mailsend.Config{Host: "127.0.0.1", Port: r.Port, Timeout: 10 * time.Second}
}

// headerLines returns the raw header section unfolded into one string per
// field, as the receiving side would read it.
func headerLines(t *testing.T, raw []byte) []string {
	t.Helper()
	head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("message has no header/body separator:\n%s", raw)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(head))
	for sc.Scan() {
		line := sc.Text()
		line = strings.TrimSuffix(line, "\r")
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(out) > 0 {
			out[len(out)-1] += line
			continue
		}
		out = append(out, line)
	}
	return out
}

// fieldNames returns the lower-cased name of every header field.
func fieldNames(t *testing.T, raw []byte) []string {
	t.Helper()
	var names []string
	for _, l := range headerLines(t, raw) {
		name, _, _ := strings.Cut(l, ":")
		names = append(names, strings.ToLower(name))
	}
	return names
}

func dial(t *testing.T, r *testkit.SMTPSink) *mailsend.Conn {
	t.Helper()
	c, err := mailsend.Dial(context.Background(), config(r))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func msgTo(rcpt, subject string) *mailsend.Message {
	return &mailsend.Message{
		From:    mail.Address{Name: "Friends of the Park", Address: "news@charity.example"},
		To:      mail.Address{Name: "Ada Lovelace", Address: rcpt},
		Subject: subject,
		Text:    "Hello " + subject,
		HTML:    "<p>Hello <b>" + subject + "</b></p>",
	}
}

func TestSendSeveralOverOneConnection(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	const n = 5
	for i := range n {
		m := msgTo(fmt.Sprintf("ada%d@example.org", i), fmt.Sprintf("Issue %d", i))
		m.ReplyTo = "office@charity.example"
		m.Headers = []mailsend.Header{
			{Name: "List-Unsubscribe", Value: fmt.Sprintf("<https://crm.example/unsubscribe?t=tok%d>", i)},
			{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
		}
		if err := c.Send(context.Background(), m); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if conns, sessions := r.Conns(), r.Sessions(); conns != 1 || sessions != 1 {
		t.Errorf("%d messages used %d connections and %d sessions, want 1 and 1", n, conns, sessions)
	}

	got := r.Mails()
	if len(got) != n {
		t.Fatalf("relay got %d messages, want %d", len(got), n)
	}
	ids := map[string]bool{}
	for i, d := range got {
		rcpt := fmt.Sprintf("ada%d@example.org", i)
		if d.From != "news@charity.example" || len(d.To) != 1 || d.To[0] != rcpt {
			t.Errorf("message %d envelope = %s -> %v", i, d.From, d.To)
		}
		m, err := testkit.Parse(d.Raw)
		if err != nil {
			t.Fatalf("message %d does not parse: %v\n%s", i, err, d.Raw)
		}
		from, err := mail.ParseAddress(m.Header.Get("From"))
		if err != nil || from.Address != "news@charity.example" || from.Name != "Friends of the Park" {
			t.Errorf("message %d From = %q (%v)", i, m.Header.Get("From"), err)
		}
		to, err := mail.ParseAddress(m.Header.Get("To"))
		if err != nil || to.Address != rcpt || to.Name != "Ada Lovelace" {
			t.Errorf("message %d To = %q (%v)", i, m.Header.Get("To"), err)
		}
		if rt := m.Header.Get("Reply-To"); !strings.Contains(rt, "office@charity.example") {
			t.Errorf("message %d Reply-To = %q", i, rt)
		}
		if s := m.Header.Get("Subject"); s != fmt.Sprintf("Issue %d", i) {
			t.Errorf("message %d Subject = %q", i, s)
		}
		id := m.Header.Get("Message-ID")
		if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@charity.example>") {
			t.Errorf("message %d Message-ID = %q, want <...@charity.example>", i, id)
		}
		if ids[id] {
			t.Errorf("message %d reuses Message-ID %s", i, id)
		}
		ids[id] = true
		date, err := m.Header.Date()
		if err != nil || time.Since(date) > time.Hour || time.Until(date) > time.Hour {
			t.Errorf("message %d Date = %q (%v)", i, m.Header.Get("Date"), err)
		}
		mt, _, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/alternative" {
			t.Errorf("message %d Content-Type = %q", i, m.Header.Get("Content-Type"))
		}
		if strings.TrimSpace(m.Text) != fmt.Sprintf("Hello Issue %d", i) {
			t.Errorf("message %d text part = %q", i, m.Text)
		}
		if strings.TrimSpace(m.HTML) != fmt.Sprintf("<p>Hello <b>Issue %d</b></p>", i) {
			t.Errorf("message %d html part = %q", i, m.HTML)
		}
		if lu := m.Header.Get("List-Unsubscribe"); lu != fmt.Sprintf("<https://crm.example/unsubscribe?t=tok%d>", i) {
			t.Errorf("message %d List-Unsubscribe = %q", i, lu)
		}
		if lup := m.Header.Get("List-Unsubscribe-Post"); lup != "List-Unsubscribe=One-Click" {
			t.Errorf("message %d List-Unsubscribe-Post = %q", i, lup)
		}
		names := fieldNames(t, d.Raw)
		if idx(names, "list-unsubscribe") < 0 || idx(names, "list-unsubscribe") > idx(names, "list-unsubscribe-post") {
			t.Errorf("message %d header order %v: List-Unsubscribe should precede List-Unsubscribe-Post", i, names)
		}
	}
}

func idx(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

func TestGivenMessageIDIsUsed(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	m := msgTo("ada@example.org", "Hi")
	m.MessageID = "fixed-id-1@charity.example"
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := r.Mails()
	if len(got) != 1 {
		t.Fatalf("got %d messages", len(got))
	}
	pm, err := testkit.Parse(got[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	if id := pm.Header.Get("Message-ID"); id != "<fixed-id-1@charity.example>" {
		t.Errorf("Message-ID = %q", id)
	}
}

func TestNewMessageID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := mailsend.NewMessageID("news@charity.example")
		local, domain, ok := strings.Cut(id, "@")
		if !ok || domain != "charity.example" || len(local) != 32 {
			t.Fatalf("NewMessageID = %q", id)
		}
		if seen[id] {
			t.Fatalf("NewMessageID repeated %q", id)
		}
		seen[id] = true
	}
	for _, from := range []string{"", "no-at-sign", "trailing@"} {
		if id := mailsend.NewMessageID(from); !strings.HasSuffix(id, "@localhost") {
			t.Errorf("NewMessageID(%q) = %q, want @localhost", from, id)
		}
	}
}

// Extra headers are all written (go-mail sorts them by name); repeated names
// become one list-valued field instead of the last value winning.
func TestExtraHeadersKeepEveryValue(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	m := msgTo("ada@example.org", "Order")
	m.Headers = []mailsend.Header{
		{Name: "X-Zulu", Value: "first"},
		{Name: "X-Alpha", Value: "second"},
		{Name: "X-Tag", Value: "one"},
		{Name: "X-Tag", Value: "two"},
	}
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := r.Mails()
	if len(got) != 1 {
		t.Fatalf("got %d messages", len(got))
	}
	var extra []string
	for _, l := range headerLines(t, got[0].Raw) {
		if strings.HasPrefix(l, "X-") {
			extra = append(extra, l)
		}
	}
	want := []string{"X-Alpha: second", "X-Tag: one, two", "X-Zulu: first"}
	if strings.Join(extra, "|") != strings.Join(want, "|") {
		t.Errorf("extra headers = %q, want %q", extra, want)
	}
}

func TestCRLFCannotInjectHeaders(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	m := &mailsend.Message{
		From:      mail.Address{Name: "Charity\r\nX-Injected: from-name", Address: "news@charity.example"},
		To:        mail.Address{Name: "Ada\nBcc: victim1@evil.example", Address: "ada@example.org"},
		Subject:   "Hello\r\nBcc: victim2@evil.example\r\nX-Injected: subject",
		Text:      "body",
		HTML:      "<p>body</p>",
		MessageID: "id1@charity.example>\r\nX-Injected: message-id",
		Headers: []mailsend.Header{
			{Name: "List-Unsubscribe", Value: "<https://crm.example/u>\r\nX-Injected: value\r\nBcc: victim3@evil.example"},
			{Name: "X-Campaign\r\nX-Injected", Value: "name"},
			{Name: "X-Bare-CR", Value: "a\rX-Injected: cr"},
		},
	}
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := r.Mails()
	if len(got) != 1 {
		t.Fatalf("got %d messages", len(got))
	}
	d := got[0]
	if len(d.To) != 1 || d.To[0] != "ada@example.org" {
		t.Errorf("envelope recipients = %v, want only ada@example.org", d.To)
	}
	head, _, _ := bytes.Cut(d.Raw, []byte("\r\n\r\n"))
	if bytes.Contains(bytes.ReplaceAll(head, []byte("\r\n"), nil), []byte("\r")) {
		t.Errorf("header section contains a bare CR:\n%q", head)
	}
	if bytes.Contains(bytes.ReplaceAll(head, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("header section contains a bare LF:\n%q", head)
	}
	for _, name := range fieldNames(t, d.Raw) {
		switch name {
		case "x-injected", "bcc", "cc":
			t.Errorf("injected header field %q in:\n%s", name, head)
		}
	}
	for _, l := range headerLines(t, d.Raw) {
		if strings.HasPrefix(strings.ToLower(l), "x-injected") || strings.HasPrefix(strings.ToLower(l), "bcc") {
			t.Errorf("injected header line %q", l)
		}
	}
	if n := strings.Count(strings.ToLower(string(head)), "\r\nsubject:") + btoi(bytes.HasPrefix(bytes.ToLower(head), []byte("subject:"))); n != 1 {
		t.Errorf("%d Subject fields, want 1", n)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRefusalsAreClassifiedAndConnectionIsReused(t *testing.T) {
	r := newRelay(t)
	r.SetPolicy(func(rcpt string, _ int) error {
		switch {
		case strings.HasPrefix(rcpt, "greylisted@"):
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try again later"}
		case strings.HasPrefix(rcpt, "nobody@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasPrefix(rcpt, "full@"):
			return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "mailbox full"}
		}
		return nil
	})
	c := dial(t, r)
	ctx := context.Background()
	for _, tc := range []struct {
		rcpt      string
		temporary bool
		code      int
		enhanced  string
		hard      bool
	}{
		{"greylisted@example.org", true, 451, "4.7.1", false},
		{"nobody@example.org", false, 550, "5.1.1", true},
		{"full@example.org", false, 552, "5.2.2", false},
	} {
		err := c.Send(ctx, msgTo(tc.rcpt, "Refused"))
		if err == nil {
			t.Fatalf("%s: Send succeeded, want a refusal", tc.rcpt)
		}
		f := mailsend.Classify(err)
		if f.Temporary != tc.temporary || f.Code != tc.code || f.Enhanced != tc.enhanced || f.HardBounce() != tc.hard {
			t.Errorf("%s: Classify = %+v hard=%v, want temporary=%v code=%d enhanced=%s hard=%v (err %v)",
				tc.rcpt, f, f.HardBounce(), tc.temporary, tc.code, tc.enhanced, tc.hard, err)
		}
		if mailsend.IsConnectionError(err) {
			t.Errorf("%s: a refusal of one recipient counted as a connection error: %v", tc.rcpt, err)
		}
		// The same Conn sends the next message.
		ok := "ok-after-" + tc.rcpt
		if err := c.Send(ctx, msgTo(ok, "After refusal")); err != nil {
			t.Fatalf("Send after %s refusal: %v", tc.rcpt, err)
		}
	}
	if conns, sessions := r.Conns(), r.Sessions(); conns != 1 || sessions != 1 {
		t.Errorf("refusals led to %d connections, %d sessions; want 1 and 1", conns, sessions)
	}
	got := r.Mails()
	if len(got) != 3 {
		t.Fatalf("relay accepted %d messages, want 3", len(got))
	}
	for _, d := range got {
		if len(d.To) != 1 || !strings.HasPrefix(d.To[0], "ok-after-") {
			t.Errorf("accepted message to %v; a refused recipient leaked into a later transaction", d.To)
		}
	}
}

func TestServiceUnavailableRedials(t *testing.T) {
	r := newRelay(t)
	var refused atomic.Bool
	r.SetPolicy(func(rcpt string, _ int) error {
		if strings.HasPrefix(rcpt, "closing@") {
			refused.Store(true)
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down"}
		}
		return nil
	})
	c := dial(t, r)
	err := c.Send(context.Background(), msgTo("closing@example.org", "421"))
	if err == nil || !refused.Load() {
		t.Fatalf("Send = %v, want a 421 refusal", err)
	}
	if f := mailsend.Classify(err); !f.Temporary || f.Code != 421 {
		t.Errorf("Classify(421) = %+v", f)
	}
	if !mailsend.IsConnectionError(err) {
		t.Errorf("421 is not a connection error: %v", err)
	}
	if err := c.Send(context.Background(), msgTo("ada@example.org", "after 421")); err != nil {
		t.Fatalf("Send after 421: %v", err)
	}
	if conns := r.Conns(); conns != 2 {
		t.Errorf("connections = %d, want 2 (a redial after 421)", conns)
	}
	if len(r.Mails()) != 1 {
		t.Errorf("delivered %d, want 1", len(r.Mails()))
	}
}

func TestRedialAfterRelayRestart(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	ctx := context.Background()
	if err := c.Send(ctx, msgTo("one@example.org", "before restart")); err != nil {
		t.Fatal(err)
	}

	r.Stop()
	// While the relay is down, Send fails with a temporary connection error.
	err := c.Send(ctx, msgTo("two@example.org", "while down"))
	if err == nil {
		t.Fatal("Send succeeded with the relay stopped")
	}
	if !mailsend.IsConnectionError(err) || !mailsend.Classify(err).Temporary {
		t.Errorf("relay down: IsConnectionError=%v Classify=%+v, want a temporary connection error (%v)",
			mailsend.IsConnectionError(err), mailsend.Classify(err), err)
	}
	err = c.Send(ctx, msgTo("two@example.org", "still down"))
	if err == nil || !mailsend.IsConnectionError(err) {
		t.Errorf("redial to a stopped relay: err = %v, want a connection error", err)
	}

	r.Start(t)
	if err := c.Send(ctx, msgTo("three@example.org", "after restart")); err != nil {
		t.Fatalf("Send after restart: %v", err)
	}
	if err := c.Send(ctx, msgTo("four@example.org", "after restart 2")); err != nil {
		t.Fatalf("second Send after restart: %v", err)
	}
	if conns := r.Conns(); conns != 2 {
		t.Errorf("connections = %d, want 2 (one before, one after the restart)", conns)
	}
	var to []string
	for _, d := range r.Mails() {
		to = append(to, d.To...)
	}
	if strings.Join(to, ",") != "one@example.org,three@example.org,four@example.org" {
		t.Errorf("delivered to %v", to)
	}
}

// A stale connection is noticed before the message is handed over: that
// Send redials at once and delivers (9.2; it used to fail once first).
func TestRedialAfterRestartWithoutSendInBetween(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	ctx := context.Background()
	if err := c.Send(ctx, msgTo("one@example.org", "before")); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	r.Start(t)
	if err := c.Send(ctx, msgTo("two@example.org", "dead connection")); err != nil {
		t.Fatalf("Send on the dead connection = %v, want a redial and nil", err)
	}
	if conns := r.Conns(); conns != 2 {
		t.Errorf("connections = %d, want 2", conns)
	}
	if n := len(r.Mails()); n != 2 {
		t.Errorf("delivered %d, want 2", n)
	}
}

func TestDialClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	c, err := mailsend.Dial(context.Background(), mailsend.Config{Host: "127.0.0.1", Port: port, Timeout: 5 * time.Second})
	if err == nil {
		c.Close()
		t.Fatal("Dial to a closed port succeeded")
	}
	if !mailsend.IsConnectionError(err) {
		t.Errorf("IsConnectionError(%v) = false", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) {
		t.Errorf("Dial error does not wrap the net error: %v", err)
	}
	if f := mailsend.Classify(err); !f.Temporary || f.Code != 0 || f.HardBounce() {
		t.Errorf("Classify(dial error) = %+v", f)
	}
}

func TestDialWithoutHost(t *testing.T) {
	if c, err := mailsend.Dial(context.Background(), mailsend.Config{Port: 25}); err == nil {
		c.Close()
		t.Fatal("Dial with no host succeeded")
	}
}

func TestClassifyNonSMTPErrors(t *testing.T) {
	if f := mailsend.Classify(nil); f != (mailsend.Failure{}) {
		t.Errorf("Classify(nil) = %+v", f)
	}
	if mailsend.IsConnectionError(nil) {
		t.Error("IsConnectionError(nil) = true")
	}
	if f := mailsend.Classify(errors.New("i/o timeout")); !f.Temporary || f.Code != 0 {
		t.Errorf("Classify(plain error) = %+v", f)
	}
	if (mailsend.Failure{Temporary: true, Enhanced: "5.1.1"}).HardBounce() {
		t.Error("a temporary failure is a hard bounce")
	}
	if !(mailsend.Failure{Code: 550, Enhanced: "5.1.2"}).HardBounce() {
		t.Error("5.1.2 is not a hard bounce")
	}
}

func TestBuildRejectsBadAddresses(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	bad := msgTo("not an address", "x")
	if err := c.Send(context.Background(), bad); err == nil {
		t.Fatal("Send to an invalid address succeeded")
	}
	if _, err := mailsend.Build(&mailsend.Message{To: mail.Address{Address: "a@example.org"}, Subject: "x"}); err == nil {
		t.Error("Build without a From address succeeded")
	}
	if err := c.Send(context.Background(), msgTo("ada@example.org", "fine")); err != nil {
		t.Fatalf("Send after a Build error: %v", err)
	}
	if len(r.Mails()) != 1 {
		t.Errorf("delivered %d, want 1", len(r.Mails()))
	}
}

// With DKIM configured every message is signed, the signature verifies
// against the public key, and it covers both List-Unsubscribe headers
// (RFC 8058 section 4).
func TestDKIMSignsAndCoversListUnsubscribe(t *testing.T) {
	raw, _, verify := signedMessage(t)
	v, err := verify(raw)
	if err != nil {
		t.Fatalf("verification: %v", err)
	}
	signed := strings.ToLower(strings.Join(v.HeaderKeys, ":"))
	if v.Domain != "lanternhouse.org.uk" || !strings.Contains(signed, "from") || !strings.Contains(signed, "list-unsubscribe:list-unsubscribe-post") {
		t.Errorf("signature d=%s h=%s", v.Domain, signed)
	}

	// A tampered copy fails verification.
	if _, err := verify(bytes.Replace(raw, []byte("token=x"), []byte("token=y"), 1)); err == nil {
		t.Error("a changed List-Unsubscribe still verified")
	}
}

// Build streams the bodies from the strings in chunks instead of go-mail's
// copy of each: the encoded message must be byte for byte what go-mail's own
// SetBodyString gives, including long lines, multi-byte characters across
// chunk edges, trailing spaces and dots at line starts.
func TestBuildBodiesMatchGoMailStrings(t *testing.T) {
	var text, html strings.Builder
	for i := 0; text.Len() < 20000; i++ {
		fmt.Fprintf(&text, "Line %d: café naïve – “quotes” €%d, a long line that goes past seventy-six characters for soft breaks = and tabs\t \n.dot\n", i, i)
		fmt.Fprintf(&html, "<p style=\"color:#333\">Paragraph %d with ünïcödé and a <a href=\"https://example.org/x?a=1&amp;b=%d\">link</a></p>\r\n", i, i)
	}
	m := &mailsend.Message{From: mail.Address{Name: "Lanternhouse", Address: "news@lanternhouse.org.uk"},
		To: mail.Address{Name: "Reader", Address: "reader@example.org"}, Subject: "Test", Text: text.String(), HTML: html.String(), MessageID: "x@y"}
	got, err := mailsend.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	want, err := mailsend.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	parts := want.GetParts()
	parts[0].SetContent(m.Text)
	parts[1].SetContent(m.HTML)
	date := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var a, b bytes.Buffer
	for _, x := range []struct {
		msg interface {
			SetBoundary(string)
			SetDateWithValue(time.Time)
			WriteTo(w io.Writer) (int64, error)
		}
		out *bytes.Buffer
	}{{got, &a}, {want, &b}} {
		x.msg.SetBoundary("fixed-boundary")
		x.msg.SetDateWithValue(date)
		if _, err := x.msg.WriteTo(x.out); err != nil {
			t.Fatal(err)
		}
	}
	if a.String() != b.String() {
		t.Fatalf("streamed bodies differ from go-mail's SetBodyString output (%d vs %d bytes)", a.Len(), b.Len())
	}
	if a.Len() < 40000 {
		t.Fatalf("message is only %d bytes", a.Len())
	}
}

// The transaction writes the message content itself: lines that start with
// a dot (a lone dot would end the data early) reach the relay as written,
// through a pipelining relay and one that is not.
func TestDotLinesArriveIntact(t *testing.T) {
	text := ".\nfirst\n..two dots\n.leading dot\n.\nlast line"
	html := "<p>\r\n.\r\n.a</p>"
	for _, pipelining := range []bool{true, false} {
		r := testkit.NewRelay(t, testkit.RelayOptions{NoPipelining: !pipelining})
		c := dial(t, r)
		m := msgTo("ada@example.org", "dots")
		m.Text, m.HTML = text, html
		if err := c.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got := r.Mails()
		if len(got) != 1 {
			t.Fatalf("pipelining=%v: %d mails", pipelining, len(got))
		}
		lf := func(s string) string { return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }
		if lf(got[0].Text) != text || lf(got[0].HTML) != lf(html) {
			t.Errorf("pipelining=%v: text %q html %q; want %q and %q", pipelining, got[0].Text, got[0].HTML, text, html)
		}
	}
}
