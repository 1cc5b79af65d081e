package mailsend

import (
	"errors"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
)

// Failure describes why a send failed, in the terms a retry policy needs.
type Failure struct {
	// Temporary failures (4xx, dropped connections, timeouts) are worth retrying.
	Temporary bool
	// Code is the SMTP reply code, 0 when the server never answered.
	Code int
	// Enhanced is the RFC 3463 status such as "5.1.1", when the server sent one.
	Enhanced string
	// NotSent means the message was never handed to the relay: it could not
	// be reached, or the session failed before MAIL (dial, greeting, EHLO,
	// STARTTLS, AUTH, a dead connection), even after Send redialled once.
	// The caller must not count an attempt; it may back off or count the
	// relay as down. NotSent failures are also Temporary.
	NotSent bool
	// Unsendable means this message itself cannot go (it cannot be built, an
	// address is invalid, a non-ASCII address meets a relay without
	// SMTPUTF8): a permanent failure of this message only, not a bounce and
	// not the relay's trouble. Never retry it; the connection is kept.
	Unsendable bool
	// Reason is mailsend's own account of a failure without a reply code
	// ("the relay does not offer SMTPUTF8, needed for this address"). It
	// never holds an address or the server's text.
	Reason string
}

// Note is the failure as a suppression or an outcome column may store it:
// the reply codes only ("550 5.1.1"), or Reason when there was no reply.
// The server's text is left out because it names the recipient.
func (f Failure) Note() string {
	switch {
	case f.Code != 0 && f.Enhanced != "":
		return strconv.Itoa(f.Code) + " " + f.Enhanced
	case f.Code != 0:
		return strconv.Itoa(f.Code)
	}
	return f.Reason
}

// Error is a failure mailsend itself decided before the message reached
// the relay: either the message is unsendable, or the relay could not be
// reached or refused the session (not sent). Classify reads it.
type Error struct {
	Unsendable bool   // false: not sent, the relay's trouble
	Reason     string // fixed text, no address
	Err        error  // the underlying error, if any
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// HardBounce reports a permanent addressing failure (5.1.x): the mailbox or
// domain does not exist and the address should be suppressed.
func (f Failure) HardBounce() bool {
	return !f.Temporary && strings.HasPrefix(f.Enhanced, "5.1.")
}

// Classify reads a send error: mailsend's own *Error, a step of the
// transaction with the relay's reply, a bare SMTP reply, and anything else
// as a temporary failure without a reply.
func Classify(err error) Failure {
	if err == nil {
		return Failure{}
	}
	var me *Error
	if errors.As(err, &me) {
		if me.Unsendable {
			return Failure{Unsendable: true, Reason: me.Reason}
		}
		f := Classify(me.Err)
		f.NotSent, f.Temporary, f.Reason = true, true, me.Reason
		return f
	}
	var se *stepError
	if errors.As(err, &se) {
		f := Classify(se.err)
		f.NotSent = beforeHandOver(se)
		return f
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return reply(te.Code, enhancedCode(te.Msg))
	}
	return Failure{Temporary: true, Reason: noReply}
}

const noReply = "no reply from the relay"

// reply classifies an SMTP reply code: 5xx is permanent, anything else
// (4xx, or no reply at all) temporary.
func reply(code int, enhanced string) Failure {
	switch {
	case code >= 500 && code < 600:
		return Failure{Code: code, Enhanced: enhanced}
	case code == 0:
		return Failure{Temporary: true, Reason: noReply}
	}
	return Failure{Temporary: true, Code: code, Enhanced: enhanced}
}

// enhancedCode returns the RFC 3463 code that starts an SMTP reply text.
func enhancedCode(text string) string {
	code, _, _ := strings.Cut(text, " ")
	parts := strings.Split(code, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return ""
	}
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err != nil || len(p) > 3 {
			return ""
		}
	}
	return code
}

// beforeHandOver reports a failure from before the relay saw any of the
// message: MAIL FROM got 421 (the relay is closing, e.g. at its limit per
// connection) or no reply (a connection that died while idle).
func beforeHandOver(err error) bool {
	var se *stepError
	if !errors.As(err, &se) || se.step != atMail {
		return false
	}
	code := Classify(se.err).Code
	return code == 0 || code == 421
}

// IsConnectionError reports whether err means the connection is unusable
// (refused, reset, closed, timed out, 421, no reply to a command, cut
// mid-message) rather than a refusal of one message. Other errors keep the
// connection.
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	var me *Error
	if errors.As(err, &me) {
		return !me.Unsendable
	}
	var se *stepError
	if errors.As(err, &se) {
		return se.step == atContent || !isReply(se.err) || Classify(se.err).Code == 421
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code == 421
	}
	var ne net.Error
	var pe textproto.ProtocolError
	return errors.As(err, &ne) || errors.As(err, &pe) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// notSent wraps a failure from before the hand-over.
func notSent(err error) error {
	return &Error{Reason: "the relay could not be reached or refused the session; the message was not handed over", Err: err}
}
