package mailsend

import (
	"errors"
	"net"
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
}

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
