package mailsend_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"supportercrm/internal/mailsend"
	"supportercrm/internal/testkit"
)

// The sending-outcome contract (BRIEF.md) against the misbehaving relay.

func dialCfg(t *testing.T, cfg mailsend.Config) *mailsend.Conn {
	t.Helper()
	c, err := mailsend.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exactlyOnce fails unless the relay accepted one message for each of want
// and nothing else.
func exactlyOnce(t *testing.T, r *testkit.SMTPSink, want ...string) {
	t.Helper()
	got := r.Accepted()
	for _, w := range want {
		if got[w] != 1 {
			t.Errorf("relay accepted %d messages for %s, want 1 (all: %v)", got[w], w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("relay accepted mail for %d recipients, want %d: %v", len(got), len(want), got)
	}
}

// waitIdleClose waits until the relay has closed a connection for idling,
// and fails the test if it has not within 5 s.
func waitIdleClose(t *testing.T, r *testkit.SMTPSink) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); r.IdleCloses() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the relay closed no idle connection within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// 9.1: once the data got its 250 the message is sent, though the line drops
// right after it; the next Send redials.
func TestAcceptedMessageIsSentWhateverFollows(t *testing.T) {
	r := testkit.NewRelay(t, testkit.RelayOptions{})
	r.Fail(testkit.AfterData, testkit.Fault{First: 1})
	c := dial(t, r)
	ctx := context.Background()
	if err := c.Send(ctx, msgTo("one@example.org", "accepted")); err != nil {
		t.Fatalf("Send of a message the relay accepted = %v (classified %+v), want nil", err, mailsend.Classify(err))
	}
	if r.Fired(testkit.AfterData) != 1 {
		t.Fatalf("the fault did not fire")
	}
	if err := c.Send(ctx, msgTo("two@example.org", "next")); err != nil {
		t.Fatalf("Send after the lost connection: %v", err)
	}
	if r.Conns() != 2 {
		t.Errorf("connections = %d, want 2 (closed, then redialled)", r.Conns())
	}
	exactlyOnce(t, r, "one@example.org", "two@example.org")
}

// A transaction that ended in 250 needs no RSET (RFC 5321 4.1.1.5: the
// end of the data clears it), so none is sent; one that was refused before
// its data is cleared with RSET, and a relay that fails the RSET costs the
// connection, not the report of the refusal.
func TestRsetOnlyAfterARefusal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault testkit.Fault
	}{
		{"RSET answered", testkit.Fault{}},
		{"421 to RSET", testkit.Fault{Code: 421}},
		{"RSET dropped", testkit.Fault{Drop: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testkit.NewRelay(t, testkit.RelayOptions{})
			if tc.fault != (testkit.Fault{}) {
				r.Fail(testkit.AtRset, tc.fault) // would cut the line at an RSET after a 250
			}
			c := dial(t, r)
			ctx := context.Background()
			for i := range 3 {
				if err := c.Send(ctx, msgTo(fmt.Sprintf("ok%d@example.org", i), "accepted")); err != nil {
					t.Fatal(err)
				}
			}
			r.Fail(testkit.AtRcpt, testkit.Fault{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Rcpt: "gone@example.org"})
			err := c.Send(ctx, msgTo("gone@example.org", "refused"))
			if f := mailsend.Classify(err); f.Code != 550 || f.Enhanced != "5.1.1" || mailsend.IsConnectionError(err) {
				t.Fatalf("refused RCPT: Send = %v, classified %+v; want the 550 5.1.1", err, f)
			}
			fired := r.Fired(testkit.AtRset)
			if err := c.Send(ctx, msgTo("after@example.org", "next")); err != nil {
				t.Fatalf("Send after the refusal: %v", err)
			}
			conns := 1
			if tc.fault != (testkit.Fault{}) {
				conns = 2
				if fired != 1 {
					t.Errorf("RSET faults fired = %d, want 1 (one RSET, after the refusal only)", fired)
				}
			}
			if r.Conns() != conns {
				t.Errorf("connections = %d, want %d", r.Conns(), conns)
			}
			exactlyOnce(t, r, "ok0@example.org", "ok1@example.org", "ok2@example.org", "after@example.org")
		})
	}
}

// 9.2: a connection idle longer than Config.IdleTimeout is closed and
// redialled before it is used again.
func TestIdleConnectionIsReplacedBeforeUse(t *testing.T) {
	r := testkit.NewRelay(t, testkit.RelayOptions{})
	cfg := config(r)
	cfg.IdleTimeout = 50 * time.Millisecond
	c := dialCfg(t, cfg)
	ctx := context.Background()
	if err := c.Send(ctx, msgTo("one@example.org", "1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, msgTo("two@example.org", "2")); err != nil {
		t.Fatal(err)
	}
	if r.Conns() != 1 {
		t.Fatalf("a busy connection was replaced: %d connections", r.Conns())
	}
	time.Sleep(4 * cfg.IdleTimeout)
	if err := c.Send(ctx, msgTo("three@example.org", "3")); err != nil {
		t.Fatal(err)
	}
	if r.Conns() != 2 {
		t.Errorf("connections = %d, want 2: the idle one should be replaced", r.Conns())
	}
	exactlyOnce(t, r, "one@example.org", "two@example.org", "three@example.org")
}

// 9.2: a relay that closed the idle connection first costs nothing: Send
// finds it dead before the hand-over, redials and sends at once.
func TestRelayIdleCloseIsRedialledAtOnce(t *testing.T) {
	r := testkit.NewRelay(t, testkit.RelayOptions{IdleTimeout: 100 * time.Millisecond})
	cfg := config(r)
	cfg.IdleTimeout = time.Hour
	c := dialCfg(t, cfg)
	ctx := context.Background()
	if err := c.Send(ctx, msgTo("one@example.org", "1")); err != nil {
		t.Fatal(err)
	}
	waitIdleClose(t, r)
	if err := c.Send(ctx, msgTo("two@example.org", "2")); err != nil {
		t.Fatalf("Send on a connection the relay idled out = %v, want a redial and nil", err)
	}
	if r.Noops() != 0 {
		t.Errorf("%d NOOPs sent: the dead connection should be found at MAIL FROM, with no check before it", r.Noops())
	}
	exactlyOnce(t, r, "one@example.org", "two@example.org")
}

// Issue 15: no NOOP before each message (a round trip each, a quarter of a
// connection's rate to a relay 20 ms away); a connection that died while
// idle is found at MAIL FROM instead, and when the redial fails too the
// error is NotSent, so the caller counts no attempt.
func TestIdleDeathFoundAtMailFromIsNotSent(t *testing.T) {
	r := testkit.NewRelay(t, testkit.RelayOptions{IdleTimeout: 100 * time.Millisecond})
	cfg := config(r)
	cfg.IdleTimeout = time.Hour
	c := dialCfg(t, cfg)
	ctx := context.Background()
	for i := range 3 {
		if err := c.Send(ctx, msgTo(fmt.Sprintf("r%d@example.org", i), "n")); err != nil {
			t.Fatal(err)
		}
	}
	if r.Noops() != 0 || r.Conns() != 1 {
		t.Fatalf("3 messages: %d NOOPs over %d connections, want none over 1", r.Noops(), r.Conns())
	}
	waitIdleClose(t, r)
	r.Fail(testkit.AtGreeting, testkit.Fault{Code: 421}) // the redial is refused too
	err := c.Send(ctx, msgTo("late@example.org", "after the idle close"))
	f := mailsend.Classify(err)
	if err == nil || !f.NotSent || !f.Temporary || f.Unsendable {
		t.Fatalf("Send on the dead connection with the redial refused = %v, classified %+v; want NotSent", err, f)
	}
	if r.Fired(testkit.AtGreeting) != 1 || r.RcptCount("late@example.org") != 0 {
		t.Errorf("redials refused %d times (want 1: the one after MAIL FROM found the connection dead), relay saw the recipient %d times (want 0)",
			r.Fired(testkit.AtGreeting), r.RcptCount("late@example.org"))
	}
	r.Heal()
	if err := c.Send(ctx, msgTo("late@example.org", "again")); err != nil {
		t.Fatalf("Send once the relay takes connections again: %v", err)
	}
	if r.Noops() != 0 {
		t.Errorf("%d NOOPs sent, want none", r.Noops())
	}
	exactlyOnce(t, r, "r0@example.org", "r1@example.org", "r2@example.org", "late@example.org")
}

// 9.2: Config.MaxMessages closes the connection before the relay's limit.
func TestMaxMessagesPerConnection(t *testing.T) {
	r := testkit.NewRelay(t, testkit.RelayOptions{MessagesPerConn: 3})
	cfg := config(r)
	cfg.MaxMessages = 3
	c := dialCfg(t, cfg)
	var want []string
	for i := range 7 {
		rcpt := fmt.Sprintf("r%d@example.org", i)
		want = append(want, rcpt)
		if err := c.Send(context.Background(), msgTo(rcpt, "n")); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if r.Conns() != 3 || r.LimitCloses() != 0 {
		t.Errorf("7 messages at 3 a connection: %d connections, relay refused %d times; want 3 and 0", r.Conns(), r.LimitCloses())
	}
	exactlyOnce(t, r, want...)
}

// 9.2: without MaxMessages, the relay's 421 at MAIL (its limit per
// connection) is met before hand-over: redial and send.
func TestRelayConnectionLimitIsRedialled(t *testing.T) {
	r := testkit.NewRelay(t, testkit.RelayOptions{MessagesPerConn: 2})
	c := dial(t, r)
	var want []string
	for i := range 5 {
		rcpt := fmt.Sprintf("r%d@example.org", i)
		want = append(want, rcpt)
		if err := c.Send(context.Background(), msgTo(rcpt, "n")); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if r.LimitCloses() != 2 {
		t.Errorf("relay limit hit %d times, want 2", r.LimitCloses())
	}
	exactlyOnce(t, r, want...)
}

// 9.2: a failure before hand-over (greeting, EHLO, AUTH on the dial a Send
// makes; a 421 or no reply to MAIL) is redialled at once; the message goes.
func TestFailureBeforeHandOverRedialsOnce(t *testing.T) {
	for _, tc := range []struct {
		stage testkit.Stage
		fault testkit.Fault
	}{
		{testkit.AtGreeting, testkit.Fault{Code: 421}},
		{testkit.AtGreeting, testkit.Fault{Code: 554}},
		{testkit.AtGreeting, testkit.Fault{Drop: true}},
		{testkit.AtEHLO, testkit.Fault{Code: 421}},
		{testkit.AtEHLO, testkit.Fault{Drop: true}},
		{testkit.AtAuth, testkit.Fault{Code: 454}},
		{testkit.AtAuth, testkit.Fault{Drop: true}},
		{testkit.AtMail, testkit.Fault{Code: 421}},
		{testkit.AtMail, testkit.Fault{Drop: true}},
	} {
		t.Run(fmt.Sprintf("%s_%d_%v", tc.stage, tc.fault.Code, tc.fault.Drop), func(t *testing.T) {
			r := testkit.NewRelay(t, testkit.RelayOptions{Username: "crm", Password: "secret"})
			cfg := config(r)
			cfg.Username, cfg.Password = "crm", "secret"
			c := dialCfg(t, cfg)
			ctx := context.Background()
			if err := c.Send(ctx, msgTo("one@example.org", "1")); err != nil {
				t.Fatal(err)
			}
			if tc.stage != testkit.AtMail {
				c.Close() // the next Send dials, and meets the fault once
			}
			tc.fault.First = 1
			r.Fail(tc.stage, tc.fault)
			if err := c.Send(ctx, msgTo("two@example.org", "2")); err != nil {
				t.Fatalf("Send = %v (classified %+v), want a redial and nil", err, mailsend.Classify(err))
			}
			if r.Fired(tc.stage) != 1 {
				t.Errorf("fault fired %d times, want 1", r.Fired(tc.stage))
			}
			exactlyOnce(t, r, "one@example.org", "two@example.org")
		})
	}
}

// 9.2: a relay that cannot take the message even after the redial gives an
// error that says not sent, so no attempt is counted.
func TestNotHandedOverIsNotSent(t *testing.T) {
	for _, tc := range []struct {
		stage testkit.Stage
		fault testkit.Fault
		code  int
	}{
		{testkit.AtGreeting, testkit.Fault{Code: 421}, 421},
		{testkit.AtGreeting, testkit.Fault{Code: 554}, 554},
		{testkit.AtGreeting, testkit.Fault{Drop: true}, 0},
		{testkit.AtEHLO, testkit.Fault{Code: 421}, 421},
		{testkit.AtAuth, testkit.Fault{Code: 535}, 535},
		{testkit.AtMail, testkit.Fault{Code: 421}, 421},
	} {
		t.Run(fmt.Sprintf("%s_%d_%v", tc.stage, tc.fault.Code, tc.fault.Drop), func(t *testing.T) {
			r := testkit.NewRelay(t, testkit.RelayOptions{Username: "crm", Password: "secret"})
			cfg := config(r)
			cfg.Username, cfg.Password = "crm", "secret"
			c := dialCfg(t, cfg)
			r.Fail(tc.stage, tc.fault)
			if tc.stage != testkit.AtMail {
				c.Close() // the next Send dials
			}
			err := c.Send(context.Background(), msgTo("one@example.org", "1"))
			f := mailsend.Classify(err)
			if err == nil || !f.NotSent || !f.Temporary || f.Unsendable || f.Code != tc.code {
				t.Fatalf("Send = %v, classified %+v; want NotSent, Temporary, code %d", err, f, tc.code)
			}
			if !mailsend.IsConnectionError(err) {
				t.Errorf("not a connection error: %v", err)
			}
			if r.Fired(tc.stage) != 2 {
				t.Errorf("fault fired %d times, want 2 (the Send and one redial)", r.Fired(tc.stage))
			}
			if r.RcptCount("one@example.org") != 0 {
				t.Error("the relay saw the recipient")
			}
		})
	}
}

func TestRelayDownIsNotSent(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	r.Stop()
	err := c.Send(context.Background(), msgTo("one@example.org", "1"))
	if f := mailsend.Classify(err); err == nil || !f.NotSent || !mailsend.IsConnectionError(err) {
		t.Fatalf("relay down: Send = %v, classified %+v; want NotSent", err, f)
	}
	var ne net.Error
	if !errors.As(err, &ne) {
		t.Errorf("the error does not wrap the net error: %v", err)
	}
}

// 9.4: a refusal or a dropped line at every step of the transaction, with
// the relay pipelining (RFC 2920) and without, classified; a refusal keeps
// the connection for the next message, a dropped line does not.
func TestClassifyEveryStep(t *testing.T) {
	type want struct {
		temporary, conn, notSent bool
		code                     int
		enhanced                 string
	}
	for _, tc := range []struct {
		name   string
		setup  func(r *testkit.SMTPSink)
		want   want
		closes bool // the test relay closes after this refusal
	}{
		{name: "MAIL 451", setup: fail(testkit.AtMail, 451, 4, 3, 0), want: want{temporary: true, code: 451, enhanced: "4.3.0"}},
		{name: "MAIL 550", setup: fail(testkit.AtMail, 550, 5, 7, 1), want: want{code: 550, enhanced: "5.7.1"}},
		// Redialled once, then given up: not handed over.
		{name: "MAIL 421", setup: fail(testkit.AtMail, 421, 4, 7, 0), want: want{temporary: true, conn: true, code: 421, enhanced: "4.7.0", notSent: true}},
		{name: "MAIL dropped", setup: drop(testkit.AtMail), want: want{temporary: true, conn: true, notSent: true}},
		{name: "RCPT 450", setup: fail(testkit.AtRcpt, 450, 4, 2, 1), want: want{temporary: true, code: 450, enhanced: "4.2.1"}},
		{name: "RCPT 550", setup: fail(testkit.AtRcpt, 550, 5, 1, 1), want: want{code: 550, enhanced: "5.1.1"}},
		{name: "RCPT dropped", setup: drop(testkit.AtRcpt), want: want{temporary: true, conn: true}},
		{name: "DATA command 451", setup: fail(testkit.AtDataCmd, 451, 4, 3, 0), want: want{temporary: true, code: 451, enhanced: "4.3.0"}, closes: true},
		{name: "DATA command 554", setup: fail(testkit.AtDataCmd, 554, 5, 3, 4), want: want{code: 554, enhanced: "5.3.4"}, closes: true},
		{name: "DATA 451", setup: fail(testkit.AtData, 451, 4, 3, 0), want: want{temporary: true, code: 451, enhanced: "4.3.0"}},
		{name: "DATA 554", setup: fail(testkit.AtData, 554, 5, 6, 0), want: want{code: 554, enhanced: "5.6.0"}},
		{name: "DATA dropped", setup: drop(testkit.AtData), want: want{temporary: true, conn: true}},
	} {
		for _, pipelining := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s pipelining=%v", tc.name, pipelining), func(t *testing.T) {
				r := testkit.NewRelay(t, testkit.RelayOptions{NoPipelining: !pipelining})
				c := dial(t, r)
				ctx := context.Background()
				tc.setup(r)
				err := c.Send(ctx, msgTo("ada@example.org", "refused"))
				f := mailsend.Classify(err)
				got := want{f.Temporary, mailsend.IsConnectionError(err), f.NotSent, f.Code, f.Enhanced}
				if err == nil || got != tc.want || f.Unsendable {
					t.Fatalf("Send = %v, classified %+v, IsConnectionError %v; want %+v", err, f, got.conn, tc.want)
				}
				r.Heal()
				if err := c.Send(ctx, msgTo("bob@example.org", "next")); err != nil {
					t.Fatalf("the next Send: %v", err)
				}
				conns := 1 + btoi(tc.closes) // the RSET finds it closed
				if tc.want.conn {
					conns = 2 + btoi(tc.want.notSent) // the dead line, the redial that met it too, and a fresh one
				}
				if r.Conns() != conns {
					t.Errorf("connections = %d, want %d", r.Conns(), conns)
				}
				exactlyOnce(t, r, "bob@example.org")
			})
		}
	}
}

func fail(st testkit.Stage, code, a, b, c int) func(*testkit.SMTPSink) {
	return func(r *testkit.SMTPSink) {
		r.Fail(st, testkit.Fault{Code: code, Enhanced: smtp.EnhancedCode{a, b, c}})
	}
}

func drop(st testkit.Stage) func(*testkit.SMTPSink) {
	return func(r *testkit.SMTPSink) { r.Fail(st, testkit.Fault{Drop: true}) }
}

func TestClassifyOtherErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		conn bool
	}{
		{errors.New("something odd"), false},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, true},
		{fmt.Errorf("wrapped: %w", net.ErrClosed), true},
	} {
		f := mailsend.Classify(tc.err)
		if !f.Temporary || f.NotSent || f.Unsendable || f.Code != 0 || mailsend.IsConnectionError(tc.err) != tc.conn {
			t.Errorf("%v: Classify = %+v, IsConnectionError = %v; want temporary, connection error %v",
				tc.err, f, mailsend.IsConnectionError(tc.err), tc.conn)
		}
	}
}

func TestFailureNote(t *testing.T) {
	for _, tc := range []struct {
		f    mailsend.Failure
		want string
	}{
		{mailsend.Failure{Code: 550, Enhanced: "5.1.1"}, "550 5.1.1"},
		{mailsend.Failure{Code: 451, Temporary: true}, "451"},
		{mailsend.Failure{Unsendable: true, Reason: "invalid to address"}, "invalid to address"},
		{mailsend.Failure{}, ""},
	} {
		if got := tc.f.Note(); got != tc.want {
			t.Errorf("%+v.Note() = %q, want %q", tc.f, got, tc.want)
		}
	}
	// From a real refusal whose text names the recipient.
	r := newRelay(t)
	r.SetPolicy(func(string, int) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user nobody@example.org"}
	})
	err := dial(t, r).Send(context.Background(), msgTo("nobody@example.org", "x"))
	if note := mailsend.Classify(err).Note(); note != "550 5.1.1" {
		t.Errorf("Note of %v = %q, want the codes only", err, note)
	}
}
