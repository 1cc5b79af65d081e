package signup

import (
	"mime"
	"net/mail"
)

// misread reports whether a stored address is one NormalizeEmail would
// refuse or rewrite today: written in a shape (an encoded word, a display
// name, a comment, quotes) that mail software may read as another address.
func misread(stored string) bool {
	clean, msg := NormalizeEmail(stored)
	return msg != "" || clean != stored
}

// reaches is the address mail to a stored address may arrive at: its RFC
// 2047 encoded words decoded (as go-mail and some mail servers do), then
// read by net/mail (which drops display names, comments and angle brackets
// and unquotes local parts), then normalised. ok is false when that is no
// plain valid address, so nobody can tell where such mail goes.
func reaches(stored string) (addr string, ok bool) {
	decoded, err := new(mime.WordDecoder).DecodeHeader(stored)
	if err != nil {
		return "", false
	}
	a, err := mail.ParseAddress(decoded)
	if err != nil {
		return "", false
	}
	addr, msg := NormalizeEmail(a.Address)
	return addr, msg == ""
}
