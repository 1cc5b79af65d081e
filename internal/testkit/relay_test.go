package testkit

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The relay is checked with go-smtp's own client, independent of the
// go-mail client the app uses.

const body = "From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\nhello\r\n"

// send runs one transaction on c and returns the first error.
func send(c *smtp.Client, rcpt string) error {
	if err := c.Mail("a@example.org", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	return w.Close()
}

func dialRelay(t *testing.T, r *SMTPSink) (*smtp.Client, error) {
	t.Helper()
	c, err := smtp.Dial(r.Addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, c.Hello("client.example")
}

func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestRelayFaultsAtEachStage(t *testing.T) {
	for _, tc := range []struct {
		stage Stage
		fault Fault
		want  int // reply code the client sees; 0: a dropped connection
	}{
		{AtGreeting, Fault{Code: 421}, 421},
		{AtGreeting, Fault{Code: 554}, 554},
		{AtGreeting, Fault{Drop: true}, 0},
		{AtEHLO, Fault{Code: 421}, 421},
		{AtEHLO, Fault{Drop: true}, 0},
		{AtMail, Fault{Code: 451}, 451},
		{AtMail, Fault{Code: 550, Enhanced: smtp.EnhancedCode{5, 7, 1}}, 550},
		{AtRcpt, Fault{Code: 452}, 452},
		{AtRcpt, Fault{Code: 550, Rcpt: "b@example.org"}, 550},
		{AtRcpt, Fault{Drop: true}, 0},
		{AtDataCmd, Fault{Code: 451}, 451},
		{AtDataCmd, Fault{Code: 554}, 554},
		{AtData, Fault{Code: 451}, 451},
		{AtData, Fault{Code: 554}, 554},
		{AtData, Fault{Drop: true}, 0},
	} {
		t.Run(fmt.Sprintf("%s_%d_%v", tc.stage, tc.fault.Code, tc.fault.Drop), func(t *testing.T) {
			r := NewRelay(t, RelayOptions{})
			r.Fail(tc.stage, tc.fault)
			c, err := dialRelay(t, r)
			if err == nil {
				err = send(c, "b@example.org")
			}
			if err == nil || code(err) != tc.want {
				t.Fatalf("got %v (code %d), want code %d", err, code(err), tc.want)
			}
			if r.Fired(tc.stage) != 1 || len(r.Mails()) != 0 {
				t.Errorf("fired %d, accepted %d; want 1 and 0", r.Fired(tc.stage), len(r.Mails()))
			}
			if tc.fault.Code == 421 || tc.fault.Drop || tc.stage == AtDataCmd {
				if c != nil && c.Noop() == nil {
					t.Error("connection still open after a 421 or a drop")
				}
			}
		})
	}
}

// AfterData accepts and records the message, then the line is gone.
func TestRelayDropsAfterAcceptingData(t *testing.T) {
	r := NewRelay(t, RelayOptions{})
	r.Fail(AfterData, Fault{Rcpt: "b@example.org"})
	c, err := dialRelay(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, "b@example.org"); err != nil {
		t.Fatalf("DATA was not answered 250: %v", err)
	}
	if err := c.Reset(); err == nil {
		t.Error("RSET succeeded after the drop")
	}
	if got := r.Accepted()["b@example.org"]; got != 1 {
		t.Errorf("accepted %d for b, want 1", got)
	}
}

func TestRelayRsetFault(t *testing.T) {
	r := NewRelay(t, RelayOptions{})
	r.Fail(AtRset, Fault{Code: 421})
	c, err := dialRelay(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, "b@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(); code(err) != 421 {
		t.Errorf("RSET = %v, want 421", err)
	}
	if c.Noop() == nil {
		t.Error("connection open after 421 to RSET")
	}
	if r.Fired(AtRset) != 1 || r.Accepted()["b@example.org"] != 1 {
		t.Errorf("fired %d accepted %v", r.Fired(AtRset), r.Accepted())
	}
}

// First and Every select occurrences; Accepted counts what got through.
func TestRelayFirstAndEvery(t *testing.T) {
	r := NewRelay(t, RelayOptions{})
	r.Fail(AtData, Fault{Code: 451, Every: 3})
	r.Fail(AtRcpt, Fault{Code: 450, First: 2, Rcpt: "slow@example.org"})
	c, err := dialRelay(t, r)
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for i := range 6 {
		codes = append(codes, code(send(c, fmt.Sprintf("r%d@example.org", i))))
		c.Reset()
	}
	if fmt.Sprint(codes) != "[0 0 451 0 0 451]" {
		t.Errorf("DATA replies %v, want every third 451", codes)
	}
	codes = nil
	for range 3 {
		codes = append(codes, code(send(c, "slow@example.org")))
		c.Reset()
	}
	if fmt.Sprint(codes) != "[450 450 0]" {
		t.Errorf("RCPT replies for slow@ %v, want the first two 450", codes)
	}
	acc := r.Accepted()
	if len(acc) != 5 || acc["r2@example.org"] != 0 || acc["slow@example.org"] != 1 {
		t.Errorf("accepted %v", acc)
	}
}

func TestRelayIdleTimeout(t *testing.T) {
	r := NewRelay(t, RelayOptions{IdleTimeout: 100 * time.Millisecond})
	c, err := dialRelay(t, r)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if err := c.Noop(); err == nil {
		t.Fatal("idle connection still open")
	}
	if r.IdleCloses() != 1 {
		t.Errorf("IdleCloses = %d, want 1", r.IdleCloses())
	}
}

// The idle limit is between commands, as hosted relays and Postfix's
// short timeouts have it: a client that pauses in the middle of its message
// data (a busy sender, a slow network) is not cut off, and the message is
// accepted.
func TestRelayIdleTimeoutIsBetweenCommands(t *testing.T) {
	r := NewRelay(t, RelayOptions{IdleTimeout: 100 * time.Millisecond})
	c, err := dialRelay(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("paused@example.org", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	half := len(body) / 2
	if _, err := w.Write([]byte(body[:half])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := w.Write([]byte(body[half:])); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("a pause inside the message data: %v", err)
	}
	if got := r.Accepted()["paused@example.org"]; got != 1 || r.IdleCloses() != 0 {
		t.Errorf("accepted %d, idle closes %d; want 1, 0", got, r.IdleCloses())
	}
}

func TestRelayMessagesPerConnection(t *testing.T) {
	r := NewRelay(t, RelayOptions{MessagesPerConn: 2})
	c, err := dialRelay(t, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := send(c, fmt.Sprintf("r%d@example.org", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := send(c, "r2@example.org"); code(err) != 421 {
		t.Errorf("third message = %v, want 421", err)
	}
	if c.Noop() == nil || r.LimitCloses() != 1 || len(r.Mails()) != 2 {
		t.Errorf("after the limit: closes %d, accepted %d", r.LimitCloses(), len(r.Mails()))
	}
}

func TestRelayAuthAndExtensions(t *testing.T) {
	r := NewRelay(t, RelayOptions{Username: "u", Password: "p", SMTPUTF8: true})
	c, err := dialRelay(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("SMTPUTF8"); !ok {
		t.Error("SMTPUTF8 not offered")
	}
	if err := send(c, "b@example.org"); code(err) != 502 {
		t.Errorf("MAIL before AUTH = %v, want 502", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "u", "wrong")); code(err) != 535 {
		t.Errorf("wrong password = %v, want 535", err)
	}
	r.Fail(AtAuth, Fault{Code: 454})
	if err := c.Auth(sasl.NewPlainClient("", "u", "p")); code(err) != 454 {
		t.Errorf("AUTH fault = %v, want 454", err)
	}
	r.Heal()
	if err := c.Auth(sasl.NewPlainClient("", "u", "p")); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "b@example.org"); err != nil {
		t.Fatal(err)
	}

	plain := NewRelay(t, RelayOptions{})
	c2, err := dialRelay(t, plain)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c2.Extension("SMTPUTF8"); ok {
		t.Error("SMTPUTF8 offered without the option")
	}
	if ok, _ := c2.Extension("AUTH"); ok || strings.Contains(fmt.Sprint(c2.SupportsAuth("PLAIN")), "true") {
		t.Error("AUTH offered without credentials")
	}
}
