package mailsend

import (
	"bufio"
	"bytes"
	"errors"
	"net/textproto"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// The mail transaction is ours, on the session go-mail opened (dial, TLS,
// EHLO, AUTH stay go-mail's): go-mail's own runs five round trips a
// message (MAIL, RCPT, DATA, the data, then an RSET nobody needs after a
// 250) and feeds the message through net/textproto's dot-writer a byte at
// a time. With PIPELINING (RFC 2920, offered by Postfix, Exim and every
// hosted relay we know) MAIL, RCPT and DATA go in one write and their
// replies are read together, so a message costs two round trips; the
// message is built once into a buffer and dot-stuffed a line at a time.
// go-mail exports the session's textproto.Conn for extensions like this.

// step is where in a transaction a failure happened; Classify and
// IsConnectionError read it.
type step int

const (
	atMail    step = iota // MAIL FROM: nothing of the message has gone yet
	atRcpt                // RCPT TO
	atDataCmd             // the DATA command
	atContent             // writing the message: the relay has part of it
	atEnd                 // the reply to the end of the data
)

var stepNames = [...]string{"MAIL FROM", "RCPT TO", "DATA", "message data", "end of data"}

// stepError is a refusal (a *textproto.Error) or a broken connection at
// one step of a transaction.
type stepError struct {
	step step
	err  error
}

func (e *stepError) Error() string { return stepNames[e.step] + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// wireBuffers hold messages as they go on the wire; one larger than
// maxPooled is left to the collector rather than kept.
var wireBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooled = 1 << 20

// wire is a message as it goes to the relay: its envelope, its bytes and
// the DKIM-Signature field written above them, when it is signed.
type wire struct {
	from      string
	rcpts     []string
	data      *bytes.Buffer
	signature string
}

// encode writes msg once, for every try of its transaction.
func encode(msg *gomail.Msg) (*wire, error) {
	from, err := msg.GetSender(false)
	if err != nil {
		return nil, &Error{Unsendable: true, Reason: "the message has no sender address", Err: err}
	}
	rcpts, err := msg.GetRecipients()
	if err != nil {
		return nil, &Error{Unsendable: true, Reason: "the message has no recipient address", Err: err}
	}
	buf := wireBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := msg.WriteTo(buf); err != nil {
		return nil, &Error{Unsendable: true, Reason: "the message could not be written", Err: err}
	}
	return &wire{from: from, rcpts: rcpts, data: buf}, nil
}

// release gives the buffer back for the next message.
func (w *wire) release() {
	if w.data.Cap() <= maxPooled {
		wireBuffers.Put(w.data)
	}
}

// transact runs one mail transaction on the open session. It returns nil
// once the relay answered the end of the data with 250, and leaves the
// session ready for the next MAIL, or closed.
func (c *Conn) transact(w *wire, utf8 bool) error {
	c.uses++
	err := c.exchange(w, utf8)
	c.lastUsed = time.Now()
	var se *stepError
	switch {
	case err == nil:
	case IsConnectionError(err):
		c.drop()
	case errors.As(err, &se) && se.step < atContent && c.sc.Reset() != nil:
		// A refusal before the data leaves a transaction open to clear.
		c.drop()
	}
	return err
}

// command is one line of a transaction and the reply code it wants
// (a prefix: 25 takes 250 and 251).
type command struct {
	line string
	want int
	step step
}

// exchange writes the transaction and reads its replies.
func (c *Conn) exchange(w *wire, utf8 bool) error {
	text := c.sc.Text
	_ = c.sc.UpdateDeadline(c.cfg.Timeout)
	mail := "MAIL FROM:" + w.from
	if ok, _ := c.sc.Extension("8BITMIME"); ok {
		mail += " BODY=8BITMIME"
	}
	if utf8 {
		mail += " SMTPUTF8"
	}
	cmds := []command{{mail, 250, atMail}}
	for _, r := range w.rcpts {
		cmds = append(cmds, command{"RCPT TO:" + r, 25, atRcpt})
	}
	cmds = append(cmds, command{"DATA", 354, atDataCmd})

	pipelining, _ := c.sc.Extension("PIPELINING")
	var refused *stepError
	dataOpen := false // DATA got its 354
	for i, cmd := range cmds {
		text.W.WriteString(cmd.line)
		text.W.WriteString("\r\n")
		if pipelining && i < len(cmds)-1 {
			continue
		}
		if err := text.W.Flush(); err != nil {
			return &stepError{cmds[0].step, err}
		}
		first := i
		if pipelining {
			first = 0
		}
		for _, sent := range cmds[first : i+1] {
			_, _, err := text.ReadResponse(sent.want)
			switch {
			case err == nil:
				dataOpen = sent.step == atDataCmd
			case !isReply(err) && refused != nil:
				return refused // a 421 closes the line: that reply is the news
			case !isReply(err):
				return &stepError{sent.step, err}
			case refused == nil:
				refused = &stepError{sent.step, err}
			}
		}
		if refused != nil && !pipelining {
			return refused
		}
	}
	if refused != nil {
		// A relay that answered 354 though a recipient was refused gets
		// an empty message, which it must refuse too.
		if dataOpen {
			if err := endData(text.W); err != nil {
				return &stepError{atContent, err}
			}
			_, _, _ = text.ReadResponse(250)
		}
		return refused
	}
	text.W.WriteString(w.signature) // one field: no line of it starts with a dot
	if err := writeDotStuffed(text.W, w.data.Bytes()); err != nil {
		return &stepError{atContent, err}
	}
	if err := endData(text.W); err != nil {
		return &stepError{atContent, err}
	}
	if _, _, err := text.ReadResponse(250); err != nil {
		return &stepError{atEnd, err}
	}
	return nil
}

// isReply says whether err is the relay's answer rather than a broken line.
func isReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}

// endData writes the line that ends the data (the data always ends in
// CRLF) and sends what is buffered.
func endData(w *bufio.Writer) error {
	w.WriteString(".\r\n")
	return w.Flush()
}

// writeDotStuffed writes data as SMTP message content (RFC 5321 4.5.2): a
// line that starts with a dot gets another, a bare LF becomes CRLF, and
// the content ends with CRLF.
func writeDotStuffed(w *bufio.Writer, data []byte) error {
	for len(data) > 0 {
		if data[0] == '.' {
			w.WriteByte('.')
		}
		line := data
		next := []byte(nil)
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, next = data[:i], data[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		w.Write(line)
		if _, err := w.WriteString("\r\n"); err != nil {
			return err
		}
		data = next
	}
	return nil
}
