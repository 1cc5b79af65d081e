package mailsend

import (
	"errors"
	"net"
	"net/textproto"
	"strconv"
	"strings"

	gomail "github.com/wneessen/go-mail"
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

// Classify reads a send error. Errors that carry no SMTP reply (network
// failures, timeouts) are temporary.
func Classify(err error) Failure {
	if err == nil {
		return Failure{}
	}
	var me *Error
	if errors.As(err, &me) {
		if me.Unsendable {
			return Failure{Unsendable: true, Reason: me.Reason}
		}
		f := Failure{NotSent: true, Temporary: true, Reason: me.Reason}
		var te *textproto.Error
		if errors.As(me.Err, &te) {
			f.Code = te.Code
		}
		return f
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch {
		case code >= 500:
			return Failure{Temporary: false, Code: code, Enhanced: se.EnhancedStatusCode()}
		case code >= 400:
			return Failure{Temporary: true, Code: code, Enhanced: se.EnhancedStatusCode()}
		}
		return Failure{Temporary: true, Code: code, Enhanced: se.EnhancedStatusCode()}
	}
	return Failure{Temporary: true}
}

// IsConnectionError reports whether err means the connection is unusable
// (refused, reset, closed, timed out) rather than a refusal of one message.
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch se.Reason {
		case gomail.ErrConnCheck, gomail.ErrSMTPReset:
			return true
		}
		return se.ErrorCode() == 0 || se.ErrorCode() == 421
	}
	return true
}
